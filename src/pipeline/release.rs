//! One release through the stages after download: extract, normalize, validate (against the
//! prior published release), diff (the change report), publish (datasets, then history).
//! `rvu ingest` and `rvu run` both go through here; each stage is timed and ends at a
//! failpoint named after it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::catalog::ReleaseId;
use crate::error::Error;
use crate::failpoint;
use crate::history::Tables;
use crate::report::changes;
use crate::stages::diff::{self, Loaded, ReleaseInfo, Side};
use crate::stages::publish::{self, Published};
use crate::stages::validate::{self, Report, Severity};
use crate::stages::{extract, normalize};
use crate::tables::TableKind;

/// The stages of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Discover,
    Fetch,
    Extract,
    Normalize,
    Validate,
    Diff,
    Publish,
    History,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Discover,
        Stage::Fetch,
        Stage::Extract,
        Stage::Normalize,
        Stage::Validate,
        Stage::Diff,
        Stage::Publish,
        Stage::History,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Discover => "discover",
            Stage::Fetch => "fetch",
            Stage::Extract => "extract",
            Stage::Normalize => "normalize",
            Stage::Validate => "validate",
            Stage::Diff => "diff",
            Stage::Publish => "publish",
            Stage::History => "history",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Time spent per stage (summed over releases).
#[derive(Debug, Clone, Default)]
pub struct Timings(pub std::collections::BTreeMap<Stage, Duration>);

impl Timings {
    pub fn add(&mut self, stage: Stage, took: Duration) {
        *self.0.entry(stage).or_default() += took;
    }

    pub fn merge(&mut self, other: &Timings) {
        for (stage, took) in &other.0 {
            self.add(*stage, *took);
        }
    }
}

/// How a release is processed.
#[derive(Debug, Clone)]
pub struct Options {
    pub normalize: normalize::Options,
    /// Publish despite validation errors (marked invalid).
    pub allow_invalid: bool,
    /// Keep CPT and CDT descriptions in the datasets.
    pub cpt_descriptions: bool,
    /// Write the change report against the prior release, and which of its reports for
    /// people (the change data is always written).
    pub changes: bool,
    pub changes_markdown: bool,
    pub changes_html: bool,
    pub changes_xlsx: bool,
    /// Rules made errors or warnings for this run.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// More failed warning rules than this fail validation.
    pub max_warnings: Option<usize>,
    /// The release's address to record as its source (the zip URL), instead of the path.
    pub source_url: Option<String>,
    /// The release id its web page gave (stands in for a file name that tells it).
    pub id_hint: Option<ReleaseId>,
    /// Releases to take; others stop after normalizing (when only the contents tell the id).
    pub since: Option<ReleaseId>,
    pub only: Vec<ReleaseId>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            normalize: normalize::Options::default(),
            allow_invalid: false,
            cpt_descriptions: true,
            changes: true,
            changes_markdown: true,
            changes_html: true,
            changes_xlsx: true,
            errors: Vec::new(),
            warnings: Vec::new(),
            max_warnings: None,
            source_url: None,
            id_hint: None,
            since: None,
            only: Vec::new(),
        }
    }
}

impl Options {
    /// True when these options publish exactly what a plain `rvu ingest` does, so a release
    /// already published from the same files needs nothing.
    pub fn are_defaults(&self) -> bool {
        self.normalize.formats.is_none()
            && self.normalize.release.is_none()
            && !self.normalize.allow_format_mismatch
            && !self.allow_invalid
            && self.cpt_descriptions
            && self.errors.is_empty()
            && self.warnings.is_empty()
            && self.max_warnings.is_none()
    }
}

/// What became of a release.
#[derive(Debug)]
pub enum Outcome {
    /// Already published from the same files with the same options.
    AlreadyPublished { release_id: String },
    /// Not one of the releases asked for (known only once its contents were read).
    NotSelected { release_id: ReleaseId },
    Published {
        published: Box<Published>,
        /// The change report folder (none for the first release published here).
        changes: Option<PathBuf>,
    },
}

/// A release that could not be published: the stage, the error, and the validation report
/// when validation was what failed.
#[derive(Debug)]
pub struct Failure {
    pub stage: Stage,
    pub release_id: Option<ReleaseId>,
    pub error: Box<Error>,
    pub validation: Option<Box<Report>>,
}

impl Failure {
    fn at(stage: Stage, release_id: Option<ReleaseId>) -> impl FnOnce(Error) -> Failure {
        move |error| Failure {
            stage,
            release_id,
            error: Box::new(error),
            validation: None,
        }
    }
}

/// Calls the progress callback when each stage starts, times it, and stops at its failpoint
/// when it ends.
struct Clock<'a> {
    label: &'a str,
    timings: &'a mut Timings,
    on_stage: &'a dyn Fn(Stage),
    current: Option<(Stage, Instant)>,
}

impl Clock<'_> {
    fn start(&mut self, stage: Stage) {
        self.finish();
        (self.on_stage)(stage);
        self.current = Some((stage, Instant::now()));
    }

    fn finish(&mut self) {
        if let Some((stage, started)) = self.current.take() {
            let took = started.elapsed();
            tracing::debug!(
                "{}: {stage} {:.0} ms",
                self.label,
                took.as_secs_f64() * 1000.0
            );
            self.timings.add(stage, took);
            failpoint::hit(stage.name(), Some(self.label));
        }
    }
}

/// Runs `path` (a release zip or folder) through every stage into `output`. `label` names
/// the release in logs and failpoints (its id when known).
pub fn process(
    path: &Path,
    output: &Path,
    label: &str,
    options: &Options,
    timings: &mut Timings,
    on_stage: &dyn Fn(Stage),
) -> Result<Outcome, Failure> {
    let mut clock = Clock {
        label,
        timings,
        on_stage,
        current: None,
    };
    clock.start(Stage::Extract);
    let mut extracted = extract::extract(path, &extract::Limits::default())
        .map_err(Failure::at(Stage::Extract, None))?;
    if let Some(url) = &options.source_url {
        extracted.source = url.clone();
    }
    if options.are_defaults()
        && let Some(release_id) = crate::published::published_from(output, &extracted)
    {
        clock.finish();
        repair_changes(output, &release_id, options).map_err(Failure::at(Stage::Diff, None))?;
        return Ok(Outcome::AlreadyPublished { release_id });
    }

    clock.start(Stage::Normalize);
    let hint = options
        .id_hint
        .map_or_else(|| path.to_path_buf(), |id| PathBuf::from(id.to_string()));
    let mut normalized = normalize::normalize(&extracted, &hint, &options.normalize)
        .map_err(Failure::at(Stage::Normalize, None))?;
    let id = normalized.release_id;
    if !selected(id, options.since, &options.only) {
        clock.finish();
        return Ok(Outcome::NotSelected { release_id: id });
    }
    if !options.cpt_descriptions {
        withhold_licensed_descriptions(&mut normalized);
    }
    for warning in &normalized.warnings {
        tracing::warn!("{id}: {warning}");
    }

    clock.start(Stage::Validate);
    let prior =
        crate::published::load_prior(output, id).map_err(Failure::at(Stage::Validate, Some(id)))?;
    let validation = check(&normalized, prior.as_ref(), options);
    if !validation.valid && !options.allow_invalid {
        return Err(Failure {
            stage: Stage::Validate,
            release_id: Some(id),
            error: Box::new(invalid(&validation)),
            validation: Some(Box::new(validation)),
        });
    }

    // The change report is written now and moved into place right after the release, so
    // a run killed before the release is published leaves no report of it. Its workbook, the
    // slow part, is written on another thread while the release is published, and so is the
    // history's next state (what it reads, the releases published before, does not change),
    // into a staging folder swapped in after the release.
    let tables = normalized.table_refs();
    let before = prior.as_ref().map(|p| {
        (
            p.id,
            p.tables.iter().map(|(k, t)| (*k, t)).collect::<Tables>(),
        )
    });
    let (published, changes, history) = std::thread::scope(|scope| {
        let history = scope.spawn(|| {
            crate::history::plan(
                output,
                id,
                &tables,
                before.as_ref().map(|(p, t)| (*p, t)),
                options.cpt_descriptions,
            )?
            .map(|plan| plan.stage(output))
            .transpose()
        });
        let mut staged = None;
        let mut workbook = None;
        if let (Some(prior), true) = (&prior, options.changes) {
            clock.start(Stage::Diff);
            let current = current_side(&extracted, &normalized);
            let diff = diff::diff(&prior.side(), &current);
            let report = report_options(options);
            let tables_only = changes::ReportOptions {
                xlsx: false,
                ..report.clone()
            };
            let staging = changes::stage(output, &diff, &prior.side(), &current, &tables_only)
                .map_err(Failure::at(Stage::Diff, Some(id)))?;
            if report.xlsx {
                let path = staging.workbook_path();
                workbook = Some(scope.spawn(move || {
                    changes::write_workbook(&path, &diff, &prior.side(), &current, &report)
                }));
            }
            staged = Some(staging);
        }

        clock.start(Stage::Publish);
        let published = publish::publish(output, &extracted, &normalized, &validation);
        let workbook = workbook.map_or(Ok(()), |handle| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        if published.is_err() || workbook.is_err() {
            // A workbook that failed after its release was published leaves the release
            // without a report, as a run killed there does; the next run writes it.
            if let Some(staged) = staged.take() {
                staged.discard();
            }
        }
        let published = published.map_err(Failure::at(Stage::Publish, Some(id)))?;
        workbook.map_err(Failure::at(Stage::Diff, Some(id)))?;
        failpoint::hit("publish-before-changes", Some(label));
        let changes = staged
            .map(changes::Staged::commit)
            .transpose()
            .map_err(Failure::at(Stage::Publish, Some(id)))?;
        clock.start(Stage::History);
        let history = history
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((published, changes, history))
    })?;

    // Swapped in only now that the release it includes is in place.
    history
        .and_then(|staged| staged.map_or(Ok(()), |staged| staged.commit(output)))
        .map_err(Failure::at(Stage::History, Some(id)))?;
    clock.finish();
    Ok(Outcome::Published {
        published: Box::new(published),
        changes,
    })
}

/// Whether a release is one of those asked for.
pub fn selected(id: ReleaseId, since: Option<ReleaseId>, only: &[ReleaseId]) -> bool {
    since.is_none_or(|s| id >= s) && (only.is_empty() || only.contains(&id))
}

/// Validation against the prior release, with the run's severity changes and thresholds.
fn check(normalized: &normalize::Normalized, prior: Option<&Loaded>, options: &Options) -> Report {
    let mut report = validate::against_prior(normalized, prior);
    if options.normalize.allow_format_mismatch {
        report.set_severity("format.agree", Severity::Warning);
    }
    for rule in &options.warnings {
        report.set_severity(rule, Severity::Warning);
    }
    for rule in &options.errors {
        report.set_severity(rule, Severity::Error);
    }
    if let Some(max) = options.max_warnings
        && report.warnings > max
    {
        report.valid = false;
    }
    report
}

fn invalid(report: &Report) -> Error {
    let failed: Vec<&str> = report
        .failed()
        .filter(|r| r.rule.severity == Severity::Error)
        .map(|r| r.rule.id)
        .collect();
    let summary = if failed.is_empty() {
        format!(
            "{} warning rule(s) failed, more than allowed",
            report.warnings
        )
    } else {
        format!(
            "{} rule(s) failed with errors: {}",
            failed.len(),
            failed.join(", ")
        )
    };
    Error::Invalid {
        release: report.release_id.clone(),
        summary,
    }
}

/// Blanks the descriptions of CPT and CDT codes (AMA and ADA content).
fn withhold_licensed_descriptions(normalized: &mut normalize::Normalized) {
    let Some(entry) = normalized.tables.get_mut(&TableKind::Pprrvu) else {
        return;
    };
    let table = &mut entry.table;
    let (Some(h), Some(d)) = (
        table.column_index("hcpcs"),
        table.column_index("description"),
    ) else {
        return;
    };
    for row in &mut table.rows {
        let licensed = row.values[h]
            .as_text()
            .is_some_and(crate::codes::is_licensed);
        if licensed {
            row.values[d] = crate::tables::Value::Null;
        }
    }
}

/// Diffs the new release against the prior one into a staged OUTPUT/changes/<prior>..<new>/.
/// The release being published, as the diff sees it.
fn current_side<'a>(
    extracted: &extract::Extracted,
    normalized: &'a normalize::Normalized,
) -> Side<'a> {
    Side {
        id: normalized.release_id,
        info: ReleaseInfo {
            release_id: normalized.release_id.to_string(),
            released: normalized.released.clone(),
            source: Some(extracted.source.clone()),
            sha256: extracted.archive.as_ref().map(|(_, sha)| sha.clone()),
        },
        tables: normalized.table_refs(),
    }
}

fn report_options(options: &Options) -> changes::ReportOptions {
    changes::ReportOptions {
        cpt_descriptions: options.cpt_descriptions,
        markdown: options.changes_markdown,
        html: options.changes_html,
        xlsx: options.changes_xlsx,
    }
}

/// A release published by a run that was killed before its change report was moved into
/// place: writes the report from the published tables.
fn repair_changes(output: &Path, release_id: &str, options: &Options) -> crate::error::Result<()> {
    let Ok(id) = release_id.parse::<ReleaseId>() else {
        return Ok(());
    };
    // Usually the report is there: look before reading any table.
    let Some((prior_id, _)) = crate::published::prior_release(output, id) else {
        return Ok(());
    };
    let folder = output.join("changes").join(format!("{prior_id}..{id}"));
    if !options.changes || folder.join("summary.json").is_file() {
        return Ok(());
    }
    let Some(prior) = crate::published::load_prior(output, id)? else {
        return Ok(());
    };
    tracing::warn!("{id}: its change report is missing (an interrupted run); writing it");
    let dir = output.join("releases").join(release_id);
    let (_, tables) = crate::published::load_release(&dir)?;
    let current = Loaded {
        id,
        info: crate::published::release_info(&dir, id),
        tables,
    };
    let diff = diff::diff(&prior.side(), &current.side());
    let report = report_options(options);
    changes::write(output, &diff, &prior.side(), &current.side(), &report)?;
    Ok(())
}
