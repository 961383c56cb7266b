//! The broker's shared state and its life cycle: open the data directory (recovering every log),
//! serve the listeners, and on shutdown stop accepting, flush and close every log.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::BrokerConfig;
use crate::fetch_session::FetchSessionCache;
use crate::flusher::Flusher;
use crate::group::GroupCoordinator;
use crate::producer_ids::ProducerIdAllocator;
use crate::record_validation::SchemaIdValidator;
use crate::topics::TopicRegistry;
use crate::txn::TransactionCoordinator;

pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub cluster_id: String,
    pub topics: TopicRegistry,
    pub producer_ids: ProducerIdAllocator,
    pub fetch_sessions: FetchSessionCache,
    pub flusher: Flusher,
    /// Consumer groups and committed offsets (group coordinator; see crate::group).
    pub groups: GroupCoordinator,
    /// Transactional ids and their transactions (transaction coordinator; see crate::txn).
    pub txns: TransactionCoordinator,
    /// Request, traffic and connection counters (see crate::metrics).
    pub metrics: crate::metrics::BrokerMetrics,
    /// The schema registry's answers for topics with schema id validation (set once it starts).
    pub schema_validator: OnceLock<Arc<dyn SchemaIdValidator>>,
    pub shutdown: CancellationToken,
}

/// Kafka's `meta.properties`: the identity of this node's data directory.
fn load_or_create_cluster_id(config: &BrokerConfig) -> std::io::Result<String> {
    let path = config.data_dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("cluster.id=")) {
            return Ok(id.trim().to_string());
        }
    }
    let cluster_id = config
        .cluster_id
        .clone()
        .unwrap_or_else(|| crate::ids::kafka_base64(uuid::Uuid::new_v4()));
    let content = format!(
        "#\n#Written by Sluice\nnode.id={}\ndirectory.id={}\nversion=1\ncluster.id={}\n",
        config.node_id,
        crate::ids::kafka_base64(uuid::Uuid::new_v4()),
        cluster_id
    );
    crate::persist::write_atomic(&path, content.as_bytes())?;
    Ok(cluster_id)
}

impl Broker {
    /// Opens the data directory and recovers every partition. Must run inside a Tokio runtime.
    pub fn open(config: BrokerConfig) -> std::io::Result<Arc<Broker>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let cluster_id = load_or_create_cluster_id(&config)?;
        let config = Arc::new(config);
        let meta_dir = config.data_dir.join("__sluice");
        std::fs::create_dir_all(&meta_dir)?;
        let topics = TopicRegistry::open(config.clone())?;
        // Group coordinator: replays __consumer_offsets, so it opens after the topics.
        let groups = GroupCoordinator::open(&config, &topics)?;
        // Transaction coordinator: replays __transaction_state.
        let txns = TransactionCoordinator::open(&config, &topics)?;
        Ok(Arc::new(Broker {
            producer_ids: ProducerIdAllocator::open(&meta_dir)?,
            fetch_sessions: FetchSessionCache::new(1000),
            flusher: Flusher::start(),
            shutdown: CancellationToken::new(),
            groups,
            txns,
            metrics: crate::metrics::BrokerMetrics::new(),
            schema_validator: OnceLock::new(),
            topics,
            cluster_id,
            config,
        }))
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Binds every listener. Separate from [`Broker::serve`] so callers know the ports are open.
    pub async fn bind(&self) -> std::io::Result<Vec<TcpListener>> {
        let mut out = Vec::new();
        for l in &self.config.listeners {
            let addr = l.socket_addr().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("cannot resolve {}", l.host),
                )
            })?;
            out.push(TcpListener::bind(addr).await?);
        }
        Ok(out)
    }

    /// Accepts connections until shutdown, then closes every log cleanly.
    pub async fn serve(self: Arc<Self>, listeners: Vec<TcpListener>) -> std::io::Result<()> {
        let mut tasks = vec![
            tokio::spawn(crate::background::flush_loop(self.clone())),
            tokio::spawn(crate::background::maintenance_loop(self.clone())),
            // Group coordinator deadlines (sessions, rebalances, offset retention).
            tokio::spawn(crate::group::run_timers(self.clone())),
            // Transaction completion after a crash, and timeouts.
            tokio::spawn(crate::txn::run_timers(self.clone())),
        ];
        for listener in listeners {
            tasks.push(tokio::spawn(crate::server::accept_loop(
                self.clone(),
                listener,
            )));
        }
        self.shutdown.cancelled().await;
        for t in tasks {
            t.abort();
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.topics.close_all())
            .await
            .map_err(std::io::Error::other)?;
        tracing::info!("shut down cleanly");
        Ok(())
    }

    /// The host and port clients are told to connect to for `listener_index`.
    pub fn advertised(&self) -> (String, i32) {
        let l = &self.config.advertised_listeners[0];
        let host = if l.host == "0.0.0.0" || l.host == "::" {
            "127.0.0.1".to_string()
        } else {
            l.host.clone()
        };
        (host, l.port as i32)
    }
}
