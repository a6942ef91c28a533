//! `rvu run`: a pipeline definition run end to end. For each release the source offers
//! (oldest first): discover, fetch, then [`release::process`] (extract, normalize, validate,
//! diff, publish, history).
//!
//! Only new work is done: every release version (a downloaded zip's sha256, or a local
//! path's file names, sizes and modification times) has a state record under
//! `OUTPUT/.rvu/state/`, written as each stage starts, so a version already published is
//! skipped without being read and a run that died resumes where it stopped (durable work,
//! the download, the published release and the history, is not redone). A release that
//! fails on its data is quarantined (`OUTPUT/quarantine/`) with its reason, and the others go
//! on. One run at a time per output folder ([`lock`]).

pub mod definition;
pub mod lock;
pub mod release;
mod state;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::catalog::ReleaseId;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::stages::discover::{self, DiscoveredRelease};
use crate::stages::fetch::{self, Status};
use crate::stages::normalize;
use definition::{Definition, ReportFormat, Source};
use lock::OutputLock;
use release::{Failure, Outcome, Stage, Timings};
use state::{Record, RecordStatus};

/// Creates the output folder if needed, takes its lock and clears what dead runs left in
/// `.staging/` (no live run can own it while we hold the lock).
pub fn open_output(output: &Path, wait: bool) -> Result<OutputLock> {
    let not_writable = |e: std::io::Error| Error::Output {
        what: format!("output folder {}", output.display()),
        message: format!("not writable ({e})"),
    };
    fs::create_dir_all(output).map_err(not_writable)?;
    let (lock, stale) = OutputLock::acquire(output, wait).map_err(|e| match e {
        Error::Io { source, .. } => not_writable(source),
        other => other,
    })?;
    if let Some(holder) = stale {
        tracing::warn!(
            "taking over the lock of an earlier run (pid {}, started {}) that ended without \
             releasing it; finishing what it left",
            holder.pid,
            holder.started
        );
    }
    let staging = output.join(".staging");
    if let Ok(entries) = fs::read_dir(&staging) {
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            tracing::info!("removing {} left by an interrupted run", path.display());
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
    Ok(lock)
}

/// How a definition is run (the command line's overrides).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replaces the definition's output folder.
    pub output: Option<PathBuf>,
    /// Replace the definition's selection.
    pub since: Option<ReleaseId>,
    pub only: Vec<ReleaseId>,
    /// Print the plan, touch nothing.
    pub dry_run: bool,
    /// Wait for another run on the same output instead of failing.
    pub wait: bool,
    /// Progress bars (a terminal, not --json).
    pub progress: bool,
}

/// One release the source offers.
#[derive(Debug, Clone)]
struct Candidate {
    /// The release id when its name or page tells it, else the file name.
    label: String,
    id: Option<ReleaseId>,
    input: Input,
}

#[derive(Debug, Clone)]
enum Input {
    Local(PathBuf),
    Remote(DiscoveredRelease),
}

/// What a run did, for the summary (text, or one JSON document).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub pipeline: String,
    pub output: PathBuf,
    pub dry_run: bool,
    /// Releases the source offers, and those the selection takes.
    pub found: usize,
    /// What the selection asks for that the source does not offer (`--only` ids that are
    /// missing make the exit code 1).
    pub unmet: discover::Unmet,
    pub selected: usize,
    /// Release versions not done before this run.
    pub new: usize,
    pub published: Vec<PublishedEntry>,
    pub skipped: Vec<Skipped>,
    pub quarantined: Vec<Quarantined>,
    /// Releases that could not be worked on for a reason outside their data (network, disk).
    pub failed: Vec<Failed>,
    /// What a dry run would do.
    pub plan: Vec<Planned>,
    /// The newest change report written or already in place.
    pub latest_change_report: Option<PathBuf>,
    /// What `[sink.postgres]` loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<crate::sink::postgres::LoadReport>,
    pub stage_ms: BTreeMap<Stage, f64>,
    pub elapsed_ms: f64,
    pub exit_code: u8,
}

#[derive(Debug, Serialize)]
pub struct PublishedEntry {
    pub release_id: String,
    pub revision: u32,
    pub folder: PathBuf,
    pub changes: Option<PathBuf>,
    /// The stage an earlier, interrupted run had reached.
    pub resumed_after: Option<Stage>,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub label: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Quarantined {
    pub label: String,
    pub release_id: Option<String>,
    pub stage: Stage,
    pub reason: String,
    pub folder: PathBuf,
    /// Quarantined by an earlier run (same files, same tool version).
    pub earlier: bool,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub label: String,
    pub stage: Stage,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct Planned {
    pub label: String,
    pub source: String,
    pub action: String,
}

impl Summary {
    fn finish(&mut self, started: Instant, timings: &Timings) {
        self.stage_ms = timings
            .0
            .iter()
            .map(|(stage, took)| (*stage, took.as_secs_f64() * 1000.0))
            .collect();
        self.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.exit_code = if !self.failed.is_empty() {
            crate::cli::EXIT_USAGE
        } else if !self.quarantined.is_empty() || !self.unmet.missing.is_empty() {
            crate::cli::EXIT_DATA
        } else {
            crate::cli::EXIT_OK
        };
    }
}

/// The per-release options a definition asks for.
fn release_options(
    def: &Definition,
    since: Option<ReleaseId>,
    only: &[ReleaseId],
) -> release::Options {
    release::Options {
        normalize: normalize::Options {
            formats: (!def.parse.formats.is_empty()).then(|| def.parse.formats.clone()),
            release: None,
            allow_format_mismatch: def.parse.allow_format_mismatch,
        },
        allow_invalid: def.validation.allow_invalid,
        cpt_descriptions: def.reports.cpt_descriptions,
        changes: def.reports.changes,
        changes_markdown: def.reports.formats.contains(&ReportFormat::Markdown),
        changes_html: def.reports.formats.contains(&ReportFormat::Html),
        changes_xlsx: def.reports.formats.contains(&ReportFormat::Xlsx),
        errors: def.validation.errors.clone(),
        warnings: def.validation.warnings.clone(),
        max_warnings: def.validation.max_warnings,
        source_url: None,
        id_hint: None,
        since,
        only: only.to_vec(),
    }
}

/// Runs a definition. Errors are about the run as a whole (a bad definition, an output
/// folder that cannot be written, the index page out of reach); a release's own problems are
/// in the summary.
pub fn run(def: &Definition, opts: &RunOptions, progress: &dyn Fn(Progress)) -> Result<Summary> {
    let started = Instant::now();
    let output = opts.output.clone().unwrap_or_else(|| def.output.clone());
    let since = opts.since.or(def.select.since);
    let only = if opts.only.is_empty() {
        def.select.only.clone()
    } else {
        opts.only.clone()
    };
    let mut summary = Summary {
        pipeline: def.name.clone(),
        output: output.clone(),
        dry_run: opts.dry_run,
        ..Summary::default()
    };
    let mut timings = Timings::default();
    let _lock = if opts.dry_run {
        None
    } else {
        Some(open_output(&output, opts.wait)?)
    };

    let clock = Instant::now();
    let found = discover_candidates(&def.source)?;
    timings.add(Stage::Discover, clock.elapsed());
    failpoint::hit(Stage::Discover.name(), None);
    summary.found = found.len();
    let ids: Vec<ReleaseId> = found.iter().filter_map(|c| c.id).collect();
    summary.unmet = discover::unmet(&ids, since, &only);
    for warning in &summary.unmet.warnings {
        tracing::warn!("{warning} in the source");
    }
    let mut candidates: Vec<Candidate> = found
        .into_iter()
        .filter(|c| c.id.is_none_or(|id| release::selected(id, since, &only)))
        .collect();
    // Oldest first, so each release is diffed against the one before it.
    candidates
        .sort_by(|a, b| (a.id.is_none(), a.id, &a.label).cmp(&(b.id.is_none(), b.id, &b.label)));
    summary.selected = candidates.len();

    let base = release_options(def, since, &only);
    let fetched = fetch_remote(def, &candidates, &output, opts, &mut timings)?;
    let tool = state::options_key(&base);
    let ctx = RunContext {
        output: &output,
        options_key: &tool,
        progress,
    };
    for (i, candidate) in candidates.iter().enumerate() {
        progress(Progress::Release {
            index: i,
            of: candidates.len(),
            label: candidate.label.clone(),
        });
        let clock = Instant::now();
        let located = match (&candidate.input, fetched.get(&candidate.label)) {
            (Input::Local(path), _) => state::local_version(path).map(|key| (path.clone(), key)),
            (Input::Remote(_), Some(Ok((path, sha)))) => Ok((path.clone(), sha.clone())),
            (Input::Remote(_), Some(Err(message))) => Err(Error::Fetch {
                url: candidate.label.clone(),
                message: message.clone(),
            }),
            (Input::Remote(_), None) => Err(Error::Fetch {
                url: candidate.label.clone(),
                message: "not downloaded".into(),
            }),
        };
        timings.add(Stage::Fetch, clock.elapsed());
        let (path, key) = match located {
            Ok(found) => found,
            Err(_) if opts.dry_run => {
                summary.new += 1;
                summary.plan.push(Planned {
                    label: candidate.label.clone(),
                    source: source_text(candidate),
                    action: "download, then process and publish".into(),
                });
                continue;
            }
            Err(error) => {
                summary.failed.push(Failed {
                    label: candidate.label.clone(),
                    stage: Stage::Fetch,
                    error: error.to_string(),
                });
                continue;
            }
        };
        if !opts.dry_run {
            failpoint::hit(Stage::Fetch.name(), Some(&candidate.label));
        }
        let record = state::read(&output, &key);
        if let Some(decision) = already_done(&output, record.as_ref(), &tool) {
            match decision {
                Done::Published(reason) => summary.skipped.push(Skipped {
                    label: candidate.label.clone(),
                    reason,
                }),
                Done::Quarantined(q) => summary.quarantined.push(q),
            }
            continue;
        }
        summary.new += 1;
        if opts.dry_run {
            summary.plan.push(Planned {
                label: candidate.label.clone(),
                source: source_text(candidate),
                action: match record.as_ref().and_then(|r| r.reached) {
                    Some(stage) => format!("resume (an earlier run stopped at {stage})"),
                    None => "process and publish".into(),
                },
            });
            continue;
        }
        let mut options = base.clone();
        if let Input::Remote(remote) = &candidate.input {
            options.id_hint = Some(remote.id);
            options.source_url = remote.zip_urls.first().map(ToString::to_string);
        }
        work_on(
            &ctx,
            candidate,
            (&path, &key),
            record,
            &options,
            &mut summary,
            &mut timings,
        );
    }
    if !opts.dry_run {
        let clock = Instant::now();
        crate::history::ensure_current(&output, base.cpt_descriptions)?;
        timings.add(Stage::History, clock.elapsed());
        if let Some(sink) = &def.sink.postgres {
            summary.database = Some(load_into_postgres(sink, &output)?);
        }
    }
    summary.latest_change_report = latest_change_report(&output);
    summary.finish(started, &timings);
    Ok(summary)
}

/// `[sink.postgres]`: every published release and the history into the database (those
/// already there are left alone).
fn load_into_postgres(
    sink: &definition::PostgresSink,
    output: &Path,
) -> Result<crate::sink::postgres::LoadReport> {
    let target = crate::sink::postgres::Target::new(sink.connection.as_deref(), &sink.schema)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Database {
            target: target.shown().to_string(),
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(crate::sink::postgres::load(&target, output, &[], false))
}

/// What the progress display is told.
#[derive(Debug, Clone)]
pub enum Progress {
    Release {
        index: usize,
        of: usize,
        label: String,
    },
    Stage(Stage),
}

enum Done {
    Published(String),
    Quarantined(Quarantined),
}

/// A version whose record says it is published (and the release folder still holds what
/// was published), or quarantined by this tool version with these options.
fn already_done(output: &Path, record: Option<&Record>, options_key: &str) -> Option<Done> {
    let record = record.filter(|r| r.options == options_key)?;
    match &record.status {
        RecordStatus::Published {
            release_id,
            manifest_sha256,
        } => {
            let manifest = output
                .join("releases")
                .join(release_id)
                .join("manifest.json");
            let current = fs::read(&manifest)
                .ok()
                .map(|b| crate::stages::extract::sha256_hex(&b));
            (current.as_deref() == Some(manifest_sha256.as_str()))
                .then(|| Done::Published(format!("already published as {release_id}")))
        }
        RecordStatus::Quarantined {
            stage,
            reason,
            folder,
        } => Some(Done::Quarantined(Quarantined {
            label: record.label.clone(),
            release_id: record.release_id.clone(),
            stage: *stage,
            reason: reason.clone(),
            folder: output.join(folder),
            earlier: true,
        })),
        RecordStatus::Running => None,
    }
}

/// What every release of a run shares.
struct RunContext<'a> {
    output: &'a Path,
    /// [`state::options_key`] of this run.
    options_key: &'a str,
    progress: &'a dyn Fn(Progress),
}

/// One release version through [`release::process`], its state record kept up to date.
fn work_on(
    ctx: &RunContext,
    candidate: &Candidate,
    (path, key): (&Path, &str),
    previous: Option<Record>,
    options: &release::Options,
    summary: &mut Summary,
    timings: &mut Timings,
) {
    let output = ctx.output;
    let resumed_after = previous.as_ref().and_then(|r| r.reached);
    if let Some(stage) = resumed_after {
        tracing::warn!(
            "{}: an earlier run stopped at {stage}; resuming",
            candidate.label
        );
    }
    let record = std::cell::RefCell::new(Record {
        label: candidate.label.clone(),
        source: source_text(candidate),
        key: key.to_string(),
        release_id: candidate.id.map(|id| id.to_string()),
        options: ctx.options_key.to_string(),
        reached: resumed_after,
        status: RecordStatus::Running,
    });
    let save = |record: &Record| {
        if let Err(e) = state::write(output, record) {
            tracing::warn!("{e}");
        }
    };
    let on_stage = |stage: Stage| {
        let mut r = record.borrow_mut();
        r.reached = Some(stage);
        save(&r);
        (ctx.progress)(Progress::Stage(stage));
    };
    let mut own = Timings::default();
    let outcome = release::process(path, output, &candidate.label, options, &mut own, &on_stage);
    timings.merge(&own);
    let mut record = record.into_inner();
    match outcome {
        Ok(Outcome::Published { published, changes }) => {
            let revision = mark_published(&mut record, output, &published.release_id);
            save(&record);
            summary.published.push(PublishedEntry {
                release_id: published.release_id.clone(),
                revision,
                folder: published.folder.clone(),
                changes: changes.map(|c| report_in(&c)),
                resumed_after,
            });
        }
        Ok(Outcome::AlreadyPublished { release_id }) => {
            let revision = mark_published(&mut record, output, &release_id);
            save(&record);
            if resumed_after.is_some() {
                // An interrupted run had published it; this run finished the rest.
                summary.published.push(PublishedEntry {
                    folder: output.join("releases").join(&release_id),
                    release_id,
                    revision,
                    changes: None,
                    resumed_after,
                });
            } else {
                summary.skipped.push(Skipped {
                    label: candidate.label.clone(),
                    reason: format!("already published as {release_id} from the same files"),
                });
            }
        }
        Ok(Outcome::NotSelected { release_id }) => {
            // Not recorded: another selection may want it.
            summary.skipped.push(Skipped {
                label: candidate.label.clone(),
                reason: format!("is {release_id}, which is not selected"),
            });
        }
        Err(failure) if is_environment(&failure.error) => {
            summary.failed.push(Failed {
                label: candidate.label.clone(),
                stage: failure.stage,
                error: failure.error.to_string(),
            });
        }
        Err(failure) => {
            let quarantined = quarantine(output, candidate, key, &failure);
            record.release_id = failure.release_id.map(|id| id.to_string());
            record.status = RecordStatus::Quarantined {
                stage: failure.stage,
                reason: quarantined.reason.clone(),
                folder: quarantined
                    .folder
                    .strip_prefix(output)
                    .unwrap_or(&quarantined.folder)
                    .to_path_buf(),
            };
            save(&record);
            tracing::error!(
                "{}: quarantined at {}: {}",
                candidate.label,
                failure.stage,
                quarantined.reason
            );
            summary.quarantined.push(quarantined);
        }
    }
}

/// Records that the version is published as `release_id` (by the sha256 of its manifest,
/// so a later change to that folder is noticed); returns the release's revision.
fn mark_published(record: &mut Record, output: &Path, release_id: &str) -> u32 {
    let folder = output.join("releases").join(release_id);
    let sha = fs::read(folder.join("manifest.json"))
        .map(|b| crate::stages::extract::sha256_hex(&b))
        .unwrap_or_default();
    record.release_id = Some(release_id.to_string());
    record.status = RecordStatus::Published {
        release_id: release_id.to_string(),
        manifest_sha256: sha,
    };
    crate::package::Manifest::read(&folder).map_or(1, |m| m.revision)
}

/// Failures that say nothing about the release's data: the disk, the network, the lock.
fn is_environment(error: &Error) -> bool {
    matches!(
        error,
        Error::Io { .. } | Error::Output { .. } | Error::Fetch { .. } | Error::Locked { .. }
    )
}

/// Writes `OUTPUT/quarantine/<label>-<key>/` (reason.json, and the validation report when
/// validation failed), staged and renamed like everything else.
fn quarantine(output: &Path, candidate: &Candidate, key: &str, failure: &Failure) -> Quarantined {
    let name = format!(
        "{}-{}",
        safe_name(&candidate.label),
        &key[..key.len().min(12)]
    );
    let folder = output.join("quarantine").join(&name);
    let reason = failure.error.to_string();
    let entry = Quarantined {
        label: candidate.label.clone(),
        release_id: failure.release_id.map(|id| id.to_string()),
        stage: failure.stage,
        reason,
        folder: folder.clone(),
        earlier: false,
    };
    let staging = output.join(".staging").join(format!("quarantine.{name}"));
    let written = (|| -> std::io::Result<()> {
        fs::create_dir_all(&staging)?;
        let reason = serde_json::json!({
            "label": entry.label,
            "release_id": entry.release_id,
            "source": source_text(candidate),
            "version": key,
            "stage": entry.stage,
            "reason": entry.reason,
            "tool_version": env!("CARGO_PKG_VERSION"),
        });
        fs::write(
            staging.join("reason.json"),
            serde_json::to_string_pretty(&reason).unwrap_or_default() + "\n",
        )?;
        if let Some(report) = &failure.validation {
            fs::write(
                staging.join("validation.md"),
                crate::report::validation::markdown(report),
            )?;
            fs::write(
                staging.join("validation.json"),
                crate::report::validation::json(report),
            )?;
        }
        fs::create_dir_all(output.join("quarantine"))?;
        if folder.exists() {
            fs::remove_dir_all(&folder)?;
        }
        fs::rename(&staging, &folder)
    })();
    if let Err(e) = written {
        tracing::warn!("{}: {e}", folder.display());
    }
    entry
}

fn safe_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn source_text(candidate: &Candidate) -> String {
    match &candidate.input {
        Input::Local(path) => path.display().to_string(),
        Input::Remote(r) => r
            .zip_urls
            .first()
            .map_or_else(|| r.page_url.to_string(), ToString::to_string),
    }
}

/// The releases a source offers.
fn discover_candidates(source: &Source) -> Result<Vec<Candidate>> {
    match source {
        Source::Local { paths, folders } => {
            let mut out = Vec::new();
            for path in paths {
                if !path.exists() {
                    return Err(Error::io(
                        path,
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
                    ));
                }
                out.push(local_candidate(path));
            }
            for folder in folders {
                let entries = fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
                let mut inside: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_dir() || p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
                    })
                    .collect();
                inside.sort();
                out.extend(inside.iter().map(|p| local_candidate(p)));
            }
            Ok(out)
        }
        Source::CmsIndex { index_url, http } => {
            let index = crate::http::parse_location(index_url)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Fetch {
                    url: index_url.clone(),
                    message: e.to_string(),
                })?;
            let found = runtime.block_on(discover::discover(&index, &http.options()))?;
            Ok(found
                .releases
                .into_iter()
                .map(|r| Candidate {
                    label: r.id.to_string(),
                    id: Some(r.id),
                    input: Input::Remote(r),
                })
                .collect())
        }
    }
}

fn local_candidate(path: &Path) -> Candidate {
    let (id, label) = label_of(path);
    Candidate {
        label,
        id,
        input: Input::Local(path.to_path_buf()),
    }
}

/// How a local release is named in logs, summaries and failpoints: the release id its name
/// tells (`rvu25a-updated.zip`, `RVU24B/`), else its file name.
pub fn label_of(path: &Path) -> (Option<ReleaseId>, String) {
    let id = normalize::hint_from_path(path);
    let label = id.map_or_else(
        || {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string())
        },
        |id| id.to_string(),
    );
    (id, label)
}

type Fetched = BTreeMap<String, std::result::Result<(PathBuf, String), String>>;

/// Downloads the selected remote releases (conditional requests; unchanged zips are not
/// downloaded again). A dry run only reads what the raw store already has.
fn fetch_remote(
    def: &Definition,
    candidates: &[Candidate],
    output: &Path,
    opts: &RunOptions,
    timings: &mut Timings,
) -> Result<Fetched> {
    let Source::CmsIndex { http, .. } = &def.source else {
        return Ok(Fetched::new());
    };
    let remote: Vec<DiscoveredRelease> = candidates
        .iter()
        .filter_map(|c| match &c.input {
            Input::Remote(r) => Some(r.clone()),
            Input::Local(_) => None,
        })
        .collect();
    let clock = Instant::now();
    let mut out = Fetched::new();
    if opts.dry_run {
        let catalog = crate::store::Catalog::load(output).unwrap_or_default();
        for r in &remote {
            let known = catalog
                .latest(&r.id)
                .map(|v| (crate::store::raw_zip(output, &v.sha256), v.sha256.clone()))
                .filter(|(path, _)| path.is_file())
                .ok_or_else(|| "not downloaded yet".to_string());
            out.insert(r.id.to_string(), known);
        }
        return Ok(out);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(output, e))?;
    let outcomes = runtime.block_on(fetch::fetch_all(
        &remote,
        output,
        &http.options(),
        opts.progress,
    ))?;
    for o in outcomes {
        let result = match (&o.status, &o.path, &o.sha256) {
            (Status::Failed { error }, _, _) => Err(error.clone()),
            (_, Some(path), Some(sha)) => Ok((path.clone(), sha.clone())),
            _ => Err("the download left no file".to_string()),
        };
        out.insert(o.id.to_string(), result);
    }
    timings.add(Stage::Fetch, clock.elapsed());
    Ok(out)
}

/// The report people open in a change folder: the HTML, else the Markdown, else the folder.
fn report_in(folder: &Path) -> PathBuf {
    ["report.html", "report.md"]
        .iter()
        .map(|name| folder.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| folder.to_path_buf())
}

/// The newest change report under `OUTPUT/changes/` (by the later release's id).
fn latest_change_report(output: &Path) -> Option<PathBuf> {
    let entries = fs::read_dir(output.join("changes")).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (_, to) = name.split_once("..")?;
            let to: ReleaseId = to.parse().ok()?;
            Some((to, report_in(&e.path())))
        })
        .max()
        .map(|(_, report)| report)
}
