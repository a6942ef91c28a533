//! The `rvu` command line: one file per command; this file only declares and dispatches.

pub mod fixtures;
pub mod ingest;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;

/// Exit codes, documented in the README.
pub const EXIT_OK: u8 = 0;
pub const EXIT_DATA: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "rvu",
    version,
    about = "CMS PFS Relative Value Files into canonical datasets"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Normalize a release zip or folder into the canonical datasets under OUTPUT/releases/ID.
    Ingest(ingest::Args),
    /// Regenerate the synthetic fixture releases (what `fixtures/` holds).
    Fixtures(fixtures::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Fixtures(args) => fixtures::run(args),
    }
}

/// Data problems exit 1; anything about the environment or the call exits 2.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Error>() {
        Some(Error::Io { .. }) | Some(Error::Release(_)) | Some(Error::Output { .. }) => EXIT_USAGE,
        Some(_) => EXIT_DATA,
        None => EXIT_USAGE,
    }
}

/// Warnings to stderr; `RUST_LOG` tunes it.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
