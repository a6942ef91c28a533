//! Pipeline definitions (`pipelines/*.toml`): where releases come from, which ones, where the
//! datasets go, what is parsed and cross-checked, how strict validation is and which reports
//! are written. Unknown keys are errors, so a typo never silently falls back to a default.
//! Relative paths are relative to the definition file, so a definition runs the same from
//! any working directory (cron, CI).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::ReleaseId;
use crate::error::{Error, Result};
use crate::read::Format;
use crate::stages::validate::RULES;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// A short name, shown in the summary.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The output root (datasets, history, change reports, raw downloads, run state).
    pub output: PathBuf,
    pub source: Source,
    #[serde(default)]
    pub select: Select,
    #[serde(default)]
    pub parse: Parse,
    #[serde(default)]
    pub validation: Validation,
    #[serde(default)]
    pub reports: Reports,
    /// Where published releases go next (a database), after every release is published.
    #[serde(default)]
    pub sink: Sinks,
}

/// The optional sinks a run ends with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sinks {
    pub postgres: Option<PostgresSink>,
}

/// `[sink.postgres]`: `rvu load` after publishing, so the database is up to date when the
/// run ends. Leave the password out of the file: it is taken from `PGPASSWORD`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSink {
    /// A `postgres://` URL or `key=value` pairs; `DATABASE_URL` / `PG*` when left out.
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default = "default_schema")]
    pub schema: String,
}

fn default_schema() -> String {
    "rvu".into()
}

/// Where releases come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// The CMS index page: every release it links to, downloaded into OUTPUT/raw/.
    CmsIndex {
        /// The index page (https://, file:// or a local HTML file).
        #[serde(default = "default_index_url")]
        index_url: String,
        #[serde(default)]
        http: Http,
    },
    /// Release zips or folders on disk.
    Local {
        /// Each one release (a zip, or a folder of its files).
        #[serde(default)]
        paths: Vec<PathBuf>,
        /// Folders whose every zip and sub-folder is one release.
        #[serde(default)]
        folders: Vec<PathBuf>,
    },
}

fn default_index_url() -> String {
    crate::stages::discover::CMS_INDEX_URL.to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    #[serde(default = "Http::default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "Http::default_retries")]
    pub retries: u32,
    #[serde(default = "Http::default_jobs")]
    pub jobs: usize,
    #[serde(default = "Http::default_backoff")]
    pub backoff_ms: u64,
}

impl Http {
    fn default_timeout() -> u64 {
        60
    }
    fn default_retries() -> u32 {
        4
    }
    fn default_jobs() -> usize {
        4
    }
    fn default_backoff() -> u64 {
        500
    }

    pub fn options(&self) -> crate::http::HttpOptions {
        crate::http::HttpOptions {
            timeout: std::time::Duration::from_secs(self.timeout_secs),
            retries: self.retries,
            backoff: std::time::Duration::from_millis(self.backoff_ms),
            jobs: self.jobs.max(1),
            ..Default::default()
        }
    }
}

impl Default for Http {
    fn default() -> Http {
        Http {
            timeout_secs: Http::default_timeout(),
            retries: Http::default_retries(),
            jobs: Http::default_jobs(),
            backoff_ms: Http::default_backoff(),
        }
    }
}

/// Which releases to take.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// The first release to take (RVU24A takes RVU24A, RVU24AR, RVU24B, ...).
    #[serde(default)]
    pub since: Option<ReleaseId>,
    /// Only these releases (empty: all).
    #[serde(default)]
    pub only: Vec<ReleaseId>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parse {
    /// Formats to parse and cross-check (`csv`, `xlsx`, `txt`); empty: every one present.
    #[serde(default)]
    pub formats: Vec<Format>,
    /// Publish even when the formats of a table disagree (reported as warnings).
    #[serde(default)]
    pub allow_format_mismatch: bool,
}

/// How strict validation is. A release that fails it is quarantined, not published.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Publish releases with validation errors anyway (marked invalid).
    #[serde(default)]
    pub allow_invalid: bool,
    /// Quarantine a release whose failed warning rules exceed this many.
    #[serde(default)]
    pub max_warnings: Option<usize>,
    /// Rules whose findings are errors here (even when the catalog says warning).
    #[serde(default)]
    pub errors: Vec<String>,
    /// Rules whose findings are only warnings here.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// Diff each release against the prior one (changes/<A>..<B>/).
    #[serde(default = "yes")]
    pub changes: bool,
    /// The change reports for people (the change data, csv, parquet and summary.json, is
    /// always written).
    #[serde(default = "ReportFormat::all")]
    pub formats: Vec<ReportFormat>,
    /// Keep CPT (AMA) and CDT (ADA) descriptions in datasets and reports.
    #[serde(default = "yes")]
    pub cpt_descriptions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Markdown,
    Html,
    /// `comparison.xlsx`, the workbook analysts review changes in.
    Xlsx,
}

impl ReportFormat {
    fn all() -> Vec<ReportFormat> {
        vec![
            ReportFormat::Markdown,
            ReportFormat::Html,
            ReportFormat::Xlsx,
        ]
    }
}

fn yes() -> bool {
    true
}

impl Default for Reports {
    fn default() -> Reports {
        Reports {
            changes: true,
            formats: ReportFormat::all(),
            cpt_descriptions: true,
        }
    }
}

impl Definition {
    /// Reads and checks a definition; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Definition> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut definition = Definition::parse(&text).map_err(|message| Error::Definition {
            path: path.display().to_string(),
            message,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        definition.resolve(base);
        Ok(definition)
    }

    /// Parses and checks a definition's text.
    pub fn parse(text: &str) -> std::result::Result<Definition, String> {
        let definition: Definition = toml::from_str(text).map_err(|e| e.to_string())?;
        definition.check()?;
        Ok(definition)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let unknown: Vec<&str> = self
            .validation
            .errors
            .iter()
            .chain(&self.validation.warnings)
            .filter(|id| !RULES.iter().any(|r| r.id == id.as_str()))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "[validation] names unknown rules: {} (see `rvu rules`)",
                unknown.join(", ")
            ));
        }
        if let Source::Local { paths, folders } = &self.source
            && paths.is_empty()
            && folders.is_empty()
        {
            return Err("[source] kind = \"local\" needs `paths` or `folders`".into());
        }
        Ok(())
    }

    fn resolve(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = clean(&base.join(&*p));
            }
        };
        join(&mut self.output);
        if let Source::Local { paths, folders } = &mut self.source {
            paths.iter_mut().chain(folders.iter_mut()).for_each(join);
        }
    }
}

/// `pipelines/../output` -> `output`, lexically (so messages show the path people expect).
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_cleaned() {
        assert_eq!(clean(Path::new("pipelines/../output")), Path::new("output"));
        assert_eq!(
            clean(Path::new("pipelines/../../shared/x")),
            Path::new("../shared/x")
        );
        assert_eq!(clean(Path::new("./a/./b/..")), Path::new("a"));
        assert_eq!(clean(Path::new("/a/../b")), Path::new("/b"));
    }

    #[test]
    fn a_minimal_local_definition_parses_with_defaults() {
        let d = Definition::parse(
            "name = \"t\"\noutput = \"out\"\n[source]\nkind = \"local\"\npaths = [\"a.zip\"]\n",
        )
        .unwrap();
        assert!(d.reports.changes && d.reports.cpt_descriptions);
        assert!(d.parse.formats.is_empty());
        assert!(matches!(d.source, Source::Local { ref paths, .. } if paths.len() == 1));
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let err = Definition::parse(
            "name = \"t\"\noutput = \"out\"\n[source]\nkind = \"local\"\npaths = [\"a\"]\n[select]\nsinse = \"RVU25A\"\n",
        )
        .unwrap_err();
        assert!(err.contains("sinse"), "{err}");
        let err = Definition::parse("name = \"t\"\noutput = \"o\"\nsource = { kind = \"ftp\" }\n")
            .unwrap_err();
        assert!(err.contains("ftp"), "{err}");
    }

    #[test]
    fn rule_names_and_release_ids_are_checked() {
        let base = "name = \"t\"\noutput = \"o\"\n[source]\nkind = \"local\"\npaths = [\"a\"]\n";
        let err = Definition::parse(&format!(
            "{base}[validation]\nerrors = [\"no.such.rule\"]\n"
        ))
        .unwrap_err();
        assert!(err.contains("no.such.rule"), "{err}");
        let err = Definition::parse(&format!("{base}[select]\nsince = \"2025\"\n")).unwrap_err();
        assert!(err.contains("2025"), "{err}");
    }
}
