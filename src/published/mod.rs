//! The published tree: the one module that knows the layout of an output folder and reads
//! and writes it for everyone (publish, history, codes, lookup, diff, the pipeline, sinks).
//!
//! ```text
//! OUTPUT/releases/<ID>/      pprrvu.csv/.parquet, gpci..., payments.parquet, manifest.json,
//!                            ingest.json, datapackage.json, validation.md/.json,
//!                            revisions/r<N>/ (earlier revisions)
//! OUTPUT/latest.json         the newest published release
//! OUTPUT/history/            pprrvu, gpci, conversion_factors, codes (.parquet, codes.jsonl)
//! OUTPUT/changes/<A>..<B>/   change data and reports
//! OUTPUT/.staging/           work in progress, renamed into place when complete
//! ```
//!
//! Every folder is written under `.staging/` and swapped in with [`replace_dir`].

pub mod payments;
pub mod write;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::package;
use crate::stages::extract::Extracted;
use crate::tables::{Table, TableKind};

pub use write::{polars_error, timed, to_dataframe, write_csv, write_frame, write_parquet};

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

/// A published table read back from its Parquet file, typed as it was published; with
/// `only = Some((column, value))`, just the rows whose `column` holds `value`. A column the
/// file lacks is an error naming the file and the column.
pub fn read_table(dir: &Path, kind: TableKind, only: Option<(&str, &str)>) -> Result<Table> {
    use polars::prelude::*;
    let path = dir.join(format!("{}.parquet", kind.name()));
    let fail = |e: PolarsError| polars_error(&path, e);
    let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut frame = ParquetReader::new(file).finish().map_err(fail)?;
    let missing = |column: &str| Error::SchemaDrift {
        location: Box::new(crate::error::Location::file(path.display().to_string())),
        table: kind.name(),
        details: format!("the published file has no column '{column}'"),
    };
    if let Some((column, value)) = only {
        let mask = frame
            .column(column)
            .map_err(|_| missing(column))?
            .as_materialized_series()
            .str()
            .map_err(fail)?
            .equal(value);
        frame = frame.filter(&mask).map_err(fail)?;
    }
    let mut columns = Vec::with_capacity(kind.columns().len());
    for spec in kind.columns() {
        let series = frame
            .column(spec.name)
            .map_err(|_| missing(spec.name))?
            .as_materialized_series()
            .clone();
        let values: Vec<crate::tables::Value> = match spec.kind {
            crate::tables::Kind::Decimal { .. } => series
                .decimal()
                .map_err(fail)?
                .physical()
                .iter()
                .map(|v| {
                    v.and_then(|m| i64::try_from(m).ok())
                        .map_or(crate::tables::Value::Null, crate::tables::Value::Dec)
                })
                .collect(),
            crate::tables::Kind::Flag { .. } => series
                .bool()
                .map_err(fail)?
                .iter()
                .map(|v| v.map_or(crate::tables::Value::Null, crate::tables::Value::Bool))
                .collect(),
            _ => series
                .str()
                .map_err(fail)?
                .iter()
                .map(|v| {
                    v.map_or(crate::tables::Value::Null, |t| {
                        crate::tables::Value::Text(t.into())
                    })
                })
                .collect(),
        };
        columns.push(values);
    }
    let rows = (0..frame.height())
        .map(|r| crate::tables::Record {
            values: columns.iter().map(|c| c[r].clone()).collect(),
            source_row: r + 2,
        })
        .collect();
    Ok(Table {
        kind,
        file: path.display().to_string(),
        rows,
        skipped_rows: 0,
    })
}

/// One text column of a published table, every row (e.g. the codes of a release).
pub fn read_column(dir: &Path, kind: TableKind, column: &str) -> Result<Vec<String>> {
    use polars::prelude::*;
    let path = dir.join(format!("{}.parquet", kind.name()));
    let fail = |e: PolarsError| polars_error(&path, e);
    let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let frame = ParquetReader::new(file)
        .with_columns(Some(vec![column.to_string()]))
        .finish()
        .map_err(fail)?;
    let values = frame
        .column(column)
        .map_err(fail)?
        .str()
        .map_err(fail)?
        .clone();
    Ok(values.iter().flatten().map(str::to_string).collect())
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
