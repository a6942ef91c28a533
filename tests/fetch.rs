//! Discovery and download against a local HTTP server (127.0.0.1, ephemeral port) that serves a
//! CMS-like index page, release pages and the generated fixture zips, and misbehaves on demand.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rvu_pipeline::http::{HttpOptions, parse_location};
use rvu_pipeline::stages::discover::{DiscoveredRelease, discover};
use rvu_pipeline::stages::fetch::{Outcome, Status, fetch_all};
use rvu_pipeline::store::{Catalog, raw_zip};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const INDEX: &str = "/medicare/payment/fee-schedules/physician/pfs-relative-value-files";

#[derive(Clone, Debug)]
enum Behavior {
    Normal,
    /// Answer with this status the first `n` times.
    FailTimes(usize, u16),
    NotFound,
    /// The first time, promise the whole body but send only `after` bytes, then hang up.
    TruncateOnce {
        after: usize,
    },
    /// The first time, send `after` bytes and then stall.
    StallOnce {
        after: usize,
    },
    /// Wait before every answer (to see downloads overlap).
    Delay(Duration),
}

#[derive(Clone)]
struct Route {
    body: Vec<u8>,
    etag: String,
    behavior: Behavior,
}

#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
    status: u16,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    /// Requests as they arrive; the status is filled in when the answer is sent.
    log: Vec<Request>,
    arrivals: HashMap<String, usize>,
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Clone)]
struct Server {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Server {
            base,
            state: Arc::default(),
        };
        let state = server.state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(socket, state.clone()));
            }
        });
        server
    }

    fn route(&self, path: &str, body: Vec<u8>, behavior: Behavior) {
        let etag = format!("\"{}\"", rvu_pipeline::stages::extract::sha256_hex(&body));
        let route = Route {
            body,
            etag,
            behavior,
        };
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    fn page(&self, path: &str, html: &str) {
        self.route(path, html.as_bytes().to_vec(), Behavior::Normal);
    }

    fn requests(&self, path: &str) -> Vec<Request> {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn serve(mut socket: TcpStream, state: Arc<Mutex<State>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let (route, attempt, index) = {
        let mut s = state.lock().unwrap();
        s.log.push(Request {
            path: path.clone(),
            headers: headers.clone(),
            status: 0,
        });
        let index = s.log.len() - 1;
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        let arrivals = s.arrivals.entry(path.clone()).or_default();
        let attempt = *arrivals;
        *arrivals += 1;
        (s.routes.get(&path).cloned(), attempt, index)
    };
    let status = respond(&mut socket, route, attempt, &headers).await;
    let mut s = state.lock().unwrap();
    s.in_flight -= 1;
    s.log[index].status = status;
}

async fn respond(
    socket: &mut TcpStream,
    route: Option<Route>,
    attempt: usize,
    headers: &HashMap<String, String>,
) -> u16 {
    let Some(route) = route else {
        let _ = socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return 404;
    };
    match route.behavior {
        Behavior::NotFound => {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            return 404;
        }
        Behavior::FailTimes(n, code) if attempt < n => {
            let head =
                format!("HTTP/1.1 {code} Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            return code;
        }
        Behavior::Delay(delay) => tokio::time::sleep(delay).await,
        _ => {}
    }
    if headers.get("if-none-match") == Some(&route.etag) {
        let head = format!(
            "HTTP/1.1 304 Not Modified\r\netag: {}\r\nconnection: close\r\n\r\n",
            route.etag
        );
        let _ = socket.write_all(head.as_bytes()).await;
        return 304;
    }
    let total = route.body.len();
    let start = headers
        .get("range")
        .filter(|_| headers.get("if-range") == Some(&route.etag))
        .and_then(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<usize>()
                .ok()
        })
        .filter(|s| *s < total);
    let (status, mut head) = match start {
        Some(s) => (
            206,
            format!(
                "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {s}-{}/{total}\r\n",
                total - 1
            ),
        ),
        None => (200, "HTTP/1.1 200 OK\r\n".to_string()),
    };
    let body = &route.body[start.unwrap_or(0)..];
    head.push_str(&format!(
        "content-length: {}\r\netag: {}\r\nlast-modified: Tue, 01 Dec 2098 00:00:00 GMT\r\naccept-ranges: bytes\r\nconnection: close\r\n\r\n",
        body.len(),
        route.etag
    ));
    let _ = socket.write_all(head.as_bytes()).await;
    match route.behavior {
        Behavior::TruncateOnce { after } if attempt == 0 => {
            let _ = socket.write_all(&body[..after.min(body.len())]).await;
        }
        Behavior::StallOnce { after } if attempt == 0 => {
            let _ = socket.write_all(&body[..after.min(body.len())]).await;
            let _ = socket.flush().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        _ => {
            let _ = socket.write_all(body).await;
        }
    }
    let _ = socket.flush().await;
    status
}

fn fixture_zip(name: &str) -> Vec<u8> {
    std::fs::read(common::fixtures().join(name)).unwrap()
}

/// A CMS-like site: an index linking four release pages (an absolute link, a relative one, a
/// correction, a `-0` slug), each page linking its zip (one name with slashes).
fn cms_site(server: &Server, zip_behavior: Behavior) {
    server.page(
        INDEX,
        r#"<html><body><nav><a href="/about">About</a></nav><ul>
        <li><a href="/medicare/payment/fee-schedules/physician/pfs-relative-value-files/rvu99a">RVU99A</a></li>
        <li><a href='pfs-relative-value-files/rvu99ar'>RVU99AR (correction)</a></li>
        <li><a href="/medicare/payment/fee-schedules/physician/pfs-relative-value-files/rvu99b-0">RVU99B</a></li>
        <li><a href="/medicare/payment/fee-schedules/physician/pfs-relative-value-files/rvu99c">RVU99C</a></li>
        </ul></body></html>"#,
    );
    let page = |slug: &str, zip: &str| {
        server.page(
            &format!("{INDEX}/{slug}"),
            &format!(
                r#"<p>Release files</p><a href="{zip}">Download ZIP</a><a href="{INDEX}">back</a>"#
            ),
        );
    };
    page("rvu99a", "/files/zip/rvu99a.zip");
    page("rvu99ar", "/files/zip/rvu99ar-updated-01/10/2099.zip");
    page("rvu99b-0", &server.url("/files/zip/rvu99b.zip"));
    page("rvu99c", "../../../../../files/zip/rvu99c.zip");
    server.route(
        "/files/zip/rvu99a.zip",
        fixture_zip("rvu99a.zip"),
        zip_behavior.clone(),
    );
    server.route(
        "/files/zip/rvu99ar-updated-01/10/2099.zip",
        fixture_zip("rvu99a.zip"),
        zip_behavior.clone(),
    );
    server.route(
        "/files/zip/rvu99b.zip",
        fixture_zip("rvu99b.zip"),
        zip_behavior.clone(),
    );
    server.route(
        "/files/zip/rvu99c.zip",
        fixture_zip("rvu99c.zip"),
        zip_behavior,
    );
}

fn quick() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(2),
        retries: 3,
        backoff: Duration::from_millis(10),
        jobs: 4,
        ..HttpOptions::default()
    }
}

async fn releases(server: &Server) -> Vec<DiscoveredRelease> {
    discover(&parse_location(&server.url(INDEX)).unwrap(), &quick())
        .await
        .unwrap()
        .releases
}

/// Fetches one discovered release into `out` and returns its outcome.
async fn fetch_one(server: &Server, id: &str, out: &Path, options: &HttpOptions) -> Outcome {
    let release = only(&releases(server).await, id);
    fetch_all(&release, out, options, false)
        .await
        .unwrap()
        .remove(0)
}

fn only(releases: &[DiscoveredRelease], id: &str) -> Vec<DiscoveredRelease> {
    releases
        .iter()
        .filter(|r| r.id.to_string() == id)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_follows_every_kind_of_link() {
    let server = Server::start().await;
    cms_site(&server, Behavior::Normal);
    let found = releases(&server).await;
    let summary: Vec<(String, bool, String)> = found
        .iter()
        .map(|r| {
            (
                r.id.to_string(),
                r.correction,
                r.zip_urls[0].path().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("RVU99A".into(), false, "/files/zip/rvu99a.zip".into()),
            (
                "RVU99AR".into(),
                true,
                "/files/zip/rvu99ar-updated-01/10/2099.zip".into()
            ),
            ("RVU99B".into(), false, "/files/zip/rvu99b.zip".into()),
            ("RVU99C".into(), false, "/files/zip/rvu99c.zip".into()),
        ]
    );
    assert!(found[2].page_url.path().ends_with("/rvu99b-0"));
    let ua = &server.requests(INDEX)[0].headers["user-agent"];
    assert!(ua.starts_with("rvu-pipeline/"), "{ua}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_without_release_links_is_an_error() {
    let server = Server::start().await;
    server.page(
        INDEX,
        "<html><body>We moved! <a href=\"/new-home\">here</a></body></html>",
    );
    let err = discover(&parse_location(&server.url(INDEX)).unwrap(), &quick())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no release links"), "{message}");
    assert!(message.contains(&server.url(INDEX)), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_are_stored_once_by_sha256_and_recorded() {
    let server = Server::start().await;
    cms_site(&server, Behavior::Normal);
    let out = tempfile::tempdir().unwrap();
    let outcomes = fetch_all(&releases(&server).await, out.path(), &quick(), false)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 4);
    assert!(
        outcomes.iter().all(|o| o.status == Status::New),
        "{outcomes:?}"
    );
    // RVU99A and RVU99AR serve the same bytes: one file in the store.
    let zips = std::fs::read_dir(out.path().join("raw"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "zip")
        });
    assert_eq!(zips.count(), 3);
    let catalog = Catalog::load(out.path()).unwrap();
    let a = catalog.latest(&"RVU99A".parse().unwrap()).unwrap();
    assert_eq!(
        a.sha256,
        rvu_pipeline::stages::extract::sha256_hex(&fixture_zip("rvu99a.zip"))
    );
    assert!(a.zip_url.ends_with("/files/zip/rvu99a.zip") && a.page_url.ends_with("/rvu99a"));
    assert!(a.etag.is_some() && a.last_modified.is_some());
    assert_eq!(a.size, fixture_zip("rvu99a.zip").len() as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_fetch_is_conditional_and_downloads_nothing() {
    let server = Server::start().await;
    cms_site(&server, Behavior::Normal);
    let out = tempfile::tempdir().unwrap();
    let found = releases(&server).await;
    fetch_all(&found, out.path(), &quick(), false)
        .await
        .unwrap();
    let again = fetch_all(&found, out.path(), &quick(), false)
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|o| o.status == Status::Unchanged && o.bytes_downloaded == 0),
        "{again:?}"
    );
    let second = &server.requests("/files/zip/rvu99b.zip")[1];
    assert!(second.headers.contains_key("if-none-match"), "{second:?}");
    assert_eq!(second.status, 304);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_post_becomes_a_new_version_beside_the_old() {
    let server = Server::start().await;
    cms_site(&server, Behavior::Normal);
    let out = tempfile::tempdir().unwrap();
    let b = only(&releases(&server).await, "RVU99B");
    fetch_all(&b, out.path(), &quick(), false).await.unwrap();
    // CMS silently replaces the zip behind the same link.
    server.route(
        "/files/zip/rvu99b.zip",
        fixture_zip("rvu99c.zip"),
        Behavior::Normal,
    );
    let outcome = &fetch_all(&b, out.path(), &quick(), false).await.unwrap()[0];
    let old_sha = rvu_pipeline::stages::extract::sha256_hex(&fixture_zip("rvu99b.zip"));
    assert_eq!(
        outcome.status,
        Status::NewVersion {
            previous_sha256: old_sha.clone()
        }
    );
    assert_eq!(outcome.version, Some(2));
    let catalog = Catalog::load(out.path()).unwrap();
    let versions = &catalog.releases[&"RVU99B".parse().unwrap()];
    assert_eq!(versions.len(), 2);
    assert!(
        raw_zip(out.path(), &old_sha).is_file(),
        "the first version is kept"
    );
    assert!(raw_zip(out.path(), &versions[1].sha256).is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried() {
    let server = Server::start().await;
    cms_site(&server, Behavior::FailTimes(2, 500));
    let out = tempfile::tempdir().unwrap();
    let outcome = &fetch_one(&server, "RVU99C", out.path(), &quick()).await;
    assert_eq!(outcome.status, Status::New);
    let statuses: Vec<u16> = server
        .requests("/files/zip/rvu99c.zip")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![500, 500, 200]);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_fails_at_once_naming_the_url() {
    let server = Server::start().await;
    cms_site(&server, Behavior::NotFound);
    let out = tempfile::tempdir().unwrap();
    let outcome = &fetch_one(&server, "RVU99C", out.path(), &quick()).await;
    let Status::Failed { error } = &outcome.status else {
        panic!("{outcome:?}")
    };
    assert!(
        error.contains(&server.url("/files/zip/rvu99c.zip")) && error.contains("404"),
        "{error}"
    );
    assert_eq!(
        server.requests("/files/zip/rvu99c.zip").len(),
        1,
        "a 404 is not retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_body_is_resumed_with_a_range_request() {
    let server = Server::start().await;
    cms_site(&server, Behavior::TruncateOnce { after: 10_000 });
    let out = tempfile::tempdir().unwrap();
    let outcome = &fetch_one(&server, "RVU99C", out.path(), &quick()).await;
    assert_eq!(outcome.status, Status::New);
    let requests = server.requests("/files/zip/rvu99c.zip");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].headers["range"], "bytes=10000-");
    assert_eq!(requests[1].status, 206);
    let stored = std::fs::read(outcome.path.as_ref().unwrap()).unwrap();
    assert!(
        stored == fixture_zip("rvu99c.zip"),
        "the resumed file is whole"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_body_is_never_stored() {
    let server = Server::start().await;
    cms_site(&server, Behavior::TruncateOnce { after: 10_000 });
    let out = tempfile::tempdir().unwrap();
    let options = HttpOptions {
        retries: 0,
        ..quick()
    };
    let outcome = &fetch_one(&server, "RVU99C", out.path(), &options).await;
    let Status::Failed { error } = &outcome.status else {
        panic!("{outcome:?}")
    };
    assert!(error.contains("10000"), "{error}");
    assert_eq!(zip_files(&out.path().join("raw")), 0);
    assert!(Catalog::load(out.path()).unwrap().releases.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_server_times_out_and_the_retry_resumes() {
    let server = Server::start().await;
    cms_site(&server, Behavior::StallOnce { after: 5_000 });
    let out = tempfile::tempdir().unwrap();
    let options = HttpOptions {
        timeout: Duration::from_millis(500),
        ..quick()
    };
    let outcome = &fetch_one(&server, "RVU99B", out.path(), &options).await;
    assert_eq!(outcome.status, Status::New, "{outcome:?}");
    let requests = server.requests("/files/zip/rvu99b.zip");
    assert_eq!(requests[1].headers["range"], "bytes=5000-");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_is_not_a_zip_is_retried_then_refused() {
    let server = Server::start().await;
    cms_site(&server, Behavior::Normal);
    server.route(
        "/files/zip/rvu99c.zip",
        b"<html>Please accept the licence</html>".to_vec(),
        Behavior::Normal,
    );
    let out = tempfile::tempdir().unwrap();
    let outcome = &fetch_one(&server, "RVU99C", out.path(), &quick()).await;
    let Status::Failed { error } = &outcome.status else {
        panic!("{outcome:?}")
    };
    assert!(
        error.contains("not a zip") && error.contains("gave up after 4 attempts"),
        "{error}"
    );
    assert_eq!(zip_files(&out.path().join("raw")), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_run_in_parallel() {
    let server = Server::start().await;
    let mut links = String::new();
    for i in 0..8 {
        let slug = format!("rvu9{i}a");
        links.push_str(&format!(r#"<a href="{INDEX}/{slug}">x</a>"#));
        server.page(
            &format!("{INDEX}/{slug}"),
            &format!(r#"<a href="/files/zip/{slug}.zip">zip</a>"#),
        );
        server.route(
            &format!("/files/zip/{slug}.zip"),
            fixture_zip("rvu99a.zip"),
            Behavior::Delay(Duration::from_millis(300)),
        );
    }
    server.page(INDEX, &links);
    let found = releases(&server).await;
    assert_eq!(found.len(), 8);
    let out = tempfile::tempdir().unwrap();
    let options = HttpOptions { jobs: 8, ..quick() };
    let started = Instant::now();
    let outcomes = fetch_all(&found, out.path(), &options, false)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        outcomes
            .iter()
            .all(|o| !matches!(o.status, Status::Failed { .. }))
    );
    let overlap = server.state.lock().unwrap().max_in_flight;
    // The figure for the closing note: 8 downloads of 300 ms each.
    eprintln!("fetched 8 releases (300 ms each on the server) in {elapsed:?}, {overlap} at once");
    assert!(overlap > 1, "downloads did not overlap");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_files_work_wherever_a_url_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pages")).unwrap();
    std::fs::copy(
        common::fixtures().join("rvu99a.zip"),
        dir.path().join("rvu99a.zip"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pages/rvu99a"),
        r#"<a href="../rvu99a.zip">zip</a>"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        r#"<a href="pages/rvu99a">RVU99A</a>"#,
    )
    .unwrap();
    let index = parse_location(dir.path().join("index.html").to_str().unwrap()).unwrap();
    let found = discover(&index, &quick()).await.unwrap().releases;
    assert_eq!(found.len(), 1);
    let out = tempfile::tempdir().unwrap();
    let outcome = &fetch_all(&found, out.path(), &quick(), false)
        .await
        .unwrap()[0];
    assert_eq!(outcome.status, Status::New);
    assert!(outcome.path.as_ref().unwrap().is_file());
}

fn zip_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "zip")
            })
            .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_fetches_and_works_offline() {
    let server = Server::start().await;
    cms_site(&server, Behavior::Normal);
    let out = tempfile::tempdir().unwrap();
    let index = server.url(INDEX);
    let out_path = out.path().to_path_buf();
    let (listing, fetched, offline, missing) = tokio::task::spawn_blocking(move || {
        let run = |args: Vec<String>| {
            let output = common::rvu().args(&args).output().unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        };
        let o = out_path.display().to_string();
        (
            run(vec!["releases".into(), "--index-url".into(), index.clone()]),
            run(vec![
                "fetch".into(),
                "RVU99B".into(),
                "RVU99C".into(),
                "--index-url".into(),
                index,
                "--output".into(),
                o.clone(),
            ]),
            run(vec![
                "fetch".into(),
                "--offline".into(),
                "--output".into(),
                o.clone(),
            ]),
            run(vec![
                "fetch".into(),
                "RVU99A".into(),
                "--offline".into(),
                "--output".into(),
                o,
            ]),
        )
    })
    .await
    .unwrap();
    assert_eq!(listing.0, Some(0), "{listing:?}");
    assert!(
        listing.1.contains("RVU99AR") && listing.1.contains("4 releases"),
        "{}",
        listing.1
    );
    assert_eq!(fetched.0, Some(0), "{fetched:?}");
    assert!(
        fetched
            .1
            .contains("2 new, 0 new versions, 0 unchanged, 0 failed"),
        "{}",
        fetched.1
    );
    assert_eq!(offline.0, Some(0), "{offline:?}");
    assert!(
        offline.1.contains("RVU99B   version 1") && offline.1.contains("RVU99C"),
        "{}",
        offline.1
    );
    assert_eq!(missing.0, Some(1), "{missing:?}");
    assert!(
        missing.2.contains("offline, and not in") && missing.2.contains("RVU99A"),
        "{}",
        missing.2
    );
}

/// `rvu run` on a CMS-like site: each release is downloaded once, published with its URL as
/// the source, and a second run downloads nothing new; a release whose zip is gone fails
/// (exit 2, an environment problem) while the others publish.
#[tokio::test(flavor = "multi_thread")]
async fn rvu_run_downloads_publishes_and_then_only_asks_if_anything_changed() {
    let server = Server::start().await;
    server.page(
        INDEX,
        r#"<ul><li><a href="pfs-relative-value-files/rvu99a">A</a></li>
        <li><a href="pfs-relative-value-files/rvu99b">B</a></li>
        <li><a href="pfs-relative-value-files/rvu99c">C</a></li></ul>"#,
    );
    for id in ["a", "b", "c"] {
        server.page(
            &format!("{INDEX}/rvu99{id}"),
            &format!(r#"<a href="/files/zip/rvu99{id}.zip">ZIP</a>"#),
        );
    }
    for id in ["a", "b"] {
        let name = format!("rvu99{id}.zip");
        server.route(
            &format!("/files/zip/{name}"),
            fixture_zip(&name),
            Behavior::Normal,
        );
    }
    server.route("/files/zip/rvu99c.zip", Vec::new(), Behavior::NotFound);
    let work = tempfile::tempdir().unwrap();
    let definition = work.path().join("site.toml");
    std::fs::write(
        &definition,
        format!(
            "name = \"site\"\noutput = \"out\"\n[source]\nkind = \"cms-index\"\nindex_url = \"{}\"\n\
             [source.http]\ntimeout_secs = 2\nretries = 1\nbackoff_ms = 10\n",
            server.url(INDEX)
        ),
    )
    .unwrap();
    let dry = definition.clone();
    let run = move || {
        let output = common::rvu().arg("run").arg(&definition).output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let again = run.clone();
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        let output = common::rvu()
            .args(["run", "--dry-run"])
            .arg(&dry)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        stdout
            .matches("would download, then process and publish")
            .count(),
        3,
        "{stdout}"
    );
    assert!(
        !work.path().join("out").exists(),
        "a dry run wrote the output folder"
    );
    assert!(
        server.requests("/files/zip/rvu99b.zip").is_empty(),
        "a dry run downloaded"
    );

    let (code, stdout) = tokio::task::spawn_blocking(run).await.unwrap();
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.contains("2 published") && stdout.contains("1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED      RVU99C at fetch"), "{stdout}");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(work.path().join("out/releases/RVU99B/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["source"], server.url("/files/zip/rvu99b.zip"));
    assert_eq!(server.requests("/files/zip/rvu99b.zip").len(), 1);

    let (code, stdout) = tokio::task::spawn_blocking(again).await.unwrap();
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.contains("0 new, 0 published, 2 skipped"), "{stdout}");
    let asked = server.requests("/files/zip/rvu99b.zip");
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1].status, 304, "{asked:?}");
}

/// A paged index, newest first, two releases a page (Drupal's pager markup): page 0 holds
/// RVU99B and RVU99A, page 1 RVU98D and RVU98C, page 2 RVU98B and RVU98A. Page 0 links page 1
/// relatively with `&amp;`, page 1 links page 2 absolutely, and each links back to page 0
/// (the loop a real pager has: "first", "previous"). `last` is what page 2 links next.
fn paged_site(server: &Server, last: &str) {
    let pager = |links: &[(&str, &str)]| -> String {
        let items: Vec<String> = links
            .iter()
            .map(|(href, rel)| {
                format!(
                    r#"<li class="pager__item pager__item--{rel}"><a href="{href}" rel="{rel}">{rel}</a></li>"#
                )
            })
            .collect();
        format!(
            r#"<nav class="pager"><ul class="pager__items">{}</ul></nav>"#,
            items.join("")
        )
    };
    let releases = |ids: &[&str]| -> String {
        ids.iter()
            .map(|id| {
                format!(
                    r#"<li><a href="{INDEX}/{}">{id}</a></li>"#,
                    id.to_lowercase()
                )
            })
            .collect()
    };
    server.page(
        INDEX,
        &format!(
            "<ul>{}</ul>{}<a href=\"http://example.invalid{INDEX}?page=7\" rel=\"next\">mirror</a>",
            releases(&["RVU99B", "RVU99A"]),
            pager(&[("?page=1&amp;items_per_page=2", "next")])
        ),
    );
    server.page(
        &format!("{INDEX}?page=1&items_per_page=2"),
        &format!(
            "<ul>{}</ul>{}",
            releases(&["RVU98D", "RVU98C"]),
            pager(&[
                ("?page=0", "first"),
                ("?page=0", "prev"),
                (&server.url(&format!("{INDEX}?page=2")), "next"),
            ])
        ),
    );
    server.page(
        &format!("{INDEX}?page=2"),
        &format!(
            "<ul>{}</ul>{}",
            releases(&["RVU98B", "RVU98A"]),
            pager(&[("?page=0", "first"), (last, "next")])
        ),
    );
    for id in ["rvu99b", "rvu99a", "rvu98d", "rvu98c", "rvu98b", "rvu98a"] {
        let zip = if id.starts_with("rvu99") {
            format!("/files/zip/{id}.zip")
        } else {
            "/files/zip/gone.zip".to_string()
        };
        server.page(
            &format!("{INDEX}/{id}"),
            &format!(r#"<a href="{zip}">ZIP</a>"#),
        );
    }
    server.route(
        "/files/zip/rvu99a.zip",
        fixture_zip("rvu99a.zip"),
        Behavior::Normal,
    );
    server.route(
        "/files/zip/rvu99b.zip",
        fixture_zip("rvu99b.zip"),
        Behavior::Normal,
    );
}

fn index_requests(server: &Server) -> Vec<String> {
    let state = server.state.lock().unwrap();
    state
        .log
        .iter()
        .filter(|r| r.path.starts_with(INDEX) && !r.path[INDEX.len()..].starts_with('/'))
        .map(|r| r.path[INDEX.len()..].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_reads_every_page_of_a_paged_index_once() {
    let server = Server::start().await;
    paged_site(&server, "?page=0");
    let found = discover(&parse_location(&server.url(INDEX)).unwrap(), &quick())
        .await
        .unwrap();
    let ids: Vec<String> = found.releases.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        ["RVU98A", "RVU98B", "RVU98C", "RVU98D", "RVU99A", "RVU99B"]
    );
    assert_eq!(found.index_pages, 3);
    // Each page once, in pager order; page 2's link back to page 0 (the index) is not read
    // again, and the pager link to another host is never followed.
    assert_eq!(
        index_requests(&server),
        ["", "?page=1&items_per_page=2", "?page=2"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pager_that_never_ends_stops_at_the_first_page_that_adds_nothing() {
    let server = Server::start().await;
    paged_site(&server, "?page=3");
    for n in 3..6 {
        server.page(
            &format!("{INDEX}?page={n}"),
            &format!(
                r#"<p>No results</p><a href="?page={}" rel="next">next</a>"#,
                n + 1
            ),
        );
    }
    let found = discover(&parse_location(&server.url(INDEX)).unwrap(), &quick())
        .await
        .unwrap();
    assert_eq!(found.releases.len(), 6);
    assert_eq!(found.index_pages, 4);
    assert_eq!(
        index_requests(&server),
        ["", "?page=1&items_per_page=2", "?page=2", "?page=3"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pager_that_keeps_adding_releases_is_read_to_the_bound_only() {
    let server = Server::start().await;
    // 150 pages, each with one release of its own (RVU00A, RVU00B, ...).
    let id = |n: usize| format!("rvu{:02}{}", n / 4, ['a', 'b', 'c', 'd'][n % 4]);
    for n in 0..150 {
        let path = if n == 0 {
            INDEX.to_string()
        } else {
            format!("{INDEX}?page={n}")
        };
        server.page(
            &path,
            &format!(
                r#"<a href="{INDEX}/{}">release</a><a href="?page={}" rel="next">next</a>"#,
                id(n),
                n + 1
            ),
        );
        server.page(&format!("{INDEX}/{}", id(n)), "<p>no zip yet</p>");
    }
    let found = discover(&parse_location(&server.url(INDEX)).unwrap(), &quick())
        .await
        .unwrap();
    assert_eq!(
        found.index_pages,
        rvu_pipeline::stages::discover::MAX_INDEX_PAGES
    );
    assert_eq!(found.releases.len(), 100);
    assert_eq!(index_requests(&server).len(), 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_reads_every_index_page_and_names_a_release_it_cannot_find() {
    let server = Server::start().await;
    paged_site(&server, "?page=0");
    let index = server.url(INDEX);
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_path_buf();
    let definition = out.path().join("site.toml");
    std::fs::write(
        &definition,
        format!(
            "name = \"site\"\noutput = \"out\"\n[source]\nkind = \"cms-index\"\n\
             index_url = \"{index}\"\n[source.http]\ntimeout_secs = 2\nretries = 1\n\
             backoff_ms = 10\n"
        ),
    )
    .unwrap();
    let (listing, fetched, unknown, run) = tokio::task::spawn_blocking(move || {
        let rvu = |args: &[&str]| {
            let output = common::rvu().args(args).output().unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        };
        let o = out_path.join("out").display().to_string();
        let d = definition.display().to_string();
        (
            rvu(&["releases", "--index-url", &index, "--json"]),
            rvu(&[
                "fetch",
                "--since",
                "RVU99A",
                "--index-url",
                &index,
                "--output",
                &o,
            ]),
            rvu(&["fetch", "RVU19A", "--index-url", &index, "--output", &o]),
            rvu(&["run", &d, "--only", "RVU19A"]),
        )
    })
    .await
    .unwrap();

    assert_eq!(listing.0, Some(0), "{listing:?}");
    let json: serde_json::Value = serde_json::from_str(&listing.1).unwrap();
    assert_eq!(json["index_pages"], 3);
    let ids: Vec<&str> = json["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["RVU98A", "RVU98B", "RVU98C", "RVU98D", "RVU99A", "RVU99B"]
    );

    // --since fetches exactly the selected releases (on the first page here).
    assert_eq!(fetched.0, Some(0), "{fetched:?}");
    assert!(fetched.1.contains("2 new, 0 new versions"), "{}", fetched.1);
    let fetched_zips: Vec<String> = server
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|r| r.path.ends_with(".zip"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(fetched_zips.len(), 2, "{fetched_zips:?}");

    // A release no page lists: named, exit 1.
    assert_eq!(unknown.0, Some(1), "{unknown:?}");
    assert!(unknown.2.contains("RVU19A"), "{}", unknown.2);
    assert_eq!(run.0, Some(1), "{run:?}");
    assert!(run.2.contains("RVU19A"), "{}", run.2);
}
