//! `sluice-bench`: the load generator. See `sluice-bench --help` and docs/benchmarks.md.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = sluice_bench::bench::args::Args::parse();
    match sluice_bench::bench::run(args) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("sluice-bench: error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
