//! How every client command finds the cluster: the shared `--bootstrap-server` / `-X` flags, the
//! librdkafka configuration built from them, and the first metadata round trip that tells an
//! unreachable broker ("cannot reach broker at X") apart from everything else.

use std::time::Duration;

use rdkafka::client::{Client, ClientContext};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::{Metadata, MetadataTopic};
use rdkafka::ClientConfig;

use super::context::CliContext;
use super::error::CliError;

// Flags shared by `topic`, `produce` and `consume`. (A plain comment: clap would show a doc
// comment here as the about text of every command that flattens these flags.)
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Broker(s) to bootstrap from: host:port[,host:port...].
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "SLUICE_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT"
    )]
    pub bootstrap_server: String,

    /// A librdkafka client property (repeatable), e.g. -X security.protocol=ssl.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub properties: Vec<(String, String)>,

    /// How long to wait for a broker to answer before giving up.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub connect_timeout_ms: u64,
}

impl ConnectionArgs {
    /// librdkafka configuration: the bootstrap servers, then `defaults` for this command, then the
    /// user's `-X` properties, which win over both.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// The bounded wait for any one round trip to the cluster.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// Metadata for every topic, proving the cluster is reachable. Asking for all topics never
    /// makes the broker auto-create one, unlike asking for a single name.
    pub fn cluster_metadata<C: ClientContext>(
        &self,
        client: &Client<C>,
    ) -> Result<Metadata, CliError> {
        client
            .fetch_metadata(None, self.timeout())
            .map_err(|err| self.metadata_error(&err, None))
    }

    /// Maps a failed metadata request: transport failures and timeouts mean the broker is
    /// unreachable; anything else is reported by its Kafka error name.
    pub fn metadata_error(&self, err: &KafkaError, topic: Option<&str>) -> CliError {
        match err {
            KafkaError::MetadataFetch(
                RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve,
            ) => CliError::Unreachable {
                bootstrap: self.bootstrap_server.clone(),
                waited_ms: self.connect_timeout_ms,
            },
            other => CliError::from_kafka("fetching metadata", topic, other),
        }
    }
}

/// Builds a client from `config`, turning a bad `-X` property into a readable error. Setting
/// librdkafka's `debug` property (`-X debug=...`) also shows its log lines on stderr.
pub fn create_client<T: FromClientConfigAndContext<CliContext>>(
    config: &ClientConfig,
) -> Result<T, CliError> {
    let verbose = config.get("debug").is_some_and(|value| !value.is_empty());
    config
        .create_with_context(CliContext::new(verbose))
        .map_err(|err| CliError::Invalid(format!("invalid client configuration: {err}")))
}

/// The named topic in `metadata`, or [`CliError::UnknownTopic`].
pub fn find_topic<'m>(metadata: &'m Metadata, name: &str) -> Result<&'m MetadataTopic, CliError> {
    metadata
        .topics()
        .iter()
        .find(|topic| topic.name() == name)
        .filter(|topic| topic_error(topic).is_none())
        .ok_or_else(|| CliError::UnknownTopic(name.to_owned()))
}

/// The error the cluster reported for a topic's metadata, if any.
pub fn topic_error(topic: &MetadataTopic) -> Option<RDKafkaErrorCode> {
    topic.error().map(RDKafkaErrorCode::from)
}

/// Parses `KEY=VALUE` (the value may itself contain `=`).
pub fn parse_key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {raw:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_splits_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("sasl.jaas.config=a=b"),
            Ok(("sasl.jaas.config".to_owned(), "a=b".to_owned()))
        );
        assert_eq!(
            parse_key_value("linger.ms="),
            Ok(("linger.ms".to_owned(), String::new()))
        );
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=x").is_err());
    }
}
