//! `cargo xtask`: the one entry point that takes a bare machine (rustup,
//! cargo, git) to a built, running and tested flowwatch.

mod bench;
mod build;
mod evaluate;
mod lint;
mod run;
mod setup;
mod test;
mod util;

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "flowwatch developer tasks", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check and install what is missing: nightly + rust-src, bpf-linker
    /// built against nightly's LLVM, Debian tools for tests, bpffs.
    Setup,
    /// Set up the toolchain and build the agent (with its eBPF programs).
    Build {
        #[arg(long)]
        release: bool,
    },
    /// rustfmt check, clippy on the host crates, clippy on agent-ebpf for bpfel.
    Lint,
    /// Set up, build (release unless --debug) and run flowwatch as root
    /// (through sudo -E when needed), e.g. `cargo xtask run -- run -i eth0`.
    Run {
        /// Build in release mode (the default; kept for symmetry with build).
        #[arg(long, conflicts_with = "debug")]
        release: bool,
        /// Build and run the debug binary instead.
        #[arg(long)]
        debug: bool,
        /// Arguments for the flowwatch binary.
        #[arg(last = true)]
        args: Vec<OsString>,
    },
    /// Set up, build the agent, run the whole test suite (release).
    Test {
        /// Extra arguments for `cargo test`, e.g. `-- -p models` or
        /// `-- -- --nocapture`.
        #[arg(last = true)]
        args: Vec<OsString>,
    },
    /// Proof tables (no root): model ROC/PR-AUC per attack capture and the
    /// detections each capture raises, against simulated and shared benign traffic.
    Evaluate {
        /// Also write both tables as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Run the benchmarks and print one table (root for the kernel and drain
    /// sections, which run unless `--only` leaves them out). Arguments after
    /// `--` go to flowwatch-bench, e.g. `-- --only drain --json out.json`.
    Bench {
        #[arg(last = true)]
        args: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::run(setup::Parts::ALL),
        Command::Build { release } => build::run(release),
        Command::Lint => lint::run(),
        Command::Run { release: _, debug, args } => run::run(!debug, &args),
        Command::Test { args } => test::run(&args),
        Command::Bench { args } => bench::run(&args),
        Command::Evaluate { json } => evaluate::run(json.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line, which is
            // where the actionable part of the message usually is.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn agent_args_pass_through_verbatim() -> Result<(), clap::Error> {
        let Command::Run { debug, args, .. } = parse(&["run", "--", "run", "-i", "eth0", "--flows", "-"])? else {
            panic!("not the run command");
        };
        assert!(!debug);
        assert_eq!(args, ["run", "-i", "eth0", "--flows", "-"]);
        Ok(())
    }

    #[test]
    fn test_args_keep_the_harness_separator() -> Result<(), clap::Error> {
        let Command::Test { args } = parse(&["test", "--", "-p", "models", "--", "--nocapture"])? else {
            panic!("not the test command");
        };
        assert_eq!(args, ["-p", "models", "--", "--nocapture"]);
        Ok(())
    }

    #[test]
    fn release_and_debug_conflict() {
        assert!(parse(&["run", "--release", "--debug"]).is_err());
    }
}
