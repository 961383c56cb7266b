//! `sluice serve`: layer the settings, open the data directory, serve until SIGINT/SIGTERM.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use sluice_broker::{Broker, BrokerConfig};

use crate::settings;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// TOML file of Kafka-named settings (e.g. `num.partitions = 3`).
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (Kafka's `log.dirs`).
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Listeners, e.g. PLAINTEXT://127.0.0.1:9092 (Kafka's `listeners`).
    #[arg(long)]
    pub listeners: Option<String>,
    /// Addresses given to clients, if different (Kafka's `advertised.listeners`).
    #[arg(long)]
    pub advertised_listeners: Option<String>,
    /// Node id (Kafka's `node.id`).
    #[arg(long)]
    pub node_id: Option<i32>,
    /// Acknowledge writes only after they are fsynced (group commit).
    #[arg(long)]
    pub durable: bool,
    /// Any broker setting by its Kafka name, e.g. `--set num.partitions=6`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

fn layered(args: &ServeArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let mut s = BTreeMap::new();
    if let Some(path) = &args.config {
        s.extend(settings::from_toml_file(path)?);
    }
    s.extend(settings::from_env(std::env::vars()));
    s.extend(settings::from_pairs(&args.set)?);
    let flags = [
        ("log.dirs", args.data_dir.clone()),
        ("listeners", args.listeners.clone()),
        ("advertised.listeners", args.advertised_listeners.clone()),
        ("node.id", args.node_id.map(|n| n.to_string())),
        ("sluice.durable", args.durable.then(|| "true".to_string())),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            s.insert(k.to_string(), v);
        }
    }
    Ok(s)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = BrokerConfig::from_settings(&layered(&args)?)?;
    // One worker thread per core this process may run on (tokio's default: the CPU affinity and
    // cgroup quota count; TOKIO_WORKER_THREADS overrides). Pinned to one core, a second worker
    // only adds hand-offs between the two: at 62k msgs/s end to end (4 alternated pairs) it cost
    // 18 % more broker CPU per GB and 0.07 ms of p50.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let broker = Broker::open(config).context("opening the data directory")?;
        // HTTP listeners bind before the Kafka ones: a client that sees the Kafka port open can
        // rely on every other port being open too.
        let http = bind_http(
            "http.listeners",
            &broker.config.http_listeners,
            broker.config.http_listeners_explicit,
        )
        .await?;
        let registry = bind_http(
            "schema.registry.listeners",
            &broker.config.schema_registry_listeners,
            broker.config.schema_registry_listeners_explicit,
        )
        .await?;
        let listeners = broker.bind().await.context("binding the listeners")?;
        let addrs: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        let http_addrs = local_addrs(&http);
        let registry_addrs = local_addrs(&registry);
        for l in http {
            let router = sluice_http::router(broker.clone());
            tokio::spawn(sluice_http::serve(l, router, broker.shutdown.clone()));
        }
        for l in registry {
            let router = sluice_schema::router(broker.clone());
            // Topics with confluent.*.schema.validation check produced ids against it.
            sluice_schema::validation::install(&broker);
            tokio::spawn(sluice_schema::serve(l, router, broker.shutdown.clone()));
        }
        tracing::info!(
            listeners = ?addrs,
            http = ?http_addrs,
            schema_registry = ?registry_addrs,
            data_dir = %broker.data_dir().display(),
            cluster_id = %broker.cluster_id,
            durable = broker.config.durable,
            startup_ms = started.elapsed().as_millis() as u64,
            "sluice is ready"
        );
        let shutdown = broker.shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            shutdown.cancel();
        });
        broker.serve(listeners).await?;
        anyhow::Ok(())
    })
}

fn local_addrs(listeners: &[tokio::net::TcpListener]) -> Vec<String> {
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.to_string())
        .collect()
}

/// Binds the HTTP listeners of one service. A default address that is taken (say, another
/// program on 8080) only costs that service, with a warning; an address the user chose must
/// work, so failing to bind it stops start-up.
async fn bind_http(
    key: &str,
    listeners: &[sluice_broker::config::Listener],
    explicit: bool,
) -> anyhow::Result<Vec<tokio::net::TcpListener>> {
    let mut out = Vec::new();
    for l in listeners {
        let addr = l
            .socket_addr()
            .with_context(|| format!("{key}: cannot resolve {}", l.host))?;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => out.push(listener),
            Err(e) if !explicit => {
                tracing::warn!(%addr, error = %e, "{key}: default address unavailable; set {key} to move it or to an empty value to turn it off");
            }
            Err(e) => return Err(e).with_context(|| format!("{key}: binding {addr}")),
        }
    }
    Ok(out)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
