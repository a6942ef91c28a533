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

/// What discovery found: the releases, and how many index pages it read.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    pub index_pages: usize,
    pub releases: Vec<DiscoveredRelease>,
}

/// At most this many index pages are read (CMS's index has a handful).
pub const MAX_INDEX_PAGES: usize = 100;

static ANCHOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<a\b[^>]*>").expect("a valid pattern"));
static REL_NEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\brel\s*=\s*(?:"[^"]*\bnext\b[^"]*"|'[^']*\bnext\b[^']*'|next\b)"#)
        .expect("a valid pattern")
});

/// The index's further pages that a page links: links to the index's own path with a `page`
/// query parameter (Drupal's pager: `?page=1`), and `rel="next"` links. Pager links to
/// another host are left out (and logged): discovery never leaves the site.
pub fn pager_links(index: &Url, page: &Url, html: &str) -> Vec<Url> {
    let same_path =
        |url: &Url| url.path().trim_end_matches('/') == index.path().trim_end_matches('/');
    let has_page = |url: &Url| url.query_pairs().any(|(k, _)| k == "page");
    let mut out = Vec::new();
    for tag in ANCHOR.find_iter(html) {
        let tag = tag.as_str();
        let Some(url) = links(page, tag).into_iter().next() else {
            continue;
        };
        let is_next = REL_NEXT.is_match(tag);
        if !(is_next || (same_path(&url) && has_page(&url))) {
            continue;
        }
        if url.host_str() != index.host_str() || url.scheme() != index.scheme() {
            tracing::warn!("ignoring an index pager link to another site: {url}");
            continue;
        }
        let url = canonical_page(url);
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// A pager URL as one page: no fragment, and `page=0` is the index itself.
fn canonical_page(mut url: Url) -> Url {
    url.set_fragment(None);
    if !url.query_pairs().any(|(k, v)| k == "page" && v == "0") {
        return url;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, v)| !(k == "page" && v == "0"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url
}

/// The pager's page number; unnumbered `rel="next"` pages come last (the index itself is
/// read before any of them).
fn page_number(url: &Url) -> u64 {
    match url.query_pairs().find(|(k, _)| k == "page") {
        Some((_, v)) => v.parse().unwrap_or(u64::MAX),
        None => u64::MAX,
    }
}

/// Reads the index (every page of it: its pager is followed until a page adds no new
/// release) and every release page it links; fails when the index holds no release links
/// (the page changed, or is not the page we think).
pub async fn discover(index: &Url, options: &HttpOptions) -> Result<Discovery> {
    let client = http::client(options)?;
    let mut pages: BTreeMap<ReleaseId, Vec<Url>> = BTreeMap::new();
    let mut queue: Vec<Url> = vec![index.clone()];
    let mut seen: Vec<Url> = vec![canonical_page(index.clone())];
    let mut index_pages = 0;
    // Pages in pager order, whatever order the links came in ("first", "previous", 1, 2...).
    while let Some(page) = {
        queue.sort_by_key(|u| std::cmp::Reverse(page_number(u)));
        queue.pop()
    } {
        if index_pages == MAX_INDEX_PAGES {
            tracing::warn!(
                "the index pager goes on past {MAX_INDEX_PAGES} pages; read the first \
                 {MAX_INDEX_PAGES} only"
            );
            break;
        }
        let html = http::get_text(&client, options, &page).await?;
        index_pages += 1;
        let mut added = false;
        for link in links(&page, &html) {
            if let Some(id) = release_of_page(&link) {
                let known = pages.entry(id).or_default();
                if !known.contains(&link) {
                    known.push(link);
                    added = true;
                }
            }
        }
        // A page with nothing new ends the walk: the pager looped or ran past the list.
        if !added {
            break;
        }
        for next in pager_links(index, &page, &html) {
            if !seen.contains(&next) {
                seen.push(next.clone());
                queue.push(next);
            }
        }
    }
    tracing::info!(
        "read {index_pages} index page(s), {} release(s)",
        pages.len()
    );
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
    Ok(Discovery {
        index_pages,
        releases: found.into_values().collect(),
    })
}

/// What a selection asks for that the found releases cannot give: `only` ids that are not
/// there, and a `since` that is not there or older than the oldest release found. Each is a
/// sentence naming what is missing.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Unmet {
    pub missing: Vec<ReleaseId>,
    pub warnings: Vec<String>,
}

pub fn unmet(found: &[ReleaseId], since: Option<ReleaseId>, only: &[ReleaseId]) -> Unmet {
    let mut unmet = Unmet::default();
    for id in only.iter().filter(|id| !found.contains(id)) {
        unmet.missing.push(*id);
        unmet
            .warnings
            .push(format!("{id} is not among the releases found"));
    }
    if let Some(since) = since {
        let oldest = found.iter().min();
        match oldest {
            Some(oldest) if since < *oldest => unmet.warnings.push(format!(
                "since {since}: the oldest release found is {oldest}, so nothing before it \
                 is selected"
            )),
            _ if !found.contains(&since) => unmet.warnings.push(format!(
                "since {since}: {since} itself is not among the releases found"
            )),
            _ => {}
        }
    }
    unmet
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
    fn a_selection_the_releases_cannot_meet_is_named() {
        let id = |s: &str| s.parse::<ReleaseId>().unwrap();
        let found = [id("RVU24A"), id("RVU24B"), id("RVU25A")];
        let unmet = unmet(&found, Some(id("RVU20A")), &[id("RVU19A"), id("RVU24B")]);
        assert_eq!(unmet.missing, [id("RVU19A")]);
        assert_eq!(unmet.warnings.len(), 2, "{:?}", unmet.warnings);
        assert!(unmet.warnings[0].contains("RVU19A"));
        assert!(unmet.warnings[1].contains("RVU20A") && unmet.warnings[1].contains("RVU24A"));
        let gap = super::unmet(&found, Some(id("RVU24C")), &[]);
        assert!(gap.missing.is_empty());
        assert!(gap.warnings[0].contains("RVU24C"), "{:?}", gap.warnings);
        assert_eq!(
            super::unmet(&found, Some(id("RVU24B")), &[]),
            Unmet::default()
        );
    }

    #[test]
    fn pager_links_are_the_index_pages_on_the_same_site() {
        let index = Url::parse("https://www.cms.gov/x/pfs-relative-value-files").unwrap();
        let html = r#"<a href="?page=2&amp;items_per_page=50">3</a>
            <a href="https://www.cms.gov/x/pfs-relative-value-files?page=0">first</a>
            <a href="/x/pfs-relative-value-files/rvu25a">RVU25A</a>
            <a href="/elsewhere" rel="next">next</a>
            <a href="https://mirror.example/x/pfs-relative-value-files?page=1">mirror</a>"#;
        let found: Vec<String> = pager_links(&index, &index, html)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "https://www.cms.gov/x/pfs-relative-value-files?page=2&items_per_page=50",
                "https://www.cms.gov/x/pfs-relative-value-files",
                "https://www.cms.gov/elsewhere",
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
