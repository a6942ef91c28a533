//! Publish: a normalized release is written as Parquet and CSV datasets plus an ingest
//! report, into a staging folder that is renamed into place only when everything is written.
//! A failed run leaves the previously published release untouched.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::package;
use crate::published::payments;
use crate::published::write::Written;
use crate::published::{gpci_in_force, published, replace_dir, timed, write_csv, write_parquet};
use crate::read::Format;
use crate::report;
use crate::stages::extract::Extracted;
use crate::stages::normalize::{CrossCheck, FormatSummary, Normalized};
use crate::stages::validate::Report;
use crate::tables::{Table, TableKind};

/// What was published, for the caller to report.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub release_id: String,
    pub folder: PathBuf,
    /// False only when published with --allow-invalid despite validation errors.
    pub valid: bool,
    pub validation_errors: usize,
    pub validation_warnings: usize,
    pub tables: Vec<PublishedTable>,
    pub missing_tables: Vec<TableKind>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedTable {
    pub table: TableKind,
    pub rows: usize,
    /// Rows per variant, for a table with more than one (2026's PPRRVU and ANES).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rows_by_variant: BTreeMap<String, usize>,
    pub primary_format: Format,
    pub formats: Vec<FormatSummary>,
    pub cross_checks: Vec<CrossCheck>,
    /// The csv and parquet files written, for the manifest.
    #[serde(skip)]
    pub files: Vec<package::FileEntry>,
}

/// The ingest report written beside the datasets (`ingest.json`). It holds nothing that
/// changes between runs on the same input, so re-runs are byte-identical.
#[derive(Debug, Serialize)]
struct IngestReport<'a> {
    release_id: String,
    /// False when validation found errors and the release was published anyway.
    valid: bool,
    released: Option<&'a str>,
    source: &'a str,
    archive_sha256: Option<&'a str>,
    members: Vec<MemberEntry<'a>>,
    ignored_files: &'a [String],
    tables: &'a [PublishedTable],
    missing_tables: &'a [TableKind],
    warnings: &'a [String],
    payments: PaymentsReport,
    tool_version: &'static str,
}

#[derive(Debug, Serialize)]
struct MemberEntry<'a> {
    name: &'a str,
    table: TableKind,
    format: Format,
    bytes: usize,
    sha256: &'a str,
}

/// Writes `output/releases/<ID>/` atomically: staging, then one rename.
pub fn publish(
    output: &Path,
    extracted: &Extracted,
    normalized: &Normalized,
    validation: &Report,
) -> Result<Published> {
    let release_id = normalized.release_id.to_string();
    let releases = output.join("releases");
    let staging_root = output.join(".staging");
    for dir in [&releases, &staging_root] {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    remove_stale_staging(&staging_root, &release_id);
    let staging = staging_root.join(format!("{release_id}.{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;

    let target = releases.join(&release_id);
    let result = write_release(&staging, output, extracted, normalized, validation).and_then(
        |(tables, derived)| {
            let revision = keep_revisions(&target, &staging, extracted)?;
            write_package(
                &staging,
                &release_id,
                revision,
                extracted,
                &tables,
                derived,
                validation,
            )?;
            Ok(tables)
        },
    );
    let tables = match result {
        Ok(tables) => tables,
        Err(err) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
    };
    crate::failpoint::hit("publish-before-rename", Some(&release_id));
    replace_dir(&staging, &target)?;
    write_latest(output)?;
    Ok(Published {
        release_id,
        folder: target,
        valid: validation.valid,
        validation_errors: validation.errors,
        validation_warnings: validation.warnings,
        tables,
        missing_tables: normalized.missing.clone(),
        warnings: normalized.warnings.clone(),
    })
}

/// Staging folders of this release left by runs that died (not ours) are removed.
fn remove_stale_staging(staging_root: &Path, release_id: &str) {
    let ours = format!("{release_id}.{}", std::process::id());
    let Ok(entries) = fs::read_dir(staging_root) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{release_id}.")) && name != ours {
            tracing::info!(
                "removing {} left by an interrupted run",
                entry.path().display()
            );
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Carries the published release's revisions into the staging folder (hard links, so nothing
/// is copied): new member files make a new revision and the current one moves to
/// `revisions/r<N>/`; the same files keep the revision number. Returns the new revision.
fn keep_revisions(target: &Path, staging: &Path, extracted: &Extracted) -> Result<u32> {
    let Some(previous) = package::Manifest::read(target) else {
        return Ok(1);
    };
    let old_revisions = target.join("revisions");
    if old_revisions.is_dir() {
        link_tree(&old_revisions, &staging.join("revisions"))?;
    }
    if previous.fingerprint() == package::fingerprint(extracted) {
        return Ok(previous.revision);
    }
    let kept = staging
        .join("revisions")
        .join(format!("r{}", previous.revision));
    fs::create_dir_all(&kept).map_err(|e| Error::io(&kept, e))?;
    for entry in fs::read_dir(target).map_err(|e| Error::io(target, e))? {
        let path = entry.map_err(|e| Error::io(target, e))?.path();
        if path.is_file() {
            let to = kept.join(path.file_name().unwrap_or_default());
            fs::hard_link(&path, &to)
                .or_else(|_| fs::copy(&path, &to).map(|_| ()))
                .map_err(|e| Error::io(&to, e))?;
        }
    }
    Ok(previous.revision + 1)
}

fn link_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let path = entry.map_err(|e| Error::io(from, e))?.path();
        let dest = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            link_tree(&path, &dest)?;
        } else {
            fs::hard_link(&path, &dest)
                .or_else(|_| fs::copy(&path, &dest).map(|_| ()))
                .map_err(|e| Error::io(&dest, e))?;
        }
    }
    Ok(())
}

fn write_package(
    dir: &Path,
    release_id: &str,
    revision: u32,
    extracted: &Extracted,
    tables: &[PublishedTable],
    derived: Vec<package::FileEntry>,
    validation: &Report,
) -> Result<()> {
    let tables = tables
        .iter()
        .map(|t| package::TableEntry {
            table: t.table,
            rows: t.rows,
            files: t.files.clone(),
        })
        .collect();
    let manifest = package::manifest(release_id, revision, extracted, tables, derived, validation);
    write_text(&dir.join("manifest.json"), &pretty(&manifest))?;
    write_text(
        &dir.join("datapackage.json"),
        &pretty(&package::datapackage(&manifest)),
    )?;
    Ok(())
}

/// `latest.json`: the newest release published here, its revision and folder.
fn write_latest(output: &Path) -> Result<()> {
    let Some((id, dir)) = published(output).pop() else {
        return Ok(());
    };
    let revision = package::Manifest::read(&dir).map_or(1, |m| m.revision);
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "release_id": id.to_string(),
        "revision": revision,
        "path": format!("releases/{id}"),
    }))
    .unwrap_or_default();
    let temp = output.join(format!(".latest.{}.json", std::process::id()));
    write_text(&temp, &(text + "\n"))?;
    let path = output.join("latest.json");
    fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))
}

/// Each table as CSV and Parquet; what `ingest.json` says of it.
fn write_tables(dir: &Path, normalized: &Normalized) -> Result<Vec<PublishedTable>> {
    let mut published = Vec::new();
    for (kind, normalized_table) in &normalized.tables {
        let table = &normalized_table.table;
        let name = kind.name();
        let (csv, parquet) = (format!("{name}.csv"), format!("{name}.parquet"));
        let files = vec![
            file_entry(
                &csv,
                timed(name, "csv", || write_csv(&dir.join(&csv), table))?,
            ),
            file_entry(
                &parquet,
                timed(name, "parquet", || {
                    write_parquet(&dir.join(&parquet), table)
                })?,
            ),
        ];
        published.push(PublishedTable {
            table: *kind,
            rows: table.rows.len(),
            rows_by_variant: rows_by_variant(table),
            primary_format: normalized_table.primary,
            formats: normalized_table.parsed.clone(),
            cross_checks: normalized_table.cross_checks.clone(),
            files,
        });
    }
    Ok(published)
}

fn file_entry(path: &str, written: Written) -> package::FileEntry {
    package::FileEntry {
        path: path.to_string(),
        sha256: written.sha256,
        bytes: written.bytes,
    }
}

fn write_release(
    dir: &Path,
    output: &Path,
    extracted: &Extracted,
    normalized: &Normalized,
    validation: &Report,
) -> Result<(Vec<PublishedTable>, Vec<package::FileEntry>)> {
    // Payments (a million rows and more) are written on their own thread while the tables
    // are written on this one.
    let (published, payments) = std::thread::scope(|scope| {
        let payments = scope.spawn(|| {
            timed("payments", "parquet", || {
                write_payments(dir, output, normalized)
            })
        });
        let published = write_tables(dir, normalized);
        let payments = payments
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (published, payments)
    });
    let (published, payments) = (published?, payments?);
    write_text(
        &dir.join("validation.json"),
        &report::validation::json(validation),
    )?;
    write_text(
        &dir.join("validation.md"),
        &report::validation::markdown(validation),
    )?;
    let report = IngestReport {
        valid: validation.valid,
        release_id: normalized.release_id.to_string(),
        released: normalized.released.as_deref(),
        source: &extracted.source,
        archive_sha256: extracted.archive.as_ref().map(|(_, sha)| sha.as_str()),
        members: extracted
            .members
            .iter()
            .map(|m| MemberEntry {
                name: &m.name,
                table: m.table,
                format: m.format,
                bytes: m.bytes.len(),
                sha256: &m.sha256,
            })
            .collect(),
        ignored_files: &extracted.ignored,
        tables: &published,
        missing_tables: &normalized.missing,
        warnings: &normalized.warnings,
        payments,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    write_text(&dir.join("ingest.json"), &pretty(&report))?;
    let derived = report.payments.file.clone().into_iter().collect();
    Ok((published, derived))
}

/// A table's row count per variant, when it has two or more.
fn rows_by_variant(table: &Table) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(i) = table.column_index("variant") {
        for r in &table.rows {
            *counts
                .entry(r.values[i].as_text().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    if counts.len() < 2 {
        counts.clear();
    }
    counts
}

/// Where the payments of a release came from, for `ingest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentsReport {
    pub rows: usize,
    /// The release whose GPCI the payments use (this one, or the GPCI in force).
    pub gpci_release_id: Option<String>,
    /// Why payments use another release's GPCI, or why there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// payments.parquet as written, for the manifest.
    #[serde(skip)]
    pub file: Option<package::FileEntry>,
}

/// `payments.parquet`: the rows CMS's payment file lists, at every locality of the GPCI in
/// force (see `payment::Payments` and `published::payments`).
fn write_payments(dir: &Path, output: &Path, normalized: &Normalized) -> Result<PaymentsReport> {
    let id = normalized.release_id;
    let tables = normalized.table_refs();
    let (Some(&rvus), gpci) = (
        tables.get(&TableKind::Pprrvu),
        tables.get(&TableKind::Gpci).copied(),
    ) else {
        return Ok(PaymentsReport {
            rows: 0,
            gpci_release_id: None,
            note: Some("no PPRRVU file: no payments".into()),
            file: None,
        });
    };
    let borrowed;
    let (gpci, gpci_id, note) = match gpci {
        Some(g) => (g, id, None),
        None => match gpci_in_force(output, id)? {
            Some((from, table)) => {
                borrowed = table;
                let note = format!(
                    "{id} has no GPCI file; payments use the GPCI in force, {from}'s (GPCIs are annual)"
                );
                tracing::warn!("{note}");
                (&borrowed, from, Some(note))
            }
            None => {
                let note = format!(
                    "{id} has no GPCI file and no published release of {} has one: no payments",
                    id.year
                );
                tracing::warn!("{note}");
                return Ok(PaymentsReport {
                    rows: 0,
                    gpci_release_id: None,
                    note: Some(note),
                    file: None,
                });
            }
        },
    };
    let name = "payments.parquet";
    let (rows, written) = payments::write_file(&dir.join(name), rvus, gpci)?;
    Ok(PaymentsReport {
        rows,
        gpci_release_id: Some(gpci_id.to_string()),
        note,
        file: Some(file_entry(name, written)),
    })
}

/// Pretty JSON with a trailing newline.
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(path, e))
}
