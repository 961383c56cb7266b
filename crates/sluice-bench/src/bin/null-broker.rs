//! `null-broker`: a Kafka-protocol sink that sets the benchmark ceiling. See `null-broker --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = sluice_bench::null_broker::Args::parse();
    match sluice_bench::null_broker::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("null-broker: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
