//! Fetch: download each discovered release zip at most once. Conditional requests skip
//! unchanged zips, interrupted downloads resume with a Range request, short or broken bodies
//! are retried and never stored, and a zip is stored once by its sha256. A re-post (same id,
//! new content) becomes a new version beside the old one.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED,
    RANGE,
};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::catalog::ReleaseId;
use crate::error::{Error, Result};
use crate::http::{self, Failure, HttpOptions};
use crate::stages::discover::DiscoveredRelease;
use crate::stages::extract::sha256_hex;
use crate::store::{self, Catalog, ReleaseVersion};

/// What happened to one release zip.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// First content seen for this release.
    New,
    /// Content differs from what was fetched before under this id: a re-post.
    NewVersion {
        previous_sha256: String,
    },
    /// The server said 304, or sent content we already hold.
    Unchanged,
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: ReleaseId,
    pub zip_url: String,
    #[serde(flatten)]
    pub status: Status,
    pub version: Option<u32>,
    pub sha256: Option<String>,
    pub path: Option<PathBuf>,
    pub bytes_downloaded: u64,
}

/// The validators and size of a finished download.
struct Downloaded {
    sha256: String,
    size: u64,
    etag: Option<String>,
    last_modified: Option<String>,
    bytes_downloaded: u64,
}

enum Fetched {
    NotModified,
    Content(Downloaded),
}

/// Validators of a partial download, kept beside it so a resume can send If-Range.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PartialMeta {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Downloads every zip of the given releases (in parallel, bounded), records them in the
/// output's catalog and returns one outcome per zip, in release order.
pub async fn fetch_all(
    releases: &[DiscoveredRelease],
    output: &Path,
    options: &HttpOptions,
    show_progress: bool,
) -> Result<Vec<Outcome>> {
    let mut catalog = Catalog::load(output)?;
    for dir in [store::raw_dir(output), partial_dir(output)] {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let client = http::client(options)?;
    let progress = show_progress.then(MultiProgress::new);
    let gate = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut tasks = JoinSet::new();
    let mut order = Vec::new();
    for release in releases {
        for zip_url in &release.zip_urls {
            let previous = catalog
                .latest_from(&release.id, zip_url.as_str())
                .filter(|v| store::raw_zip(output, &v.sha256).is_file())
                .cloned();
            let job = Job {
                id: release.id,
                url: zip_url.clone(),
                previous,
                output: output.to_path_buf(),
                client: client.clone(),
                options: options.clone(),
                bar: progress
                    .as_ref()
                    .map(|p| p.add(new_bar(release.id, zip_url))),
            };
            let gate = gate.clone();
            order.push((release.id, zip_url.clone(), release.page_url.clone()));
            let index = order.len() - 1;
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                (index, job.run().await)
            });
        }
    }
    let mut results: Vec<Option<Result<Fetched>>> = (0..order.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(|e| Error::Fetch {
            url: String::new(),
            message: format!("a download task failed: {e}"),
        })?;
        results[index] = Some(result);
    }
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let mut outcomes = Vec::new();
    for ((id, url, page), result) in order.into_iter().zip(results) {
        let result = result.unwrap_or_else(|| unreachable!("every task reports"));
        outcomes.push(record(&mut catalog, output, id, &url, &page, result, &now));
    }
    catalog.save(output)?;
    Ok(outcomes)
}

fn record(
    catalog: &mut Catalog,
    output: &Path,
    id: ReleaseId,
    url: &Url,
    page: &Url,
    result: Result<Fetched>,
    now: &str,
) -> Outcome {
    let mut outcome = Outcome {
        id,
        zip_url: url.to_string(),
        status: Status::Unchanged,
        version: None,
        sha256: None,
        path: None,
        bytes_downloaded: 0,
    };
    match result {
        Err(err) => {
            outcome.status = Status::Failed {
                error: err.to_string(),
            };
        }
        Ok(Fetched::NotModified) => {
            if let Some(known) = catalog.latest_from(&id, url.as_str()).cloned() {
                let refreshed = ReleaseVersion {
                    checked_at: now.to_string(),
                    ..known.clone()
                };
                catalog.record(id, refreshed);
                outcome.version = Some(known.version);
                outcome.path = Some(store::raw_zip(output, &known.sha256));
                outcome.sha256 = Some(known.sha256);
            }
        }
        Ok(Fetched::Content(done)) => {
            let previous = catalog.latest(&id).map(|v| v.sha256.clone());
            let (version, is_new) = catalog.record(
                id,
                ReleaseVersion {
                    version: 0,
                    page_url: page.to_string(),
                    zip_url: url.to_string(),
                    sha256: done.sha256.clone(),
                    size: done.size,
                    etag: done.etag,
                    last_modified: done.last_modified,
                    fetched_at: now.to_string(),
                    checked_at: now.to_string(),
                },
            );
            outcome.status = match (is_new, previous) {
                (false, _) => Status::Unchanged,
                (true, None) => Status::New,
                (true, Some(previous_sha256)) => Status::NewVersion { previous_sha256 },
            };
            outcome.version = Some(version);
            outcome.path = Some(store::raw_zip(output, &done.sha256));
            outcome.sha256 = Some(done.sha256);
            outcome.bytes_downloaded = done.bytes_downloaded;
        }
    }
    outcome
}

fn partial_dir(output: &Path) -> PathBuf {
    store::raw_dir(output).join(".partial")
}

fn new_bar(id: ReleaseId, url: &Url) -> ProgressBar {
    // Hidden until the MultiProgress adopts it: drawing before that leaves ghost lines.
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template(
        "{prefix:8} [{bar:30}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(id.to_string());
    bar.set_message(
        url.path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("")
            .to_string(),
    );
    bar
}

/// One zip to get.
struct Job {
    id: ReleaseId,
    url: Url,
    /// What was fetched from this URL before (its file is in the raw store).
    previous: Option<ReleaseVersion>,
    output: PathBuf,
    client: reqwest::Client,
    options: HttpOptions,
    bar: Option<ProgressBar>,
}

impl Job {
    async fn run(self) -> Result<Fetched> {
        let result = if self.url.scheme() == "file" {
            self.copy_local().await
        } else {
            let url = self.url.clone();
            let options = self.options.clone();
            http::with_retries(&options, &url, |_| self.attempt()).await
        };
        if let Some(bar) = &self.bar {
            match &result {
                // The outcome table printed at the end tells the rest.
                Ok(_) => bar.finish_and_clear(),
                Err(_) => bar.abandon_with_message("failed"),
            }
        }
        match &result {
            Ok(Fetched::NotModified) => tracing::info!("{}: {} not modified", self.id, self.url),
            Ok(Fetched::Content(d)) => tracing::info!(
                "{}: {} downloaded ({} bytes, sha256 {})",
                self.id,
                self.url,
                d.bytes_downloaded,
                d.sha256
            ),
            Err(err) => tracing::warn!("{}: {err}", self.id),
        }
        result
    }

    /// A `file://` zip: verified and stored like a download.
    async fn copy_local(&self) -> Result<Fetched> {
        let path = http::file_path(&self.url)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| Error::io(&path, e))?;
        verify_zip(&bytes).map_err(|message| Error::Fetch {
            url: self.url.to_string(),
            message,
        })?;
        let size = bytes.len() as u64;
        let sha256 = sha256_hex(&bytes);
        let target = store::raw_zip(&self.output, &sha256);
        if !target.is_file() {
            let temp = partial_dir(&self.output).join(format!("{sha256}.copy"));
            tokio::fs::write(&temp, &bytes)
                .await
                .map_err(|e| Error::io(&temp, e))?;
            tokio::fs::rename(&temp, &target)
                .await
                .map_err(|e| Error::io(&target, e))?;
        }
        Ok(Fetched::Content(Downloaded {
            sha256,
            size,
            etag: None,
            last_modified: None,
            bytes_downloaded: size,
        }))
    }

    fn partial_paths(&self) -> (PathBuf, PathBuf) {
        let stem = sha256_hex(self.url.as_str().as_bytes());
        let dir = partial_dir(&self.output);
        (
            dir.join(format!("{stem}.part")),
            dir.join(format!("{stem}.json")),
        )
    }

    /// One HTTP attempt: conditional when we hold this URL's last content, ranged when a
    /// partial download with validators is on disk.
    async fn attempt(&self) -> std::result::Result<Fetched, Failure> {
        let (part, meta_path) = self.partial_paths();
        let meta: PartialMeta = std::fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let validator = meta.etag.clone().or_else(|| meta.last_modified.clone());

        let mut request = self.client.get(self.url.clone());
        if let Some(previous) = &self.previous {
            if let Some(etag) = &previous.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &previous.last_modified {
                request = request.header(IF_MODIFIED_SINCE, modified);
            }
        }
        let resuming = have > 0 && validator.is_some();
        if let (true, Some(validator)) = (resuming, &validator) {
            request = request
                .header(RANGE, format!("bytes={have}-"))
                .header(IF_RANGE, validator);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(&e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && self.previous.is_some() {
            return Ok(Fetched::NotModified);
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            discard(&part, &meta_path);
            return Err(Failure::Retry(
                "range not satisfiable; starting over".into(),
            ));
        }
        if !status.is_success() {
            return Err(Failure::from_status(status));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let length: Option<u64> = header(CONTENT_LENGTH).and_then(|v| v.parse().ok());
        let offset = if status == StatusCode::PARTIAL_CONTENT && resuming {
            let starts_at = header(CONTENT_RANGE).and_then(|r| range_start(&r));
            if starts_at != Some(have) {
                discard(&part, &meta_path);
                return Err(Failure::Retry(
                    "the server resumed at the wrong offset".into(),
                ));
            }
            tracing::info!("{}: resuming {} at byte {have}", self.id, self.url);
            have
        } else {
            0
        };
        let expected = length.map(|l| l + offset);
        let new_meta = PartialMeta {
            etag: etag.clone(),
            last_modified: last_modified.clone(),
        };
        let meta_json = serde_json::to_vec(&new_meta).unwrap_or_default();
        std::fs::write(&meta_path, meta_json).map_err(|e| Failure::Fatal(e.to_string()))?;

        let received = self.stream_body(response, &part, offset, expected).await?;
        if let Some(total) = expected.filter(|t| received < *t) {
            return Err(Failure::Retry(format!(
                "the body ended after {received} of {total} bytes"
            )));
        }
        let bytes = std::fs::read(&part).map_err(|e| Failure::Fatal(e.to_string()))?;
        if let Err(message) = verify_zip(&bytes) {
            discard(&part, &meta_path);
            return Err(Failure::Retry(message));
        }
        let sha256 = sha256_hex(&bytes);
        let target = store::raw_zip(&self.output, &sha256);
        if target.is_file() {
            discard(&part, &meta_path);
        } else {
            std::fs::rename(&part, &target).map_err(|e| Failure::Fatal(e.to_string()))?;
            let _ = std::fs::remove_file(&meta_path);
        }
        Ok(Fetched::Content(Downloaded {
            sha256,
            size: bytes.len() as u64,
            etag,
            last_modified,
            bytes_downloaded: received - offset,
        }))
    }

    /// Appends the body to the partial file (from `offset`); returns the total bytes on disk.
    /// A body that breaks off keeps what arrived, for the next attempt to resume.
    async fn stream_body(
        &self,
        mut response: reqwest::Response,
        part: &Path,
        offset: u64,
        expected: Option<u64>,
    ) -> std::result::Result<u64, Failure> {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(offset > 0)
            .truncate(offset == 0)
            .open(part)
            .await
            .map_err(|e| Failure::Fatal(format!("{}: {e}", part.display())))?;
        if let Some(bar) = &self.bar {
            bar.set_length(expected.unwrap_or(0));
            bar.set_position(offset);
        }
        let mut received = offset;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| Failure::Fatal(format!("{}: {e}", part.display())))?;
                    received += chunk.len() as u64;
                    if let Some(bar) = &self.bar {
                        bar.set_position(received);
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    let _ = file.flush().await;
                    return Err(match Failure::from_reqwest(&err) {
                        Failure::Fatal(m) | Failure::Retry(m) => Failure::Retry(format!(
                            "the body broke off after {received} bytes: {m}"
                        )),
                    });
                }
            }
        }
        file.flush()
            .await
            .map_err(|e| Failure::Fatal(e.to_string()))?;
        Ok(received)
    }
}

fn discard(part: &Path, meta: &Path) {
    let _ = std::fs::remove_file(part);
    let _ = std::fs::remove_file(meta);
}

/// `bytes 100-199/200` starts at 100.
fn range_start(content_range: &str) -> Option<u64> {
    content_range
        .trim()
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A zip whose every member inflates with a matching CRC: what arrived is what was sent.
fn verify_zip(bytes: &[u8]) -> std::result::Result<(), String> {
    let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a zip ({} bytes): {e}", bytes.len()))?;
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| format!("zip member {i}: {e}"))?;
        std::io::copy(&mut (&mut member).take(1 << 30), &mut std::io::sink())
            .map_err(|e| format!("zip member {i} is damaged: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_starts() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("bytes */200"), None);
    }

    #[test]
    fn html_is_not_a_zip() {
        assert!(verify_zip(b"<html>Access denied</html>").is_err());
    }
}
