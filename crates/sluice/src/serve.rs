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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let broker = Broker::open(config).context("opening the data directory")?;
        let listeners = broker.bind().await.context("binding the listeners")?;
        let addrs: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        tracing::info!(
            listeners = ?addrs,
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

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
