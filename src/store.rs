//! The raw store: release zips kept once each, by sha256, under `OUTPUT/raw/`, and the
//! catalog (`OUTPUT/raw/catalog.json`) of every release version fetched: a release version is
//! (release id, zip URL, sha256), since CMS re-posts a release under the same id.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::ReleaseId;
use crate::error::{Error, Result};

/// One fetched version of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseVersion {
    /// 1 for the first content seen under this id, 2 for a re-post, ...
    pub version: u32,
    pub page_url: String,
    pub zip_url: String,
    pub sha256: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When this content was first downloaded (RFC 3339, UTC).
    pub fetched_at: String,
    /// When the source was last found to still serve it.
    pub checked_at: String,
}

/// Every version of every release fetched into one output folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub releases: BTreeMap<ReleaseId, Vec<ReleaseVersion>>,
}

impl Catalog {
    pub fn path(output: &Path) -> PathBuf {
        raw_dir(output).join("catalog.json")
    }

    /// The catalog of an output folder; empty when nothing was fetched yet.
    pub fn load(output: &Path) -> Result<Catalog> {
        let path = Catalog::path(output);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
                location: crate::error::Location::file(path.display().to_string()),
                message: format!("not a readable catalog: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Catalog::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes the catalog atomically (a temporary file, then a rename).
    pub fn save(&self, output: &Path) -> Result<()> {
        let path = Catalog::path(output);
        let dir = raw_dir(output);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Output {
            what: path.display().to_string(),
            message: e.to_string(),
        })?;
        let temp = dir.join(format!(".catalog.{}.json", std::process::id()));
        fs::write(&temp, json).map_err(|e| Error::io(&temp, e))?;
        fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))
    }

    pub fn latest(&self, id: &ReleaseId) -> Option<&ReleaseVersion> {
        self.releases.get(id).and_then(|v| v.last())
    }

    /// The latest version fetched from this zip URL.
    pub fn latest_from(&self, id: &ReleaseId, zip_url: &str) -> Option<&ReleaseVersion> {
        self.releases
            .get(id)?
            .iter()
            .rev()
            .find(|v| v.zip_url == zip_url)
    }

    /// Records content for a release: a known sha256 only refreshes its validators and check
    /// time; new content becomes the next version. Returns the version and whether it is new.
    pub fn record(&mut self, id: ReleaseId, mut version: ReleaseVersion) -> (u32, bool) {
        let versions = self.releases.entry(id).or_default();
        if let Some(known) = versions.iter_mut().find(|v| v.sha256 == version.sha256) {
            known.etag = version.etag.or(known.etag.take());
            known.last_modified = version.last_modified.or(known.last_modified.take());
            known.checked_at = version.checked_at;
            known.zip_url = version.zip_url;
            known.page_url = version.page_url;
            return (known.version, false);
        }
        version.version = versions.len() as u32 + 1;
        let number = version.version;
        versions.push(version);
        (number, true)
    }
}

pub fn raw_dir(output: &Path) -> PathBuf {
    output.join("raw")
}

/// Where a zip with this sha256 is kept.
pub fn raw_zip(output: &Path, sha256: &str) -> PathBuf {
    raw_dir(output).join(format!("{sha256}.zip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(sha: &str) -> ReleaseVersion {
        ReleaseVersion {
            version: 0,
            page_url: "p".into(),
            zip_url: "z".into(),
            sha256: sha.into(),
            size: 1,
            etag: None,
            last_modified: None,
            fetched_at: "t".into(),
            checked_at: "t".into(),
        }
    }

    #[test]
    fn new_content_is_a_new_version_and_old_content_is_not() {
        let mut catalog = Catalog::default();
        let id: ReleaseId = "RVU25A".parse().unwrap();
        assert_eq!(catalog.record(id, version("aa")), (1, true));
        assert_eq!(catalog.record(id, version("aa")), (1, false));
        assert_eq!(catalog.record(id, version("bb")), (2, true));
        assert_eq!(catalog.latest(&id).map(|v| v.sha256.as_str()), Some("bb"));
        let json = serde_json::to_string(&catalog).unwrap();
        assert!(json.contains("\"RVU25A\""), "{json}");
        assert_eq!(serde_json::from_str::<Catalog>(&json).unwrap(), catalog);
    }
}
