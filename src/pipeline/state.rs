//! Run state: one record per release version under `OUTPUT/.rvu/state/<version>.json`, saved
//! as each stage starts and when the release is published or quarantined.
//!
//! A version is a downloaded zip's sha256, or for a local zip or folder the sha256 of its
//! files' names, sizes and modification times (like `make`: a file rewritten in place with
//! the same size and time is not noticed; touch it). That is what lets an unchanged release
//! be skipped without reading it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::release::{Options, Stage};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub label: String,
    pub source: String,
    pub key: String,
    pub release_id: Option<String>,
    /// [`options_key`] of the run that wrote it.
    pub options: String,
    /// The last stage started.
    pub reached: Option<Stage>,
    pub status: RecordStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RecordStatus {
    Running,
    Published {
        release_id: String,
        manifest_sha256: String,
    },
    Quarantined {
        stage: Stage,
        reason: String,
        /// Relative to the output folder.
        folder: PathBuf,
    },
}

/// What decides the published bytes: the tool version and the options that change output.
pub fn options_key(options: &Options) -> String {
    let text = format!(
        "{} {:?} {} {} {} {} {} {} {} {:?} {:?} {:?}",
        env!("CARGO_PKG_VERSION"),
        options.normalize.formats,
        options.normalize.allow_format_mismatch,
        options.allow_invalid,
        options.cpt_descriptions,
        options.changes,
        options.changes_markdown,
        options.changes_html,
        options.changes_xlsx,
        options.errors,
        options.warnings,
        options.max_warnings,
    );
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The version of a local zip or folder: its path and every file's name, size and time.
pub fn local_version(path: &Path) -> Result<String> {
    let mut lines = vec![path.display().to_string()];
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::metadata(&p).map_err(|e| Error::io(&p, e))?;
        if meta.is_dir() {
            let entries = fs::read_dir(&p).map_err(|e| Error::io(&p, e))?;
            stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        } else {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let name = p.strip_prefix(path).unwrap_or(&p).display().to_string();
            lines.push(format!("{name}\t{}\t{modified}", meta.len()));
        }
    }
    lines[1..].sort();
    Ok(hex(&Sha256::digest(lines.join("\n").as_bytes())))
}

fn path_of(output: &Path, key: &str) -> PathBuf {
    output
        .join(".rvu")
        .join("state")
        .join(format!("{key}.json"))
}

pub fn read(output: &Path, key: &str) -> Option<Record> {
    serde_json::from_slice(&fs::read(path_of(output, key)).ok()?).ok()
}

/// Saves a record (written aside, then renamed: a kill never leaves half a record).
pub fn write(output: &Path, record: &Record) -> Result<()> {
    let path = path_of(output, &record.key);
    let dir = path.parent().unwrap_or(output);
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let temp = path.with_extension(format!("json.{}", std::process::id()));
    let text = serde_json::to_string_pretty(record).unwrap_or_default() + "\n";
    fs::write(&temp, text).map_err(|e| Error::io(&temp, e))?;
    fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))
}
