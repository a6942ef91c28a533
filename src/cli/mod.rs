//! The `rvu` command line: one file per command; this file only declares and dispatches.

pub mod diff;
pub mod export;
pub mod fetch;
pub mod fixtures;
pub mod ingest;
pub mod load;
pub mod lookup;
pub mod releases;
pub mod rules;
pub mod run;
pub mod validate;

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
    /// Run a pipeline definition: every stage for every new release version.
    Run(run::Args),
    /// Normalize a release zip or folder into the canonical datasets under OUTPUT/releases/ID.
    Ingest(ingest::Args),
    /// List every release on the CMS index page (following its links).
    Releases(releases::Args),
    /// Download release zips into OUTPUT/raw/, once each, recording versions in its catalog.
    Fetch(fetch::Args),
    /// A code's RVUs, status and payment from the published datasets.
    Lookup(lookup::Args),
    /// Load the published releases, payments, history and codes into PostgreSQL.
    Load(load::Args),
    /// A published release as a file for people (`rvu export xlsx RELEASE`).
    Export(export::Args),
    /// What changed between two releases: change data and reports in OUTPUT/changes/A..B/.
    Diff(diff::Args),
    /// Check a release against the rule catalog (exit 1 on errors).
    Validate(validate::Args),
    /// List the validation rules.
    Rules(rules::Args),
    /// Regenerate the synthetic fixture releases (what `fixtures/` holds); for developers,
    /// so it is left out of `--help`.
    #[command(hide = true)]
    Fixtures(fixtures::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Releases(args) => releases::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Lookup(args) => lookup::run(args),
        Command::Load(args) => load::run(args),
        Command::Export(args) => export::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Fixtures(args) => fixtures::run(args),
    }
}

/// Data problems exit 1; anything about the environment or the call exits 2.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Error>() {
        Some(
            Error::Io { .. }
            | Error::Release(_)
            | Error::Output { .. }
            | Error::Locked { .. }
            | Error::Definition { .. }
            | Error::Database { .. }
            | Error::Fetch { .. },
        ) => EXIT_USAGE,
        Some(_) => EXIT_DATA,
        None => EXIT_USAGE,
    }
}

/// `--locality MAC-LOCALITY` (01112-54), with the zeros a typed `1112-54` lost.
pub fn parse_locality(text: &str) -> anyhow::Result<(String, String)> {
    let (mac, loc) = text
        .split_once('-')
        .ok_or_else(|| anyhow::anyhow!("--locality takes MAC-LOCALITY, like 01112-54"))?;
    Ok((format!("{:0>5}", mac.trim()), format!("{:0>2}", loc.trim())))
}

/// The HTTP knobs every network command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// The CMS index page (a URL, a file:// URL or a local HTML file).
    #[arg(long, default_value = crate::stages::discover::CMS_INDEX_URL)]
    pub index_url: String,
    /// Seconds to wait to connect, and between body chunks, before a retry.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Retries after a timeout, a reset, a 5xx or a broken body (never after a 4xx).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Downloads at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// First retry delay in milliseconds (doubling, with jitter).
    #[arg(long, default_value_t = 500)]
    pub backoff_ms: u64,
}

impl NetArgs {
    pub fn options(&self) -> crate::http::HttpOptions {
        crate::pipeline::definition::Http {
            timeout_secs: self.timeout,
            retries: self.retries,
            jobs: self.jobs,
            backoff_ms: self.backoff_ms,
        }
        .options()
    }
}

/// A runtime for the network commands; parsing stays on plain threads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

impl Cli {
    /// Whether logs should be JSON lines (`rvu run --json`, for CI).
    pub fn json_logs(&self) -> bool {
        matches!(&self.command, Command::Run(args) if args.json)
    }
}

/// Log lines to stderr: warnings on a terminal (where progress bars show the rest), and
/// progress lines too when stderr is a file or a CI log. `RUST_LOG` overrides.
pub fn init_logging(json: bool) {
    let default = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        "warn"
    } else {
        "warn,rvu_pipeline=info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    if json {
        let _ = tracing_subscriber::fmt()
            .json()
            .log_internal_errors(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init();
        return;
    }
    // A log reader that went away (`2>&1 | head`) must not turn into a panic.
    let _ = tracing_subscriber::fmt()
        .log_internal_errors(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
