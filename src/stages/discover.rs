//! Discover: the CMS index page links one page per release; each release page links its zip.
//! Links are followed as found, never built from a pattern (zip names are irregular).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use reqwest::Url;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::catalog::ReleaseId;
use crate::error::{Error, Result};
use crate::http::{self, HttpOptions};

/// The real CMS index page of the PFS Relative Value Files.
pub const CMS_INDEX_URL: &str =
    "https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files";

/// A release as the web pages show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DiscoveredRelease {
    pub id: ReleaseId,
    pub year: u16,
    pub quarter: char,
    pub correction: bool,
    pub page_url: Url,
    pub zip_urls: Vec<Url>,
}

static HREF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)href\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("a valid pattern")
});

/// A release page's slug: `rvu25a`, `rvu24ar`, `rvu25d-0`.
static RELEASE_SLUG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^rvu(\d{2})([a-d])(r?)(?:-\d+)?$").expect("a valid pattern"));

/// Every followable link of a page, resolved against the page's URL (relative links work), in
/// order. Web pages may link only http(s); `file://` links count only on local pages, so a
/// remote page cannot point the tool at local files.
pub fn links(base: &Url, html: &str) -> Vec<Url> {
    HREF.captures_iter(html)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().trim().replace("&amp;", "&"))
        .filter(|href| !href.is_empty() && !href.starts_with('#'))
        .filter_map(|href| base.join(&href).ok())
        .filter(|url| match url.scheme() {
            "http" | "https" => true,
            "file" => base.scheme() == "file",
            _ => false,
        })
        .collect()
}

/// The release a page URL is for, from its last path segment.
pub fn release_of_page(url: &Url) -> Option<ReleaseId> {
    let slug = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    let caps = RELEASE_SLUG.captures(slug)?;
    let year = 2000 + caps[1].parse::<u16>().ok()?;
    let quarter = caps[2].to_ascii_uppercase().chars().next()?;
    Some(ReleaseId::new(year, quarter, !caps[3].is_empty()))
}

fn is_zip_link(url: &Url) -> bool {
    url.path().to_ascii_lowercase().ends_with(".zip")
}

/// Reads the index page and every release page it links; fails when the index holds no
/// release links (the page changed, or is not the page we think).
pub async fn discover(index: &Url, options: &HttpOptions) -> Result<Vec<DiscoveredRelease>> {
    let client = http::client(options)?;
    let html = http::get_text(&client, options, index).await?;
    let mut pages: BTreeMap<ReleaseId, Vec<Url>> = BTreeMap::new();
    for link in links(index, &html) {
        if let Some(id) = release_of_page(&link) {
            let known = pages.entry(id).or_default();
            if !known.contains(&link) {
                known.push(link);
            }
        }
    }
    if pages.is_empty() {
        return Err(Error::Fetch {
            url: index.to_string(),
            message: "no release links (…/rvuYYQ pages) found: the index page has changed or \
                      is not the PFS Relative Value Files page"
                .to_string(),
        });
    }
    let gate = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut tasks = JoinSet::new();
    for (id, urls) in pages {
        for page in urls {
            let (client, options, gate) = (client.clone(), options.clone(), gate.clone());
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let html = http::get_text(&client, &options, &page).await?;
                let zips: Vec<Url> = dedup(links(&page, &html).into_iter().filter(is_zip_link));
                Ok::<_, Error>((id, page, zips))
            });
        }
    }
    let mut found: BTreeMap<ReleaseId, DiscoveredRelease> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (id, page, zips) = joined.map_err(|e| Error::Fetch {
            url: index.to_string(),
            message: format!("a release page task failed: {e}"),
        })??;
        let entry = found.entry(id).or_insert_with(|| DiscoveredRelease {
            id,
            year: id.year,
            quarter: id.quarter,
            correction: id.correction,
            page_url: page.clone(),
            zip_urls: Vec::new(),
        });
        // Of two pages for one release (rvu25d and rvu25d-0), report the first in URL order.
        if page < entry.page_url {
            entry.page_url = page;
        }
        entry.zip_urls = dedup(entry.zip_urls.drain(..).chain(zips));
    }
    Ok(found.into_values().collect())
}

fn dedup(urls: impl IntoIterator<Item = Url>) -> Vec<Url> {
    let mut out: Vec<Url> = Vec::new();
    for url in urls {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_relative_to_the_page() {
        let base = Url::parse("https://www.cms.gov/medicare/pfs/rvu25a").unwrap();
        let html = r##"<a href="/files/zip/rvu25a-updated-01/10/2025.zip">zip</a>
                      <a class=x href='rvu25b'>B</a> <a href="#top">top</a>
                      <a href="https://www.cms.gov/a?x=1&amp;y=2">q</a>
                      <a href="mailto:x@cms.gov">m</a> <a href="file:///etc/passwd">f</a>
                      <a href="ftp://cms.gov/rvu25a.zip">ftp</a>"##;
        let found: Vec<String> = links(&base, html).iter().map(Url::to_string).collect();
        assert_eq!(
            found,
            vec![
                "https://www.cms.gov/files/zip/rvu25a-updated-01/10/2025.zip",
                "https://www.cms.gov/medicare/pfs/rvu25b",
                "https://www.cms.gov/a?x=1&y=2",
            ]
        );
    }

    #[test]
    fn release_pages_are_told_by_their_slug() {
        let id = |s: &str| release_of_page(&Url::parse(s).unwrap()).map(|i| i.to_string());
        assert_eq!(
            id("https://x.gov/p/pfs-relative-value-files/rvu25a").as_deref(),
            Some("RVU25A")
        );
        assert_eq!(id("https://x.gov/p/rvu24ar").as_deref(), Some("RVU24AR"));
        assert_eq!(id("https://x.gov/p/rvu25d-0").as_deref(), Some("RVU25D"));
        assert_eq!(id("https://x.gov/p/rvu25d-0/").as_deref(), Some("RVU25D"));
        assert_eq!(id("https://x.gov/files/zip/rvu25a.zip"), None);
        assert_eq!(id("https://x.gov/p/pfs-relative-value-files"), None);
    }
}
