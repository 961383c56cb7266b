//! The `sluice` binary: one command to run the broker (`serve`) and a Kafka-protocol CLI
//! (`topic`, `produce`, `consume`) that works against Sluice or any Kafka-compatible cluster.

mod cli;
mod serve;
mod settings;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "A Kafka-compatible streaming platform in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (Kafka listener on 127.0.0.1:9092, data under ./sluice-data by default).
    Serve(serve::ServeArgs),
    /// Create, list, describe, alter and delete topics.
    #[command(subcommand)]
    Topic(cli::topic::TopicCommand),
    /// Produce records read from stdin, one per line.
    Produce(cli::produce::ProduceArgs),
    /// Consume records and print them to stdout.
    Consume(cli::consume::ConsumeArgs),
    /// List, describe (members, offsets, lag), delete consumer groups and reset their offsets.
    #[command(subcommand)]
    Group(cli::group::GroupCommand),
    /// List, get, register, check and delete schemas in the schema registry (REST API).
    #[command(subcommand)]
    Schema(cli::schema::SchemaCommand),
    /// List open transactions and describe transactional ids.
    #[command(subcommand)]
    Txn(cli::txn::TxnCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Topic(cmd) => cli::block_on(cli::topic::run(cmd)),
        Command::Produce(args) => cli::block_on(cli::produce::run(args)),
        Command::Consume(args) => cli::block_on(cli::consume::run(args)),
        Command::Group(cmd) => cli::block_on(cli::group::run(cmd)),
        Command::Schema(cmd) => cli::schema::run(cmd),
        Command::Txn(cmd) => cli::block_on(cli::txn::run(cmd)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
