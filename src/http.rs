//! Getting bytes from a URL: http(s) through reqwest with timeouts, bounded redirects and
//! retries with exponential backoff and jitter; `file://` URLs and local paths from disk.

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use reqwest::{StatusCode, Url};

use crate::error::{Error, Result};

pub const USER_AGENT: &str = concat!(
    "rvu-pipeline/",
    env!("CARGO_PKG_VERSION"),
    " (CMS PFS Relative Value File ingestion; polite, conditional, resumable)"
);

/// How patient and how parallel the network side is.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Per request: connecting, and any pause between body chunks.
    pub timeout: Duration,
    /// Attempts after the first, on timeouts, resets, 5xx and short or broken bodies.
    pub retries: u32,
    /// The first backoff; each retry doubles it, plus up to 50% jitter.
    pub backoff: Duration,
    pub max_redirects: usize,
    /// Downloads running at once.
    pub jobs: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(60),
            retries: 4,
            backoff: Duration::from_millis(500),
            max_redirects: 5,
            jobs: 4,
        }
    }
}

/// Parses a URL or a local path into a URL; only http, https and file are accepted.
pub fn parse_location(text: &str) -> Result<Url> {
    let url = match Url::parse(text) {
        Ok(url) if url.scheme().len() > 1 => url,
        // No scheme (or a Windows drive letter): a local path.
        _ => {
            let absolute = std::path::absolute(Path::new(text)).map_err(|e| Error::io(text, e))?;
            Url::from_file_path(&absolute).map_err(|_| Error::Fetch {
                url: text.to_string(),
                message: "not a usable local path".to_string(),
            })?
        }
    };
    check_scheme(&url)?;
    Ok(url)
}

pub fn check_scheme(url: &Url) -> Result<()> {
    match url.scheme() {
        "http" | "https" | "file" => Ok(()),
        other => Err(Error::Fetch {
            url: url.to_string(),
            message: format!("'{other}' links are not followed (only http, https and file)"),
        }),
    }
}

/// Whether an attempt's failure is worth another try.
#[derive(Debug)]
pub enum Failure {
    Retry(String),
    Fatal(String),
}

impl Failure {
    pub fn from_reqwest(err: &reqwest::Error) -> Failure {
        let message = describe(err);
        if err.is_timeout() || err.is_connect() || err.is_request() || err.is_body() {
            Failure::Retry(message)
        } else {
            Failure::Fatal(message)
        }
    }

    /// 5xx and 429 are worth retrying; other non-success statuses are not.
    pub fn from_status(status: StatusCode) -> Failure {
        let message = format!("HTTP {status}");
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Failure::Retry(message)
        } else {
            Failure::Fatal(message)
        }
    }
}

fn describe(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() {
        "timed out".to_string()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    message
}

/// An HTTP client with the crypto provider installed, the tool's User-Agent, a connect and read
/// timeout, and a redirect policy that stays on http(s), is bounded and logs host changes.
pub fn client(options: &HttpOptions) -> Result<reqwest::Client> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let max_redirects = options.max_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= max_redirects {
            return attempt.error(format!("more than {max_redirects} redirects"));
        }
        if !matches!(attempt.url().scheme(), "http" | "https") {
            return attempt.error("redirect to a non-http(s) URL");
        }
        let from = attempt
            .previous()
            .last()
            .and_then(|u| u.host_str().map(String::from));
        if from.as_deref() != attempt.url().host_str() {
            tracing::info!(
                "redirect from {} to another host: {}",
                from.unwrap_or_default(),
                attempt.url()
            );
        }
        attempt.follow()
    });
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(options.timeout)
        .read_timeout(options.timeout)
        .redirect(policy)
        .build()
        .map_err(|e| Error::Fetch {
            url: String::new(),
            message: format!("cannot build the HTTP client: {e}"),
        })
}

/// Runs `attempt` until it succeeds, fails fatally or runs out of retries, sleeping with
/// exponential backoff and jitter in between.
pub async fn with_retries<T, F, Fut>(options: &HttpOptions, url: &Url, mut attempt: F) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Failure>>,
{
    let mut tries = 0;
    loop {
        match attempt(tries).await {
            Ok(value) => return Ok(value),
            Err(Failure::Retry(message)) if tries < options.retries => {
                let delay = backoff(options.backoff, tries);
                tracing::info!("{url}: {message}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                tries += 1;
            }
            Err(Failure::Retry(message)) => {
                return Err(Error::Fetch {
                    url: url.to_string(),
                    message: format!("{message} (gave up after {} attempts)", tries + 1),
                });
            }
            Err(Failure::Fatal(message)) => {
                return Err(Error::Fetch {
                    url: url.to_string(),
                    message,
                });
            }
        }
    }
}

fn backoff(base: Duration, tries: u32) -> Duration {
    let exponential = base.saturating_mul(1 << tries.min(10));
    let jitter = exponential.mul_f64(fastrand::f64() * 0.5);
    exponential + jitter
}

/// Reads a page's text from http(s) (retrying) or from a file.
pub async fn get_text(
    client: &reqwest::Client,
    options: &HttpOptions,
    url: &Url,
) -> Result<String> {
    if url.scheme() == "file" {
        let path = file_path(url)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| Error::io(&path, e))?;
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    with_retries(options, url, |_| async {
        let response = get_ok(client, url).await?;
        response.text().await.map_err(|e| Failure::from_reqwest(&e))
    })
    .await
}

/// A GET answered with a success status.
async fn get_ok(
    client: &reqwest::Client,
    url: &Url,
) -> std::result::Result<reqwest::Response, Failure> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Failure::from_reqwest(&e))?;
    if !response.status().is_success() {
        return Err(Failure::from_status(response.status()));
    }
    Ok(response)
}

/// Downloads a URL's body into memory (retrying), refusing more than `limit` bytes.
pub async fn get_bytes(
    client: &reqwest::Client,
    options: &HttpOptions,
    url: &Url,
    limit: u64,
) -> Result<Vec<u8>> {
    with_retries(options, url, |_| async {
        let mut response = get_ok(client, url).await?;
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(Failure::Fatal(format!("larger than {limit} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::from_reqwest(&e))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > limit {
                return Err(Failure::Fatal(format!("larger than {limit} bytes")));
            }
        }
        Ok(body)
    })
    .await
}

pub fn file_path(url: &Url) -> Result<std::path::PathBuf> {
    url.to_file_path().map_err(|_| Error::Fetch {
        url: url.to_string(),
        message: "not a local file URL".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_urls_or_paths() {
        assert_eq!(
            parse_location("https://www.cms.gov/x").unwrap().scheme(),
            "https"
        );
        assert_eq!(
            parse_location("fixtures/rvu99a.zip").unwrap().scheme(),
            "file"
        );
        assert_eq!(
            parse_location("/tmp/index.html").unwrap().path(),
            "/tmp/index.html"
        );
        assert!(parse_location("ftp://example.org/x.zip").is_err());
    }

    #[test]
    fn backoff_grows_with_jitter() {
        let base = Duration::from_millis(100);
        for tries in 0..4 {
            let d = backoff(base, tries);
            let floor = base * (1 << tries);
            assert!(d >= floor && d <= floor.mul_f64(1.5), "{d:?}");
        }
    }
}
