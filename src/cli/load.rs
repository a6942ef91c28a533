//! `rvu load [CONNECTION] [--schema rvu] [--output DIR] [--release ID...] [--json]`: the
//! published releases, payments, history and `codes` into PostgreSQL.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::runtime;
use crate::catalog::ReleaseId;
use crate::sink::postgres::{self, LoadReport, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `postgres://USER@HOST[:PORT]/DB` or `key=value` pairs; without it `DATABASE_URL`, then
    /// `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`. Put the password in
    /// `PGPASSWORD` rather than on the command line.
    pub connection: Option<String>,
    /// The schema holding the tables (created when missing).
    #[arg(long, default_value = "rvu")]
    pub schema: String,
    /// Output root holding the published releases.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
    /// Only these releases (every published release by default).
    #[arg(long = "release")]
    pub releases: Vec<ReleaseId>,
    /// Also load releases published despite validation errors.
    #[arg(long)]
    pub allow_invalid: bool,
    /// Print what was loaded as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let target = Target::new(args.connection.as_deref(), &args.schema)?;
    let report = runtime()?.block_on(postgres::load(
        &target,
        &args.output,
        &args.releases,
        args.allow_invalid,
    ))?;
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        write_text(&mut out, &report)
    };
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, report: &LoadReport) -> std::io::Result<()> {
    for r in &report.releases {
        let rows: u64 = r.rows.values().sum();
        if r.action == "unchanged" {
            writeln!(
                out,
                "{} revision {}: unchanged, already loaded",
                r.release_id, r.revision
            )?;
        } else {
            writeln!(
                out,
                "{} revision {}: {} ({rows} rows in {:.2} s)",
                r.release_id, r.revision, r.action, r.seconds
            )?;
        }
    }
    writeln!(out, "history and codes: {}", report.history)?;
    writeln!(
        out,
        "{} schema {} in {:.2} s",
        report.target, report.schema, report.seconds
    )
}
