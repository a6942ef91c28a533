//! Publish: a normalized release is written as Parquet and CSV datasets plus an ingest
//! report, into a staging folder that is renamed into place only when everything is written.
//! A failed run leaves the previously published release untouched.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use polars::io::parquet::write::KeyValueMetadata;
use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::package;
use crate::read::Format;
use crate::report;
use crate::stages::extract::Extracted;
use crate::stages::normalize::{CrossCheck, FormatSummary, Normalized};
use crate::stages::validate::Report;
use crate::tables::{Kind, Table, TableKind, Value};

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
    let result =
        write_release(&staging, output, extracted, normalized, validation).and_then(|tables| {
            let revision = keep_revisions(&target, &staging, extracted)?;
            write_package(
                &staging,
                &release_id,
                revision,
                extracted,
                &tables,
                validation,
            )?;
            Ok(tables)
        });
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
    validation: &Report,
) -> Result<()> {
    let rows: Vec<(TableKind, usize)> = tables.iter().map(|t| (t.table, t.rows)).collect();
    let manifest = package::manifest(dir, release_id, revision, extracted, &rows, validation)?;
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

fn write_release(
    dir: &Path,
    output: &Path,
    extracted: &Extracted,
    normalized: &Normalized,
    validation: &Report,
) -> Result<Vec<PublishedTable>> {
    let mut published = Vec::new();
    for (kind, normalized_table) in &normalized.tables {
        let table = &normalized_table.table;
        let name = kind.name();
        timed(name, "csv", || {
            write_csv(&dir.join(format!("{name}.csv")), table)
        })?;
        timed(name, "parquet", || {
            write_parquet(&dir.join(format!("{name}.parquet")), table)
        })?;
        published.push(PublishedTable {
            table: *kind,
            rows: table.rows.len(),
            rows_by_variant: rows_by_variant(table),
            primary_format: normalized_table.primary,
            formats: normalized_table.parsed.clone(),
            cross_checks: normalized_table.cross_checks.clone(),
        });
    }
    let payments = timed("payments", "parquet", || {
        write_payments(dir, output, normalized)
    })?;
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
    Ok(published)
}

/// Runs one dataset write and logs its time (`RUST_LOG=info`, the default in CI logs), so a
/// regression in one dataset shows where it is.
pub fn timed<T>(dataset: &str, format: &str, write: impl FnOnce() -> Result<T>) -> Result<T> {
    let clock = std::time::Instant::now();
    let result = write();
    tracing::info!(
        dataset,
        format,
        ms = format!("{:.1}", clock.elapsed().as_secs_f64() * 1000.0),
        "published"
    );
    result
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

/// Writes the payments of `rvus` at every locality of `gpci` to a Parquet file, a row group
/// at a time; returns the number of rows.
pub fn write_payments_file(path: &Path, rvus: &Table, gpci: &Table) -> Result<usize> {
    let fail = |e: PolarsError| polars_error(path, e);
    let mut writer: Option<polars::io::parquet::write::BatchedWriter<fs::File>> = None;
    let rows = crate::payment::frames(rvus, gpci, 1 << 17, |df| {
        if writer.is_none() {
            let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
            writer = Some(
                parquet_writer(file, df.schema())
                    .batched(df.schema())
                    .map_err(fail)?,
            );
        }
        match writer.as_mut() {
            Some(w) => w.write_batch(df).map_err(fail),
            None => Ok(()),
        }
    })?;
    if let Some(w) = writer {
        w.finish().map_err(fail)?;
    }
    Ok(rows)
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
}

/// The GPCI in force for a release without a GPCI file: GPCIs are annual, so the newest
/// published release of the same calendar year that has one, preferring those before `id`.
pub fn gpci_in_force(
    output: &Path,
    id: crate::catalog::ReleaseId,
) -> Result<Option<(crate::catalog::ReleaseId, Table)>> {
    // `published` lists oldest first: try the releases before `id` newest first, then those
    // after it nearest first.
    let (before, after): (Vec<_>, Vec<_>) = published(output)
        .into_iter()
        .filter(|(r, dir)| r.year == id.year && *r != id && dir.join("gpci.csv").is_file())
        .partition(|(r, _)| *r < id);
    for (r, dir) in before.into_iter().rev().chain(after) {
        if let Some(table) = load_tables(&dir, &[TableKind::Gpci])?.remove(&TableKind::Gpci) {
            return Ok(Some((r, table)));
        }
    }
    Ok(None)
}

/// `payments.parquet`: the rows CMS's payment file lists, at every locality of the GPCI in
/// force (see `payment::frames`), written a row group at a time so the two million rows of
/// a 2026 release never sit in memory at once.
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
                });
            }
        },
    };
    let rows = write_payments_file(&dir.join("payments.parquet"), rvus, gpci)?;
    Ok(PaymentsReport {
        rows,
        gpci_release_id: Some(gpci_id.to_string()),
        note,
    })
}

/// Pretty JSON with a trailing newline.
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Replaces the folder `target` with `staging`. On Linux the two are exchanged in one
/// atomic rename (`renameat2` with `RENAME_EXCHANGE`), so a reader always sees one complete
/// version; elsewhere, or where the filesystem cannot exchange, the old folder is moved
/// aside first (a moment without `target`; a run killed then leaves it beside, and the next
/// run rebuilds what is missing). Either way the old folder is removed last.
pub fn replace_dir(staging: &Path, target: &Path) -> Result<()> {
    let aside = staging.with_extension("previous");
    if !target.exists() {
        return fs::rename(staging, target).map_err(|e| Error::io(target, e));
    }
    if exchange(staging, target).is_ok() {
        // `staging` now holds the old version.
        return fs::remove_dir_all(staging).map_err(|e| Error::io(staging, e));
    }
    fs::rename(target, &aside).map_err(|e| Error::io(target, e))?;
    if let Err(e) = fs::rename(staging, target) {
        let _ = fs::rename(&aside, target);
        return Err(Error::io(target, e));
    }
    fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// A published release read back: its id (the folder name) and the tables it holds.
pub fn load_release(dir: &Path) -> Result<(crate::catalog::ReleaseId, BTreeMap<TableKind, Table>)> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = name.parse().map_err(|e: String| {
        Error::Release(format!(
            "{}: not a published release folder ({e})",
            dir.display()
        ))
    })?;
    let tables = load_tables(dir, &TableKind::ALL)?;
    if tables.is_empty() {
        return Err(Error::Release(format!(
            "{}: no published tables (pprrvu.csv, gpci.csv, ...) in this folder",
            dir.display()
        )));
    }
    Ok((id, tables))
}

/// The published release (if any) built from exactly these member files (names and sha256)
/// by this tool version, and valid: ingesting them again would write the same bytes.
pub fn published_from(output: &Path, extracted: &Extracted) -> Option<String> {
    let ours = package::fingerprint(extracted);
    published(output).into_iter().find_map(|(id, dir)| {
        let manifest = package::Manifest::read(&dir)?;
        let same = manifest.validation.valid
            && manifest.tool_version == env!("CARGO_PKG_VERSION")
            && manifest.fingerprint() == ours;
        same.then(|| id.to_string())
    })
}

/// The release facts a published release recorded in its ingest.json.
pub fn release_info(dir: &Path, id: crate::catalog::ReleaseId) -> crate::stages::diff::ReleaseInfo {
    let json: serde_json::Value = fs::read(dir.join("ingest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_string);
    crate::stages::diff::ReleaseInfo {
        release_id: id.to_string(),
        released: text("released"),
        source: text("source"),
        sha256: text("archive_sha256"),
    }
}

/// The latest release published under `output` before `id`, read back.
pub fn load_prior(
    output: &Path,
    id: crate::catalog::ReleaseId,
) -> Result<Option<crate::stages::diff::Loaded>> {
    let Some((_, dir)) = prior_release(output, id) else {
        return Ok(None);
    };
    let (prior_id, tables) = load_release(&dir)?;
    let info = release_info(&dir, prior_id);
    Ok(Some(crate::stages::diff::Loaded {
        id: prior_id,
        info,
        tables,
    }))
}

/// The given tables of a published release folder (those it has).
pub fn load_tables(dir: &Path, kinds: &[TableKind]) -> Result<BTreeMap<TableKind, Table>> {
    let mut tables = BTreeMap::new();
    for &kind in kinds {
        let path = dir.join(format!("{}.csv", kind.name()));
        if !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let grid = crate::read::csv::read_utf8(&path.display().to_string(), &bytes)?;
        tables.insert(kind, Table::from_canonical(kind, &grid)?);
    }
    Ok(tables)
}

/// The latest release published under `output` that comes before `id` (the prior release).
pub fn prior_release(
    output: &Path,
    id: crate::catalog::ReleaseId,
) -> Option<(crate::catalog::ReleaseId, PathBuf)> {
    published(output)
        .into_iter()
        .rfind(|(other, _)| *other < id)
}

/// The releases published under `output` (folders named by a release id), oldest first.
pub fn published(output: &Path) -> Vec<(crate::catalog::ReleaseId, PathBuf)> {
    let mut out: Vec<(crate::catalog::ReleaseId, PathBuf)> = fs::read_dir(output.join("releases"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| Some((e.file_name().to_string_lossy().parse().ok()?, e.path())))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// CSV with the canonical header; decimals at their precision, booleans as true/false.
pub fn write_csv(path: &Path, table: &Table) -> Result<()> {
    let fail = |e: csv::Error| Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_path(path).map_err(fail)?;
    let columns = table.columns();
    writer
        .write_record(columns.iter().map(|c| c.name))
        .map_err(fail)?;
    for record in &table.rows {
        writer
            .write_record(
                record
                    .values
                    .iter()
                    .zip(columns)
                    .map(|(v, c)| v.render(c.kind)),
            )
            .map_err(fail)?;
    }
    writer.flush().map_err(|e| Error::io(path, e))
}

/// The table as a typed DataFrame: text as String, decimals as Decimal(p, s), flags as Boolean.
pub fn to_dataframe(table: &Table) -> PolarsResult<DataFrame> {
    let columns = table
        .columns()
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let name = PlSmallStr::from_static(spec.name);
            let values = table.rows.iter().map(|r| &r.values[i]);
            let series = match spec.kind {
                Kind::Decimal { precision, scale } => {
                    let ints: Int128Chunked = values
                        .map(|v| match v {
                            Value::Dec(m) => Some(i128::from(*m)),
                            _ => None,
                        })
                        .collect();
                    ints.into_decimal(precision, scale as usize)?
                        .into_series()
                        .with_name(name)
                }
                Kind::Flag { .. } => {
                    let flags: BooleanChunked = values
                        .map(|v| match v {
                            Value::Bool(b) => Some(*b),
                            _ => None,
                        })
                        .collect();
                    flags.into_series().with_name(name)
                }
                Kind::Text | Kind::FreeText | Kind::KeyText | Kind::Code { .. } => {
                    let texts: StringChunked = values.map(|v| v.as_text()).collect();
                    texts.into_series().with_name(name)
                }
            };
            Ok(series.into_column())
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(table.rows.len(), columns)
}

pub fn write_parquet(path: &Path, table: &Table) -> Result<()> {
    let mut df = to_dataframe(table).map_err(|e| polars_error(path, e))?;
    write_frame(path, &mut df)
}

/// Writes a frame as zstd-compressed Parquet (every dataset this tool publishes).
pub fn write_frame(path: &Path, df: &mut DataFrame) -> Result<()> {
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let schema = df.schema().clone();
    parquet_writer(file, &schema)
        .finish(df)
        .map_err(|e| polars_error(path, e))?;
    Ok(())
}

/// A zstd Parquet writer whose stored Arrow schema declares plain `utf8` strings.
///
/// Polars writes the string data the same either way, but it declares its in-memory
/// `string_view` type in the file's `ARROW:schema`, and pyarrow then reads `string_view`
/// columns that many of its kernels, and older readers (Spark, BI tools), cannot use. The
/// writer keeps a schema given under that key, so this one replaces polars' own.
fn parquet_writer(file: fs::File, schema: &Schema) -> ParquetWriter<fs::File> {
    let mut arrow = schema.to_arrow(CompatLevel::oldest());
    for field in arrow.iter_values_mut() {
        field.dtype = match &field.dtype {
            ArrowDataType::Utf8View | ArrowDataType::LargeUtf8 => ArrowDataType::Utf8,
            ArrowDataType::BinaryView | ArrowDataType::LargeBinary => ArrowDataType::Binary,
            other => other.clone(),
        };
    }
    let declared = polars_parquet::write::schema_to_metadata_key(&arrow);
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(KeyValueMetadata::Static(vec![declared])))
}

pub fn polars_error(path: &Path, e: PolarsError) -> Error {
    Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_dir_puts_the_new_folder_in_place_and_removes_the_old() {
        let root = tempfile::tempdir().unwrap();
        let (staging, target) = (root.path().join("new.1"), root.path().join("target"));
        for (dir, text) in [(&staging, "new"), (&target, "old")] {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join("f.txt"), text).unwrap();
        }
        fs::write(target.join("only-old.txt"), "x").unwrap();
        replace_dir(&staging, &target).unwrap();
        assert_eq!(fs::read_to_string(target.join("f.txt")).unwrap(), "new");
        assert!(!target.join("only-old.txt").exists());
        assert!(!staging.exists() && !staging.with_extension("previous").exists());
        // Into an empty place, too.
        let fresh = root.path().join("fresh.2");
        fs::create_dir_all(&fresh).unwrap();
        replace_dir(&fresh, &root.path().join("other")).unwrap();
        assert!(root.path().join("other").is_dir());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn folders_are_exchanged_atomically_here() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        for dir in [&a, &b] {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(a.join("from-a"), "").unwrap();
        exchange(&a, &b).unwrap();
        assert!(b.join("from-a").is_file() && !a.join("from-a").exists());
    }
}
