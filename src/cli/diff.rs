//! `rvu diff A B [--output DIR] [--no-cpt-descriptions]`: what changed from release A to B.
//! A and B are release ids published under DIR, published release folders, or CMS zips or
//! folders. The result goes to DIR/changes/<A>..<B>/.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::catalog::ReleaseId;
use crate::report::changes::{self, ReportOptions};
use crate::stages::diff::{self, Loaded, ReleaseInfo};
use crate::stages::{extract, normalize};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier release: a published id (RVU25A), a published folder, or a CMS zip/folder.
    pub from: String,
    /// The later release, likewise.
    pub to: String,
    /// Output root: published releases are looked up here, changes are written here.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
    /// Leave CPT (AMA) and CDT (ADA) descriptions out of the reports.
    #[arg(long)]
    pub no_cpt_descriptions: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let from = load(&args.from, &args.output)?;
    let to = load(&args.to, &args.output)?;
    let diff = diff::diff(&from.side(), &to.side());
    let options = ReportOptions {
        cpt_descriptions: !args.no_cpt_descriptions,
        ..Default::default()
    };
    let folder = changes::write(&args.output, &diff, &from.side(), &to.side(), &options)?;
    for (kind, summary) in &diff.tables {
        println!(
            "{:<8} {:>6} added  {:>6} deleted  {:>6} changed",
            kind.name(),
            summary.added,
            summary.deleted,
            summary.changed
        );
    }
    println!("{}", folder.join("report.html").display());
    Ok(ExitCode::SUCCESS)
}

/// Reads a release: published (id or folder, with its ingest.json facts) or from CMS files.
pub fn load(what: &str, output: &Path) -> anyhow::Result<Loaded> {
    let as_path = Path::new(what);
    let published = if as_path.join("ingest.json").is_file() {
        Some(as_path.to_path_buf())
    } else {
        what.parse::<ReleaseId>()
            .ok()
            .map(|id| output.join("releases").join(id.to_string()))
            .filter(|dir| dir.is_dir())
    };
    if let Some(dir) = published {
        let (id, tables) = crate::published::load_release(&dir)?;
        let info = crate::published::release_info(&dir, id);
        return Ok(Loaded { id, info, tables });
    }
    let extracted = extract::extract(as_path, &extract::Limits::default())?;
    let options = normalize::Options {
        allow_format_mismatch: true,
        ..normalize::Options::default()
    };
    let normalized = normalize::normalize(&extracted, as_path, &options)?;
    let info = ReleaseInfo {
        release_id: normalized.release_id.to_string(),
        released: normalized.released.clone(),
        source: Some(extracted.source.clone()),
        sha256: extracted.archive.as_ref().map(|(_, sha)| sha.clone()),
    };
    Ok(Loaded {
        id: normalized.release_id,
        info,
        tables: normalized
            .tables
            .into_iter()
            .map(|(k, t)| (k, t.table))
            .collect(),
    })
}
