//! `rvu validate PATH [--prior ID|PATH | --against-latest] [--format text|json|markdown|junit]
//! [--markdown FILE] [--junit FILE] [--output DIR]`: checks a release (a CMS zip or folder, its
//! http(s) URL, a published release folder, or a published release id) against the rule
//! catalog. Exit 0 without errors, 1 with errors, 2 when unreadable. Nothing is published.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::EXIT_DATA;
use crate::catalog::ReleaseId;
use crate::report;
use crate::stages::extract;
use crate::stages::normalize::{self, Normalized};
use crate::stages::validate::{Subject, validate};
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
    #[arg(long, conflicts_with = "against_latest")]
    pub prior: Option<String>,
    /// Compare with the latest release published under OUTPUT before this one.
    #[arg(long)]
    pub against_latest: bool,
    /// Also write the report as Markdown to this file (a CI job summary).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write the report as JUnit XML to this file (CI test results).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
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
    let downloaded = download_if_url(&args.path)?;
    let path = downloaded
        .as_ref()
        .map_or(args.path.clone(), |d| d.file.display().to_string());
    let current = load(&path, &args.output, args.release);
    drop(downloaded);
    let current = current?;
    let prior = match (&args.prior, args.against_latest) {
        (Some(p), _) => Some(load_published(p, &args.output)?),
        (None, true) => {
            let id = current.subject().release_id;
            crate::published::prior_release(&args.output, id)
                .map(|(_, dir)| load_published(&dir.display().to_string(), &args.output))
                .transpose()?
        }
        (None, false) => None,
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
    for (file, body) in [
        (&args.markdown, report::validation::markdown(&report)),
        (&args.junit, report::validation::junit(&report)),
    ] {
        if let Some(file) = file {
            std::fs::write(file, body).map_err(|e| crate::error::Error::io(file, e))?;
        }
    }
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DATA)
    })
}

/// A release zip fetched from an http(s) URL into a temporary folder (removed on drop).
struct Download {
    dir: PathBuf,
    file: PathBuf,
}

impl Drop for Download {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn download_if_url(path: &str) -> anyhow::Result<Option<Download>> {
    if !(path.starts_with("http://") || path.starts_with("https://")) {
        return Ok(None);
    }
    let url = crate::http::parse_location(path)?;
    let options = crate::http::HttpOptions::default();
    let client = crate::http::client(&options)?;
    let limit = extract::Limits::default().max_total_bytes;
    let bytes =
        super::runtime()?.block_on(crate::http::get_bytes(&client, &options, &url, limit))?;
    let dir = std::env::temp_dir().join(format!("rvu-download-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::error::Error::io(&dir, e))?;
    // The URL's path names the file, so its RVUyyQ hints at the release.
    let name: String = url
        .path()
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = dir.join(if name.ends_with(".zip") {
        name
    } else {
        format!("{name}.zip")
    });
    let download = Download { dir, file };
    std::fs::write(&download.file, bytes)
        .map_err(|e| crate::error::Error::io(&download.file, e))?;
    Ok(Some(download))
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
    let (id, tables) = crate::published::load_release(&dir)?;
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
