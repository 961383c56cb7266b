//! The null broker: a Kafka-protocol server that does no storage work. Produce is acknowledged
//! at once with increasing offsets; with `--retain-mb` the newest data of each partition stays
//! in memory and Fetch serves it. Run against it, the load generator measures the ceiling set
//! by the client, loopback TCP and the shared CPU, and real brokers are quoted as a ratio to it.
//!
//! It answers ApiVersions, Metadata (any topic exists, with `--partitions` partitions unless
//! created otherwise, this node leading all), Produce, Fetch, ListOffsets, CreateTopics,
//! InitProducerId and FindCoordinator. It checks batch structure but not CRCs, keeps no
//! timestamps, and has no groups, transactions or persistence.

mod apis;
mod batch;
mod connection;
mod state;

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

use state::{Broker, Config};

#[derive(Parser, Debug)]
#[command(
    name = "null-broker",
    version,
    about = "A Kafka-protocol sink that acknowledges at once: the benchmark ceiling"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: String,

    /// host:port clients are told to connect to (default: the listening address).
    #[arg(long)]
    pub advertise: Option<String>,

    /// Partitions of topics created implicitly or without a count.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,

    /// MiB of the newest produced data each partition keeps in memory for Fetch (0: none; then
    /// consumers find nothing to read).
    #[arg(long, default_value_t = 0)]
    pub retain_mb: usize,

    /// Node id reported in Metadata.
    #[arg(long, default_value_t = 1)]
    pub node_id: i32,

    /// Tokio worker threads (default: one per available core).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    rt.build()?.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    let advertised = args.advertise.clone().unwrap_or_else(|| local.to_string());
    let (host, port) = advertised
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<i32>().ok()?)))
        .with_context(|| format!("--advertise must be host:port, not {advertised:?}"))?;
    let broker = Arc::new(Broker::new(Config {
        node_id: args.node_id,
        host,
        port,
        default_partitions: args.partitions.max(1),
        retain_bytes: args.retain_mb * 1024 * 1024,
    }));
    eprintln!(
        "null-broker: listening on {local}, advertising {advertised}, retaining {} MiB per partition",
        args.retain_mb
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let broker = broker.clone();
        tokio::spawn(async move {
            // A client going away mid-request is normal here; nothing to report.
            let _ = connection::serve(&broker, stream).await;
        });
    }
}
