//! `rvu fetch [IDS...] [--since ID] [--index-url URL] [--offline] --output DIR`: downloads the
//! release zips into DIR/raw/ (once each, by sha256) and records every version in
//! DIR/raw/catalog.json.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{EXIT_DATA, NetArgs, runtime};
use crate::catalog::ReleaseId;
use crate::http;
use crate::stages::discover::{self, DiscoveredRelease};
use crate::stages::fetch::{self, Outcome, Status};
use crate::store::{self, Catalog};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Releases to fetch (RVU25A ...); all discovered releases when none is named.
    pub ids: Vec<ReleaseId>,
    /// Only releases from this one on (RVU24A includes RVU24AR, RVU24B, ...).
    #[arg(long)]
    pub since: Option<ReleaseId>,
    /// Output root; zips go to OUTPUT/raw/.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
    /// Use only what is already in OUTPUT/raw/ and say what is missing.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub net: NetArgs,
    /// Print the outcomes as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.offline {
        return offline(&args);
    }
    let index = http::parse_location(&args.net.index_url)?;
    let options = args.net.options();
    let runtime = runtime()?;
    let discovered = runtime
        .block_on(discover::discover(&index, &options))?
        .releases;
    let found: Vec<ReleaseId> = discovered.iter().map(|r| r.id).collect();
    let unmet = discover::unmet(&found, args.since, &args.ids);
    for warning in &unmet.warnings {
        tracing::warn!("{warning} on the index pages (see `rvu releases`)");
    }
    let selected = select(&discovered, &args.ids, args.since);
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let outcomes = runtime.block_on(fetch::fetch_all(
        &selected,
        &args.output,
        &options,
        show_progress,
    ))?;
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, &outcomes)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        write_outcomes(&mut out, &outcomes)
    };
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.status, Status::Failed { .. }));
    Ok(if failed || !unmet.missing.is_empty() {
        ExitCode::from(EXIT_DATA)
    } else {
        ExitCode::SUCCESS
    })
}

/// The releases asked for (those the pages list; the others are warned about).
fn select(
    discovered: &[DiscoveredRelease],
    ids: &[ReleaseId],
    since: Option<ReleaseId>,
) -> Vec<DiscoveredRelease> {
    discovered
        .iter()
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .filter(|r| since.is_none_or(|s| r.id >= s))
        .cloned()
        .collect()
}

fn write_outcomes(out: &mut impl Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    let mut counts = [0usize; 4];
    for o in outcomes {
        let (slot, what) = match &o.status {
            Status::New => (0, format!("new, version {}", o.version.unwrap_or(1))),
            Status::NewVersion { previous_sha256 } => (
                1,
                format!(
                    "RE-POSTED: new version {} (was sha256 {})",
                    o.version.unwrap_or(0),
                    short(previous_sha256)
                ),
            ),
            Status::Unchanged => (2, "unchanged".to_string()),
            Status::Failed { error } => (3, format!("FAILED: {error}")),
        };
        counts[slot] += 1;
        let sha = o.sha256.as_deref().map(short).unwrap_or_default();
        writeln!(out, "{:<8} {:<12} {what}", o.id.to_string(), sha)?;
    }
    writeln!(
        out,
        "{} new, {} new versions, {} unchanged, {} failed",
        counts[0], counts[1], counts[2], counts[3]
    )
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// `--offline`: report what the raw store holds for the asked releases, and what it lacks.
fn offline(args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&args.output)?;
    let wanted: Vec<ReleaseId> = if args.ids.is_empty() {
        catalog.releases.keys().copied().collect()
    } else {
        args.ids.clone()
    };
    let wanted: Vec<ReleaseId> = wanted
        .into_iter()
        .filter(|id| args.since.is_none_or(|s| *id >= s))
        .collect();
    let mut out = std::io::stdout().lock();
    let mut missing = Vec::new();
    for id in &wanted {
        match catalog
            .latest(id)
            .map(|v| (v, store::raw_zip(&args.output, &v.sha256)))
            .filter(|(_, path)| path.is_file())
        {
            Some((version, path)) => {
                let _ = writeln!(
                    out,
                    "{:<8} version {} {}",
                    id.to_string(),
                    version.version,
                    path.display()
                );
            }
            None => missing.push(id.to_string()),
        }
    }
    if wanted.is_empty() {
        let _ = writeln!(out, "nothing fetched yet in {}", args.output.display());
    }
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: offline, and not in {}: {}",
        store::raw_dir(&args.output).display(),
        missing.join(", ")
    );
    Ok(ExitCode::from(EXIT_DATA))
}
