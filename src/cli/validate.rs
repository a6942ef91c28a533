//! `rvu validate PATH [--prior ID|PATH] [--format text|json|markdown|junit] [--output DIR]`:
//! checks a release (a CMS zip or folder, a published release folder, or a published release
//! id) against the rule catalog. Exit 0 without errors, 1 with errors, 2 when unreadable.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::EXIT_DATA;
use crate::catalog::ReleaseId;
use crate::report;
use crate::stages::normalize::{self, Normalized};
use crate::stages::validate::{Subject, validate};
use crate::stages::{extract, publish};
use crate::tables::{Table, TableKind};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A release zip or folder from CMS, a published release folder, or a published release id.
    pub path: String,
    /// The release to compare with: a published release id or folder.
    #[arg(long)]
    pub prior: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Output root where published releases are looked up.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
    /// Release id for CMS files that do not tell it.
    #[arg(long)]
    pub release: Option<ReleaseId>,
}

/// A release to validate, as read.
enum Loaded {
    Cms(Box<Normalized>),
    Published(ReleaseId, BTreeMap<TableKind, Table>),
}

impl Loaded {
    fn subject(&self) -> Subject<'_> {
        match self {
            Loaded::Cms(n) => Subject::from_normalized(n),
            Loaded::Published(id, tables) => Subject::from_tables(*id, tables),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let current = load(&args.path, &args.output, args.release)?;
    let prior = match &args.prior {
        Some(p) => Some(load_published(p, &args.output)?),
        None => None,
    };
    let report = validate(
        &current.subject(),
        prior.as_ref().map(Loaded::subject).as_ref(),
    );
    let text = match args.format {
        OutputFormat::Text => report::validation::text(&report),
        OutputFormat::Json => report::validation::json(&report),
        OutputFormat::Markdown => report::validation::markdown(&report),
        OutputFormat::Junit => report::validation::junit(&report),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DATA)
    })
}

fn load(path: &str, output: &Path, release: Option<ReleaseId>) -> anyhow::Result<Loaded> {
    if let Some(published) = published_folder(path, output) {
        return load_published(&published.display().to_string(), output);
    }
    let path = Path::new(path);
    let extracted = extract::extract(path, &extract::Limits::default())?;
    let options = normalize::Options {
        release,
        // Disagreements between formats become findings of format.agree, not an abort.
        allow_format_mismatch: true,
        ..normalize::Options::default()
    };
    Ok(Loaded::Cms(Box::new(normalize::normalize(
        &extracted, path, &options,
    )?)))
}

fn load_published(path: &str, output: &Path) -> anyhow::Result<Loaded> {
    let dir = published_folder(path, output)
        .ok_or_else(|| anyhow::anyhow!("{path}: not a published release (id or folder)"))?;
    let (id, tables) = publish::load_release(&dir)?;
    Ok(Loaded::Published(id, tables))
}

/// A published release folder: the path itself (holding ingest.json), or OUTPUT/releases/ID.
fn published_folder(path: &str, output: &Path) -> Option<PathBuf> {
    let as_path = Path::new(path);
    if as_path.join("ingest.json").is_file() {
        return Some(as_path.to_path_buf());
    }
    let id: ReleaseId = path.parse().ok()?;
    let dir = output.join("releases").join(id.to_string());
    dir.is_dir().then_some(dir)
}
