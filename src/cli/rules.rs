//! `rvu rules [--json]`: the validation rule catalog.

use std::io::Write;
use std::process::ExitCode;

use crate::stages::validate::{RULES, Severity};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, RULES)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        RULES.iter().try_for_each(|r| {
            let severity = match r.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(
                out,
                "{:<38} {:<8} {:<8} {}",
                r.id, severity, r.table, r.description
            )
        })
    };
    Ok(ExitCode::SUCCESS)
}
