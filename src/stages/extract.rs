//! Extract: a release zip or a folder of members becomes a list of named member bytes.
//!
//! Archives are untrusted: member paths that escape (`../x.csv`, absolute) are refused, and
//! decompression is bounded by what is actually inflated, whatever the headers claim.

use std::fs;
use std::io::{Cursor, Read};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::read::Format;
use crate::tables::TableKind;

/// Limits on what one archive may inflate to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_member_bytes: u64,
    pub max_total_bytes: u64,
    pub max_members: usize,
}

impl Default for Limits {
    /// A real release inflates to about 25 MB in 16 members, none over 4 MB.
    fn default() -> Self {
        Limits {
            max_member_bytes: 64 << 20,
            max_total_bytes: 512 << 20,
            max_members: 200,
        }
    }
}

/// One table file of a release.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member's file name (no folders).
    pub name: String,
    pub table: TableKind,
    pub format: Format,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// What extraction found: the members, and where they came from.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The path given by the user.
    pub source: String,
    /// The zip read, and its sha256, when the source was (or held) a zip.
    pub archive: Option<(String, String)>,
    pub members: Vec<Member>,
    /// Names of files that were passed over (the PDF, unknown files).
    pub ignored: Vec<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex, as sha256sum prints it.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Extracts a release from a zip file or a folder. A folder's loose members are read; a
/// folder that holds only a zip is read through the zip.
pub fn extract(path: &Path, limits: &Limits) -> Result<Extracted> {
    let metadata = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if metadata.is_dir() {
        extract_folder(path, limits)
    } else {
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        extract_zip(&path.display().to_string(), &bytes, limits)
    }
}

fn extract_folder(path: &Path, limits: &Limits) -> Result<Extracted> {
    let mut entries: Vec<_> = fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::io(path, e))?;
    entries.sort_by_key(|e| e.file_name());
    let mut members = Vec::new();
    let mut ignored = Vec::new();
    let mut zips = Vec::new();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_path = entry.path();
        if !file_path.is_file() {
            continue;
        }
        match classify(&name) {
            Some((table, format)) => {
                let bytes = fs::read(&file_path).map_err(|e| Error::io(&file_path, e))?;
                members.push(member(name, table, format, bytes));
            }
            None if name.to_ascii_lowercase().ends_with(".zip") => zips.push(file_path),
            None => ignored.push(name),
        }
    }
    if members.is_empty() {
        if let [zip] = zips.as_slice() {
            let bytes = fs::read(zip).map_err(|e| Error::io(zip, e))?;
            return extract_zip(&zip.display().to_string(), &bytes, limits);
        }
        return Err(Error::Release(format!(
            "{}: no CMS table files (PPRRVU, GPCI, LOCCO, ANES, OPPSCAP as csv, xlsx or txt) \
             found{}",
            path.display(),
            if zips.len() > 1 {
                " and more than one zip: name the zip to ingest"
            } else {
                ""
            }
        )));
    }
    ignored.extend(zips.iter().map(|z| z.display().to_string()));
    Ok(Extracted {
        source: path.display().to_string(),
        archive: None,
        members,
        ignored,
    })
}

fn member(name: String, table: TableKind, format: Format, bytes: Vec<u8>) -> Member {
    let sha256 = sha256_hex(&bytes);
    Member {
        name,
        table,
        format,
        bytes,
        sha256,
    }
}

/// The table and format of a member, from its name.
pub fn classify(name: &str) -> Option<(TableKind, Format)> {
    Some((
        TableKind::from_file_name(name)?,
        Format::from_extension(name)?,
    ))
}

/// Reads a release zip held in memory.
pub fn extract_zip(archive_name: &str, bytes: &[u8], limits: &Limits) -> Result<Extracted> {
    let fail = |message: String| Error::Archive {
        archive: archive_name.to_string(),
        message,
    };
    let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| fail(format!("not a readable zip: {e}")))?;
    if archive.len() > limits.max_members {
        return Err(fail(format!(
            "{} members is more than the {} a release may have",
            archive.len(),
            limits.max_members
        )));
    }
    // Names and claimed sizes first, one by one; then the members are inflated and hashed on
    // every core, each from its own view of the archive.
    let mut wanted = Vec::new();
    let mut ignored = Vec::new();
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| fail(format!("member {index}: {e}")))?;
        let raw_name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let name = safe_member_name(&raw_name)
            .ok_or_else(|| fail(format!("member '{raw_name}' has an unsafe path; refused")))?;
        if file.is_dir() {
            continue;
        }
        let Some((table, format)) = classify(&name) else {
            ignored.push(raw_name);
            continue;
        };
        if file.size() > limits.max_member_bytes {
            return Err(fail(format!(
                "member '{raw_name}' claims {} bytes, over the {} byte limit",
                file.size(),
                limits.max_member_bytes
            )));
        }
        wanted.push((index, raw_name, name, table, format, file.size()));
    }
    // What the members inflated to so far: past the limit, no further member is inflated.
    let total = AtomicU64::new(0);
    let inflated: Vec<Result<Member>> = wanted
        .into_par_iter()
        .map(|(index, raw_name, name, table, format, claimed)| {
            if total.load(Ordering::Relaxed) > limits.max_total_bytes {
                return Err(fail(format!(
                    "members inflate past the {} byte limit for a release",
                    limits.max_total_bytes
                )));
            }
            let mut archive = archive.clone();
            let mut file = archive
                .by_index(index)
                .map_err(|e| fail(format!("member {index}: {e}")))?;
            let content = read_bounded(&mut file, claimed, limits.max_member_bytes)
                .map_err(|e| fail(format!("member '{raw_name}': {e}")))?;
            let so_far =
                total.fetch_add(content.len() as u64, Ordering::Relaxed) + content.len() as u64;
            if so_far > limits.max_total_bytes {
                return Err(fail(format!(
                    "members inflate past the {} byte limit for a release",
                    limits.max_total_bytes
                )));
            }
            Ok(member(name, table, format, content))
        })
        .collect();
    // The first failure in the archive's order, whichever thread met it first.
    let mut members = inflated.into_iter().collect::<Result<Vec<_>>>()?;
    if members.is_empty() {
        return Err(fail(
            "no CMS table members (PPRRVU, GPCI, LOCCO, ANES, OPPSCAP as csv, xlsx or txt)"
                .to_string(),
        ));
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Extracted {
        source: archive_name.to_string(),
        archive: Some((archive_name.to_string(), sha256_hex(bytes))),
        members,
        ignored,
    })
}

/// Reads at most `limit` bytes; more is an error, so a bomb stops at the limit. `claimed` (the
/// size the header gives, at most `limit`) sizes the buffer, so it is not grown and copied.
fn read_bounded(reader: &mut impl Read, claimed: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut content = Vec::with_capacity(claimed.min(limit) as usize + 1);
    reader.take(limit + 1).read_to_end(&mut content)?;
    // A header that claimed more than the member holds leaves no unused buffer behind.
    if content.capacity() > content.len() + 1 {
        content.shrink_to_fit();
    }
    if content.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "inflates past the {limit} byte limit (a zip bomb?)"
        )));
    }
    Ok(content)
}

/// The file name of a member whose path stays inside the archive; None for `..`, absolute
/// or drive paths.
fn safe_member_name(raw: &str) -> Option<String> {
    let normalised = raw.replace('\\', "/");
    if normalised.starts_with('/') || normalised.contains(':') {
        return None;
    }
    let path = Path::new(&normalised);
    let mut last = None;
    for component in path.components() {
        match component {
            Component::Normal(part) => last = Some(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        assert_eq!(
            safe_member_name("PPRRVU25_JAN.csv").as_deref(),
            Some("PPRRVU25_JAN.csv")
        );
        assert_eq!(
            safe_member_name("dir/GPCI2025.csv").as_deref(),
            Some("GPCI2025.csv")
        );
        assert_eq!(safe_member_name("../x.csv"), None);
        assert_eq!(safe_member_name("a/../../x.csv"), None);
        assert_eq!(safe_member_name("/etc/passwd"), None);
        assert_eq!(safe_member_name("C:\\x.csv"), None);
        assert_eq!(safe_member_name("..\\x.csv"), None);
    }

    #[test]
    fn members_are_classified_by_name() {
        assert_eq!(
            classify("PPRRVU2026_Jan_nonQPP.csv"),
            Some((TableKind::Pprrvu, Format::Csv))
        );
        assert_eq!(
            classify("25LOCCO.txt"),
            Some((TableKind::Locco, Format::Txt))
        );
        assert_eq!(
            classify("OPPSCAP_Oct.xlsx"),
            Some((TableKind::Oppscap, Format::Xlsx))
        );
        assert_eq!(classify("RVU25A.pdf"), None);
    }
}
