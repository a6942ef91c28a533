//! What a published release says about itself: `manifest.json` (where it came from, what it
//! holds, which revision it is) and a Frictionless `datapackage.json` (fields, types, keys and
//! checksums), so any consumer can load and check it without this tool.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::stages::extract::Extracted;
use crate::stages::validate::Report;
use crate::tables::{Kind, TableKind};

/// Bumped when a canonical column changes meaning or type.
pub const SCHEMA_VERSION: &str = "2";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub table: TableKind,
    pub rows: usize,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationSummary {
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub release_id: String,
    /// 1 for the first content published under this id; a re-post is revision 2, ...
    pub revision: u32,
    pub source: String,
    pub archive_sha256: Option<String>,
    pub members: Vec<MemberEntry>,
    pub tables: Vec<TableEntry>,
    /// Derived datasets (payments.parquet).
    #[serde(default)]
    pub other_files: Vec<FileEntry>,
    pub schema_version: String,
    pub tool_version: String,
    pub validation: ValidationSummary,
}

impl Manifest {
    pub fn read(release_dir: &Path) -> Option<Manifest> {
        serde_json::from_slice(&fs::read(release_dir.join("manifest.json")).ok()?).ok()
    }

    /// The member files (name, sha256) a release was built from, sorted.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        sorted(
            self.members
                .iter()
                .map(|m| (m.name.clone(), m.sha256.clone())),
        )
    }
}

/// The member files (name, sha256) of an extracted release, sorted.
pub fn fingerprint(extracted: &Extracted) -> Vec<(String, String)> {
    sorted(
        extracted
            .members
            .iter()
            .map(|m| (m.name.clone(), m.sha256.clone())),
    )
}

fn sorted(pairs: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = pairs.collect();
    pairs.sort();
    pairs
}

/// Builds the manifest of a release folder from what was written into it: each table's
/// files, and the derived ones (payments.parquet).
pub fn manifest(
    release_id: &str,
    revision: u32,
    extracted: &Extracted,
    tables: Vec<TableEntry>,
    other_files: Vec<FileEntry>,
    validation: &Report,
) -> Manifest {
    Manifest {
        release_id: release_id.to_string(),
        revision,
        source: extracted.source.clone(),
        archive_sha256: extracted.archive.as_ref().map(|(_, sha)| sha.clone()),
        members: extracted
            .members
            .iter()
            .map(|m| MemberEntry {
                name: m.name.clone(),
                sha256: m.sha256.clone(),
                bytes: m.bytes.len() as u64,
            })
            .collect(),
        tables,
        other_files,
        schema_version: SCHEMA_VERSION.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        validation: ValidationSummary {
            valid: validation.valid,
            errors: validation.errors,
            warnings: validation.warnings,
        },
    }
}

fn field_type(kind: Kind) -> serde_json::Value {
    match kind {
        Kind::Decimal { .. } => json!({"type": "number"}),
        Kind::Flag { .. } => {
            json!({"type": "boolean", "trueValues": ["true"], "falseValues": ["false"]})
        }
        _ => json!({"type": "string"}),
    }
}

/// A Frictionless (v1) tabular data package for the release's CSV files.
pub fn datapackage(manifest: &Manifest) -> serde_json::Value {
    let resources: Vec<serde_json::Value> = manifest
        .tables
        .iter()
        .filter_map(|entry| {
            let csv = entry.files.iter().find(|f| f.path.ends_with(".csv"))?;
            let fields: Vec<serde_json::Value> = entry
                .table
                .columns()
                .iter()
                .map(|c| {
                    let mut field = field_type(c.kind);
                    field["name"] = json!(c.name);
                    field
                })
                .collect();
            let mut schema = json!({"fields": fields, "missingValues": [""]});
            // LOCCO lists one locality twice, as CMS does: it declares no primary key.
            if entry.table != TableKind::Locco {
                let mut key = vec!["release_id"];
                key.extend(entry.table.key());
                schema["primaryKey"] = json!(key);
            }
            Some(json!({
                "name": entry.table.name(),
                "path": csv.path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": csv.bytes,
                "hash": format!("sha256:{}", csv.sha256),
                "schema": schema,
            }))
        })
        .collect();
    json!({
        "profile": "tabular-data-package",
        "name": manifest.release_id.to_ascii_lowercase(),
        "title": format!("CMS PFS Relative Value Files {} (revision {})", manifest.release_id, manifest.revision),
        "version": format!("{}.0.0", manifest.revision),
        "sources": [{"title": "CMS PFS Relative Value Files", "path": manifest.source}],
        "resources": resources,
        // Parquet-only datasets, described beside the CSV resources (outside `resources`, so
        // a CSV-only validator reads the package as before).
        "derived": derived(manifest),
    })
}

/// `payments.parquet`'s schema, as the README documents it.
fn derived(manifest: &Manifest) -> Vec<serde_json::Value> {
    const MONEY: &str = "decimal(10,2) dollars";
    let described: [(&str, &str, &str); 19] = [
        ("release_id", "string", "the release"),
        ("variant", "string", "standard; 2026+: non_qpp or qpp"),
        ("hcpcs", "string", "HCPCS code"),
        ("modifier", "string", "modifier, empty when blank"),
        ("mac", "string", "Medicare administrative contractor"),
        ("locality", "string", "locality number"),
        ("status_code", "string", "PPRRVU status (A, R or T)"),
        (
            "nonfacility_na",
            "boolean",
            "PPRRVU marks the non-facility setting NA",
        ),
        (
            "facility_na",
            "boolean",
            "PPRRVU marks the facility setting NA",
        ),
        (
            "nonfacility_amount",
            MONEY,
            "fee schedule amount from the printed RVUs, before the OPPS cap (NA setting too)",
        ),
        (
            "facility_amount",
            MONEY,
            "fee schedule amount from the printed RVUs, before the OPPS cap (NA setting too)",
        ),
        (
            "nonfacility_opps_cap",
            MONEY,
            "OPPS-based cap from PPRRVU's OPPS RVUs; null when none",
        ),
        (
            "facility_opps_cap",
            MONEY,
            "OPPS-based cap from PPRRVU's OPPS RVUs; null when none",
        ),
        (
            "nonfacility_par",
            MONEY,
            "participating amount: the lower of amount and cap",
        ),
        (
            "facility_par",
            MONEY,
            "participating amount: the lower of amount and cap",
        ),
        ("nonfacility_nonpar", MONEY, "95% of par"),
        ("facility_nonpar", MONEY, "95% of par"),
        (
            "nonfacility_limiting_charge",
            MONEY,
            "115% of non-par (109.25% of par)",
        ),
        (
            "facility_limiting_charge",
            MONEY,
            "115% of non-par (109.25% of par)",
        ),
    ];
    manifest
        .other_files
        .iter()
        .filter(|f| f.path == "payments.parquet")
        .map(|f| {
            let fields: Vec<serde_json::Value> = described
                .iter()
                .map(|(name, kind, what)| {
                    let required = !crate::payment::may_be_null(name);
                    json!({
                        "name": name,
                        "type": kind,
                        "description": what,
                        "constraints": {"required": required},
                    })
                })
                .collect();
            json!({
                "name": "payments",
                "path": f.path,
                "format": "parquet",
                "bytes": f.bytes,
                "hash": format!("sha256:{}", f.sha256),
                "schema": {"fields": fields},
            })
        })
        .collect()
}
