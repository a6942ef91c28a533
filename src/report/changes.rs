//! The change report of a diff: `changes.csv` / `changes.parquet` (one row per changed field,
//! added or deleted key), `summary.json`, and beside them the reports for people: `report.md`
//! and `report.html` (facts, sections, templates) and `comparison.xlsx` (`workbook.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::facts::Facts;
use super::{render, sections};
use crate::error::{Error, Result};
use crate::stages::diff::{Change, Diff, Side};

#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Show CPT (AMA) and CDT (ADA) descriptions; public HCPCS Level II ones always show.
    pub cpt_descriptions: bool,
    /// Which reports for people to write beside the change data (`report.md`, `report.html`).
    pub markdown: bool,
    pub html: bool,
    /// `comparison.xlsx`, the workbook analysts review changes in.
    pub xlsx: bool,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            cpt_descriptions: true,
            markdown: true,
            html: true,
            xlsx: true,
        }
    }
}

/// Writes DIR/changes/<A>..<B>/ atomically (staging, then rename); returns the folder.
pub fn write(
    output: &Path,
    diff: &Diff,
    from: &Side,
    to: &Side,
    options: &ReportOptions,
) -> Result<PathBuf> {
    stage(output, diff, from, to, options)?.commit()
}

/// A change report written to `.staging/`, waiting to be moved into `changes/`.
#[derive(Debug)]
pub struct Staged {
    staging: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// Moves the report into place (replacing an older one for the same pair).
    pub fn commit(self) -> Result<PathBuf> {
        crate::published::replace_dir(&self.staging, &self.target)?;
        Ok(self.target)
    }

    /// Where the comparison workbook goes when it is written apart from [`stage`] (the
    /// pipeline writes it on another thread while the release is published).
    pub fn workbook_path(&self) -> PathBuf {
        self.staging.join(WORKBOOK)
    }

    /// Removes the staged report, which will not be moved into place.
    pub fn discard(self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}

const WORKBOOK: &str = "comparison.xlsx";

/// Writes `comparison.xlsx`, the workbook analysts review the changes in, and logs the time.
pub fn write_workbook(
    path: &Path,
    diff: &Diff,
    from: &Side,
    to: &Side,
    options: &ReportOptions,
) -> Result<()> {
    let clock = std::time::Instant::now();
    super::workbook::write_comparison(path, diff, from, to, options)?;
    tracing::info!(
        ms = clock.elapsed().as_millis() as u64,
        "wrote comparison.xlsx for {}..{}",
        from.id,
        to.id
    );
    Ok(())
}

/// Writes the change report of `diff` into a staging folder; [`Staged::commit`] publishes it.
pub fn stage(
    output: &Path,
    diff: &Diff,
    from: &Side,
    to: &Side,
    options: &ReportOptions,
) -> Result<Staged> {
    // Named from the typed ids (never from free text), so the folder cannot escape `changes/`.
    let name = format!("{}..{}", from.id, to.id);
    let root = output.join("changes");
    let staging = output
        .join(".staging")
        .join(format!("changes-{name}.{}", std::process::id()));
    for dir in [&root, &staging] {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let result = (|| {
        write_csv(&staging.join("changes.csv"), diff)?;
        write_parquet(&staging.join("changes.parquet"), diff)?;
        let summary = serde_json::to_string_pretty(diff).map_err(|e| Error::Output {
            what: "summary.json".into(),
            message: e.to_string(),
        })?;
        let report = sections::report(&Facts::gather(diff, from, to, options));
        let mut files = vec![("summary.json", summary + "\n")];
        if options.markdown {
            files.push(("report.md", render::markdown(&report)?));
        }
        if options.html {
            files.push(("report.html", render::html(&report)?));
        }
        for (file, text) in files {
            let path = staging.join(file);
            fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        }
        if options.xlsx {
            write_workbook(&staging.join(WORKBOOK), diff, from, to, options)?;
        }
        Ok(())
    })();
    if let Err(err) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    Ok(Staged {
        staging,
        target: root.join(&name),
    })
}

const CHANGE_COLUMNS: [&str; 15] = [
    "from_release",
    "to_release",
    "table",
    "change",
    "key",
    "variant",
    "hcpcs",
    "modifier",
    "mac",
    "locality",
    "field",
    "old_value",
    "new_value",
    "delta",
    "pct_delta",
];

fn change_cells(diff: &Diff, c: &Change) -> [String; 15] {
    let key = |name| c.key_value(name).unwrap_or("").to_string();
    [
        diff.from.release_id.clone(),
        diff.to.release_id.clone(),
        c.table.name().to_string(),
        c.change.name().to_string(),
        c.key.clone(),
        key("variant"),
        key("hcpcs"),
        key("modifier"),
        key("mac"),
        key("locality"),
        c.field.clone(),
        c.old_value.clone(),
        c.new_value.clone(),
        c.delta.clone().unwrap_or_default(),
        c.pct_delta.map(|p| format!("{p:.2}")).unwrap_or_default(),
    ]
}

fn write_csv(path: &Path, diff: &Diff) -> Result<()> {
    let fail = |e: csv::Error| Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_path(path).map_err(fail)?;
    writer.write_record(CHANGE_COLUMNS).map_err(fail)?;
    for change in &diff.changes {
        writer
            .write_record(change_cells(diff, change))
            .map_err(fail)?;
    }
    writer.flush().map_err(|e| Error::io(path, e))
}

fn write_parquet(path: &Path, diff: &Diff) -> Result<()> {
    let fail = |message: String| Error::Output {
        what: path.display().to_string(),
        message,
    };
    let rows: Vec<[String; 15]> = diff.changes.iter().map(|c| change_cells(diff, c)).collect();
    let mut columns: Vec<Column> = CHANGE_COLUMNS[..13]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values: StringChunked = rows
                .iter()
                .map(|r| (!r[i].is_empty() || i == 7).then_some(r[i].as_str()))
                .collect();
            values.into_series().with_name((*name).into()).into_column()
        })
        .collect();
    for (i, name) in [(13, "delta"), (14, "pct_delta")] {
        let values: Float64Chunked = rows.iter().map(|r| r[i].parse::<f64>().ok()).collect();
        columns.push(values.into_series().with_name(name.into()).into_column());
    }
    let mut df = DataFrame::new(rows.len(), columns).map_err(|e| fail(e.to_string()))?;
    crate::published::write_frame(path, &mut df).map(drop)
}
