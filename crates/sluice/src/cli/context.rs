//! The librdkafka client context of every CLI client. librdkafka's own log lines and background
//! errors go to stderr only when asked for with `-X debug=...`; otherwise the commands' output is
//! exactly what they print themselves (errors a person needs are reported by the commands).

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

#[derive(Debug, Clone, Copy)]
pub struct CliContext {
    verbose: bool,
}

impl CliContext {
    /// `verbose` shows librdkafka's log lines and background errors on stderr.
    pub fn new(verbose: bool) -> Self {
        CliContext { verbose }
    }
}

impl ClientContext for CliContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if self.verbose {
            eprintln!("librdkafka {level:?} {facility}: {message}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if self.verbose {
            eprintln!("librdkafka error: {error}: {reason}");
        }
    }
}

impl ConsumerContext for CliContext {}
