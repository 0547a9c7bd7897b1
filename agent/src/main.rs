//! The `flowwatch` binary: arguments, logging, dispatch.

use agent::{
    cli::{Cli, Command},
    commands,
};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Err(err) = cli.check() {
        err.exit();
    }
    init_logging(cli.verbose);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Run(args) => commands::run::run(args).await,
            Command::Replay(args) => commands::replay::run(args).await,
            Command::Simulate(args) => commands::simulate::run(&args),
            Command::Train(args) => commands::train::run(args).await,
            Command::Evaluate(args) => commands::evaluate::run(args),
            Command::Top(args) => commands::top::run(&args),
        }
    })
}
