//! The PostgreSQL sink: published releases, their payments, the history and `codes` into a
//! database the other products read.
//!
//! Each release is loaded in one transaction (`COPY` in text format), so a reader sees all of
//! a release or none of it. A release whose published revision and files were loaded before
//! is left alone; a new revision replaces the old one's rows in the same transaction. The
//! tables take their columns and types from the published Parquet files (decimals keep their
//! precision and scale), so the database never says more or less than the datasets.
//!
//! `payments` is a view, not a copy of `payments.parquet`: the same rows and cents computed
//! from `pprrvu` and the GPCIs the release's payments use (`payment_gpci`). A code page reads
//! a code's rows by `pprrvu`'s key in milliseconds, and a load copies 50 thousand rows rather
//! than two million (0.4 s for RVU26A instead of 5). Each load checks the view's row count
//! against the file before it commits.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::BytesMut;
use futures_util::SinkExt;
use polars::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, GenericClient, NoTls, Transaction};

use crate::catalog::{ReleaseId, effective_from};
use crate::error::{Error, Result};
use crate::tables::{Kind, TableKind};

/// Where a load goes: the connection (never displayed with its password) and the schema.
#[derive(Clone)]
pub struct Target {
    config: Config,
    schema: String,
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (schema {})", self.shown, self.schema)
    }
}

impl Target {
    /// A target from a connection string (a `postgres://` URL or `key=value` pairs); without
    /// one, from `DATABASE_URL`, then libpq's `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD` and
    /// `PGDATABASE`. A password left out of the string is taken from `PGPASSWORD`.
    pub fn new(connection: Option<&str>, schema: &str) -> Result<Target> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let text = connection
            .map(str::to_string)
            .or_else(|| from_env("DATABASE_URL"));
        let mut config = match &text {
            Some(text) => text.parse::<Config>().map_err(|e| Error::Database {
                target: "the connection string".into(),
                message: format!("cannot be read: {e}"),
            })?,
            None => Config::new(),
        };
        if config.get_hosts().is_empty() {
            config.host(from_env("PGHOST").unwrap_or_else(|| "localhost".into()));
        }
        if config.get_ports().is_empty()
            && let Some(port) = from_env("PGPORT").and_then(|p| p.parse().ok())
        {
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = from_env("PGUSER")
                .or_else(|| from_env("USER"))
                .unwrap_or_else(|| "postgres".into());
            config.user(user);
        }
        if config.get_dbname().is_none()
            && let Some(db) = from_env("PGDATABASE")
        {
            config.dbname(db);
        }
        if config.get_password().is_none()
            && let Some(password) = from_env("PGPASSWORD")
        {
            config.password(password);
        }
        config.application_name("rvu load");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        if !is_identifier(schema) {
            return Err(Error::Database {
                target: shown(&config),
                message: format!(
                    "'{schema}' is not a plain schema name (lower-case letters, digits, _)"
                ),
            });
        }
        Ok(Target {
            shown: shown(&config),
            config,
            schema: schema.to_string(),
        })
    }

    /// `postgres://user@host:port/db`, without the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Database {
            target: self.shown.clone(),
            message: message.to_string(),
        }
    }

    /// The driver's error as one line: the server's message when it sent one.
    fn db_error(&self, doing: &str, e: tokio_postgres::Error) -> Error {
        let message = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text = format!("{text}: {s}");
                    source = s.source();
                }
                text
            }
        };
        self.error(format!("{doing}: {message}"))
    }
}

fn shown(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{host}:{port}/{db}")
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// A published dataset and the table it goes to.
struct Dataset {
    table: &'static str,
    /// The file: under `releases/<ID>/` for a release's own datasets, else under `history/`.
    file: &'static str,
    per_release: bool,
    /// Primary key columns (empty: none, e.g. LOCCO, where CMS lists a locality twice).
    key: &'static [&'static str],
    /// Further indexes, for the lookups the products make (a code; a locality).
    indexes: &'static [&'static [&'static str]],
}

/// Every dataset that is loaded, in load order. Keys lead with the code or locality, so the
/// key's own index serves a code page. `payments.parquet` is not copied: the `payments` view
/// computes the same rows from `pprrvu` and [`PAYMENT_GPCI`] (see [`payments_view`]).
const DATASETS: &[Dataset] = &[
    Dataset {
        table: "pprrvu",
        file: "pprrvu.parquet",
        per_release: true,
        key: &["hcpcs", "modifier", "variant", "release_id"],
        indexes: &[],
    },
    Dataset {
        table: "gpci",
        file: "gpci.parquet",
        per_release: true,
        key: &["mac", "locality", "release_id"],
        indexes: &[],
    },
    Dataset {
        table: "locco",
        file: "locco.parquet",
        per_release: true,
        key: &[],
        indexes: &[&["mac", "locality"], &["release_id"]],
    },
    Dataset {
        table: "anes",
        file: "anes.parquet",
        per_release: true,
        key: &["mac", "locality", "variant", "release_id"],
        indexes: &[],
    },
    Dataset {
        table: "oppscap",
        file: "oppscap.parquet",
        per_release: true,
        key: &["hcpcs", "modifier", "mac", "locality", "release_id"],
        indexes: &[],
    },
    Dataset {
        table: "history_pprrvu",
        file: "pprrvu.parquet",
        per_release: false,
        key: &[],
        indexes: &[&["hcpcs", "modifier"]],
    },
    Dataset {
        table: "history_gpci",
        file: "gpci.parquet",
        per_release: false,
        key: &[],
        indexes: &[&["mac", "locality"]],
    },
    Dataset {
        table: "conversion_factors",
        file: "conversion_factors.parquet",
        per_release: false,
        key: &[],
        indexes: &[],
    },
    Dataset {
        table: "codes",
        file: "codes.parquet",
        per_release: false,
        key: &["hcpcs", "modifier"],
        indexes: &[],
    },
];

/// The GPCIs a release's payments use, per release: its own `gpci.parquet`, or that of the
/// release whose GPCI was in force (`ingest.json` `payments.gpci_release_id`), so the
/// `payments` view of a release never depends on another release being loaded.
const PAYMENT_GPCI: Dataset = Dataset {
    table: "payment_gpci",
    file: "gpci.parquet",
    per_release: true,
    key: &["mac", "locality", "release_id"],
    indexes: &[],
};

/// The database layout this loader makes, part of every release's fingerprint: a loader
/// with a new layout loads every release again, once.
const LAYOUT: &str = "payments-view";

/// What a load did, release by release.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub target: String,
    pub schema: String,
    pub releases: Vec<ReleaseLoad>,
    /// `loaded` or `unchanged` (the history and `codes` datasets).
    pub history: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseLoad {
    pub release_id: String,
    pub revision: u32,
    /// `loaded`, `replaced revision N`, `reloaded` (same revision, republished) or `unchanged`.
    pub action: String,
    /// Rows per table, for a release that was loaded.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rows: BTreeMap<String, u64>,
    pub seconds: f64,
}

impl ReleaseLoad {
    fn unchanged(release: &Published) -> ReleaseLoad {
        ReleaseLoad {
            release_id: release.id.to_string(),
            revision: release.revision,
            action: "unchanged".into(),
            rows: BTreeMap::new(),
            seconds: 0.0,
        }
    }
}

/// The published release as the `releases` table records it.
struct Published {
    id: ReleaseId,
    dir: PathBuf,
    revision: u32,
    source: String,
    sha256: Option<String>,
    /// Identifies what was published (manifest and ingest report), so a republished release
    /// with the same revision is still loaded again.
    fingerprint: String,
    /// Where its payments' GPCIs come from; None when it has no payments.
    payments: Option<PaymentsSource>,
}

/// What `ingest.json` says of a release's payments.
struct PaymentsSource {
    /// `releases/<gpci_release_id>/gpci.parquet`.
    gpci: PathBuf,
    /// The rows of `payments.parquet`, which the `payments` view must count too.
    rows: u64,
}

/// Loads the published releases under `output` (all, or `only`) and the history into the
/// target database.
pub async fn load(
    target: &Target,
    output: &Path,
    only: &[ReleaseId],
    allow_invalid: bool,
) -> Result<LoadReport> {
    let started = Instant::now();
    let releases = published_releases(output, only, allow_invalid)?;
    let history = history_fingerprint(output)?;

    let (mut client, connection) = connect(target).await?;
    let schema = &target.schema;

    prepare(&client, target).await?;
    let loaded = loaded_releases(&client, target).await?;
    let history_loaded: Option<String> = client
        .query_opt(
            &format!("SELECT fingerprint FROM \"{schema}\".datasets WHERE name = 'history'"),
            &[],
        )
        .await
        .map_err(|e| target.db_error("reading what was loaded", e))?
        .map(|row| row.get(0));

    let mut work = Vec::new();
    let mut report = Vec::new();
    for release in releases {
        match loaded.get(release.id.to_string().as_str()) {
            Some((revision, fingerprint))
                if *revision == release.revision && *fingerprint == release.fingerprint =>
            {
                report.push(ReleaseLoad::unchanged(&release));
            }
            previous => {
                let action = match previous {
                    None => "loaded".to_string(),
                    Some((revision, _)) if *revision != release.revision => {
                        format!("replaced revision {revision}")
                    }
                    Some(_) => "reloaded".to_string(),
                };
                work.push((release, action));
            }
        }
    }
    let history_due = history
        .as_ref()
        .is_some_and(|h| history_loaded.as_deref() != Some(h.as_str()));

    // A database an earlier loader made holds `payments` as a table: every release is loaded
    // again (their fingerprints carry the layout) in one transaction, so that no reader sees
    // a release whose payments are not in the view yet.
    let batches: Vec<Vec<(Published, String)>> = if payments_is_table(&client, target).await? {
        // The table goes, so every release it holds must be in this load.
        let left_out: Vec<&str> = loaded
            .keys()
            .map(String::as_str)
            .filter(|id| !work.iter().any(|(r, _)| r.id.to_string() == *id))
            .collect();
        if !left_out.is_empty() {
            return Err(target.error(format!(
                "payments here is a table (an earlier rvu load made it); converting it reloads \
                 every release the database holds, in one transaction, but {} would be left \
                 out: run rvu load without --release, with them published under {}",
                left_out.join(", "),
                output.display()
            )));
        }
        vec![work]
    } else {
        work.into_iter().map(|w| vec![w]).collect()
    };
    let count: usize = batches.iter().map(Vec::len).sum();
    let mut seen = 0;
    for batch in batches {
        let tx = client
            .transaction()
            .await
            .map_err(|e| target.db_error("starting a transaction", e))?;
        lock(&tx, target).await?;
        // Another load may have done a release while this one waited for the lock.
        let current = loaded_releases(&tx, target).await?;
        let mut done = Vec::new();
        for (release, action) in batch {
            seen += 1;
            let last = seen == count;
            let began = Instant::now();
            if current.get(release.id.to_string().as_str())
                == Some(&(release.revision, release.fingerprint.clone()))
                && !(last && history_due)
            {
                report.push(ReleaseLoad::unchanged(&release));
                continue;
            }
            let mut rows = load_release(&tx, target, &release).await?;
            // The history and `codes` describe the newest release, so they change with it.
            if last && history_due {
                rows.extend(load_history(&tx, target, output, history.as_deref()).await?);
            }
            done.push((release, action, rows, began));
        }
        if done.is_empty() {
            continue;
        }
        create_views(&tx, target).await?;
        analyze(&tx, target).await?;
        for (release, _, rows, _) in &mut done {
            rows.insert(
                "payments".into(),
                check_payments(&tx, target, release).await?,
            );
        }
        for (release, ..) in &done {
            crate::failpoint::hit("load.before_commit", Some(&release.id.to_string()));
        }
        let ids: Vec<String> = done.iter().map(|(r, ..)| r.id.to_string()).collect();
        tx.commit()
            .await
            .map_err(|e| target.db_error(&format!("committing {}", ids.join(", ")), e))?;
        for (release, action, rows, began) in done {
            tracing::info!(release = %release.id, %action, "loaded into {}", target.shown);
            report.push(ReleaseLoad {
                release_id: release.id.to_string(),
                revision: release.revision,
                action,
                rows,
                seconds: began.elapsed().as_secs_f64(),
            });
        }
    }
    let history_action = if history_due {
        if count == 0 {
            let tx = client
                .transaction()
                .await
                .map_err(|e| target.db_error("starting a transaction", e))?;
            lock(&tx, target).await?;
            load_history(&tx, target, output, history.as_deref()).await?;
            create_views(&tx, target).await?;
            crate::failpoint::hit("load.before_commit", None);
            tx.commit()
                .await
                .map_err(|e| target.db_error("committing the history", e))?;
        }
        "loaded"
    } else {
        "unchanged"
    };
    drop(client);
    let _ = connection.await;
    report.sort_by(|a, b| a.release_id.cmp(&b.release_id));
    Ok(LoadReport {
        target: target.shown.clone(),
        schema: target.schema.clone(),
        releases: report,
        history: history_action.into(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Connects, with TLS when the connection string asks for it (`sslmode=require`): rustls,
/// checked against the system's root certificates (`SSL_CERT_FILE` names another bundle).
/// Otherwise the connection is plain, as on a private network or a local socket.
async fn connect(target: &Target) -> Result<(Client, tokio::task::JoinHandle<()>)> {
    let fail = |e| target.db_error("cannot connect", e);
    if target.config.get_ssl_mode() != SslMode::Require {
        let (client, connection) = target.config.connect(NoTls).await.map_err(fail)?;
        return Ok((
            client,
            tokio::spawn(async move {
                let _ = connection.await;
            }),
        ));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (tls, _unreadable) = tokio_postgres_rustls::MakeRustlsConnect::with_native_certs()
        .map_err(|errors| {
            target.error(format!(
                "cannot connect: no root certificates to check the server with ({})",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
    let (client, connection) = target.config.connect(tls).await.map_err(fail)?;
    Ok((
        client,
        tokio::spawn(async move {
            let _ = connection.await;
        }),
    ))
}

/// The published releases to load, oldest first; a selected release that is not published
/// is an error, and so is an invalid one unless it is allowed.
fn published_releases(
    output: &Path,
    only: &[ReleaseId],
    allow_invalid: bool,
) -> Result<Vec<Published>> {
    let all = crate::published::published(output);
    let wanted: BTreeSet<ReleaseId> = only.iter().copied().collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !all.iter().any(|(p, _)| p == *id))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "{}: not published: {}",
            output.display(),
            missing.join(", ")
        )));
    }
    if all.is_empty() {
        return Err(Error::NotFound(format!(
            "{}: no published release to load",
            output.display()
        )));
    }
    all.into_iter()
        .filter(|(id, _)| wanted.is_empty() || wanted.contains(id))
        .map(|(id, dir)| read_published(id, dir, allow_invalid))
        .collect()
}

fn read_published(id: ReleaseId, dir: PathBuf, allow_invalid: bool) -> Result<Published> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        revision: u32,
        source: String,
        archive_sha256: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Ingest {
        valid: bool,
        payments: Option<IngestPayments>,
    }
    #[derive(serde::Deserialize)]
    struct IngestPayments {
        rows: u64,
        gpci_release_id: Option<String>,
    }
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        fs::read(&path).map_err(|e| Error::io(&path, e))
    };
    let manifest_bytes = read("manifest.json")?;
    let ingest_bytes = read("ingest.json")?;
    let bad = |name: &str, e: serde_json::Error| Error::Output {
        what: dir.join(name).display().to_string(),
        message: format!("cannot be read: {e}"),
    };
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| bad("manifest.json", e))?;
    let ingest: Ingest =
        serde_json::from_slice(&ingest_bytes).map_err(|e| bad("ingest.json", e))?;
    if !ingest.valid && !allow_invalid {
        return Err(Error::Invalid {
            release: id.to_string(),
            summary: "it was published despite validation errors; pass --allow-invalid to \
                      load it anyway"
                .into(),
        });
    }
    let mut hasher = Sha256::new();
    hasher.update(&manifest_bytes);
    hasher.update(&ingest_bytes);
    hasher.update(crate::package::SCHEMA_VERSION.as_bytes());
    hasher.update(LAYOUT.as_bytes());
    let payments = match ingest.payments {
        Some(IngestPayments {
            rows,
            gpci_release_id: Some(from),
        }) => Some(PaymentsSource {
            gpci: payment_gpci_file(&dir, &from)?,
            rows,
        }),
        _ => None,
    };
    Ok(Published {
        id,
        revision: manifest.revision,
        source: manifest.source,
        sha256: manifest.archive_sha256,
        fingerprint: hex(&hasher.finalize()),
        payments,
        dir,
    })
}

/// The published `gpci.parquet` of `from` (a release beside `dir`, or `dir`'s own).
fn payment_gpci_file(dir: &Path, from: &str) -> Result<PathBuf> {
    // A release ID, never a path: `ingest.json` is read from disk.
    let from: ReleaseId = from.parse().map_err(|_| Error::Output {
        what: dir.join("ingest.json").display().to_string(),
        message: format!("payments.gpci_release_id '{from}' is not a release ID"),
    })?;
    let path = dir.with_file_name(from.to_string()).join(PAYMENT_GPCI.file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::NotFound(format!(
            "{}: the payments of {} use {from}'s GPCI, which is not published there",
            path.display(),
            dir.display()
        )))
    }
}

/// What the history step recorded (its releases and their fingerprints); None before any.
fn history_fingerprint(output: &Path) -> Result<Option<String>> {
    let path = output.join("history").join("state.json");
    match fs::read(&path) {
        Ok(bytes) => {
            let mut hasher = Sha256::new();
            hasher.update(&bytes);
            hasher.update(crate::package::SCHEMA_VERSION.as_bytes());
            Ok(Some(hex(&hasher.finalize())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The schema and the bookkeeping tables (the dataset tables follow their files).
async fn prepare(client: &Client, target: &Target) -> Result<()> {
    let s = &target.schema;
    // CREATE SCHEMA needs the database's CREATE privilege even when the schema exists, and a
    // loader's role often has rights on its schema only.
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
            &[&target.schema],
        )
        .await
        .map_err(|e| target.db_error(&format!("looking for schema {s}"), e))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{s}\""))
            .await
            .map_err(|e| target.db_error(&format!("creating schema {s}"), e))?;
    }
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS \"{s}\".releases (
             release_id text PRIMARY KEY,
             revision integer NOT NULL,
             effective_date date NOT NULL,
             source text NOT NULL,
             sha256 text,
             fingerprint text NOT NULL,
             loaded_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE TABLE IF NOT EXISTS \"{s}\".datasets (
             name text PRIMARY KEY,
             fingerprint text NOT NULL,
             loaded_at timestamptz NOT NULL DEFAULT now()
         );"
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| target.db_error(&format!("preparing schema {s}"), e))
}

/// Loads run one at a time per schema; a second waits for the first to commit.
async fn lock(tx: &Transaction<'_>, target: &Target) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('rvu load ' || $1::text))",
        &[&target.schema],
    )
    .await
    .map_err(|e| target.db_error("waiting for another load", e))?;
    Ok(())
}

async fn loaded_releases(
    client: &impl GenericClient,
    target: &Target,
) -> Result<BTreeMap<String, (u32, String)>> {
    let rows = client
        .query(
            &format!(
                "SELECT release_id, revision, fingerprint FROM \"{}\".releases",
                target.schema
            ),
            &[],
        )
        .await
        .map_err(|e| target.db_error("reading what was loaded", e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let revision: i32 = row.get(1);
            (
                row.get::<_, String>(0),
                (revision.max(0) as u32, row.get::<_, String>(2)),
            )
        })
        .collect())
}

/// One release's datasets, replacing whatever revision of it was there.
async fn load_release(
    tx: &Transaction<'_>,
    target: &Target,
    release: &Published,
) -> Result<BTreeMap<String, u64>> {
    let s = &target.schema;
    let id = release.id.to_string();
    let mut rows = BTreeMap::new();
    for dataset in DATASETS.iter().filter(|d| d.per_release) {
        let path = release.dir.join(dataset.file);
        if table_exists(tx, target, dataset.table).await? {
            tx.execute(
                &format!(
                    "DELETE FROM \"{s}\".\"{}\" WHERE release_id = $1",
                    dataset.table
                ),
                &[&id],
            )
            .await
            .map_err(|e| target.db_error(&format!("replacing {id} in {}", dataset.table), e))?;
        }
        if !path.exists() {
            continue;
        }
        let extra = [("revision", release.revision as i64)];
        let n = load_dataset(tx, target, dataset, &path, &extra).await?;
        rows.insert(dataset.table.to_string(), n);
    }
    if table_exists(tx, target, PAYMENT_GPCI.table).await? {
        tx.execute(
            &format!("DELETE FROM \"{s}\".payment_gpci WHERE release_id = $1"),
            &[&id],
        )
        .await
        .map_err(|e| target.db_error(&format!("replacing {id} in payment_gpci"), e))?;
    }
    if let Some(payments) = &release.payments {
        let frame = payment_gpci(&payments.gpci, &id)?;
        let extra = [("revision", release.revision as i64)];
        let n = load_frame(
            tx,
            target,
            &PAYMENT_GPCI,
            &payments.gpci,
            frame,
            None,
            &extra,
        )
        .await?;
        rows.insert(PAYMENT_GPCI.table.to_string(), n);
    }
    tx.execute(
        &format!(
            "INSERT INTO \"{s}\".releases
                 (release_id, revision, effective_date, source, sha256, fingerprint, loaded_at)
             VALUES ($1, $2, $3::text::date, $4, $5, $6, now())
             ON CONFLICT (release_id) DO UPDATE SET
                 revision = EXCLUDED.revision, effective_date = EXCLUDED.effective_date,
                 source = EXCLUDED.source, sha256 = EXCLUDED.sha256,
                 fingerprint = EXCLUDED.fingerprint, loaded_at = EXCLUDED.loaded_at"
        ),
        &[
            &id,
            &(release.revision as i32),
            &effective_from(release.id),
            &release.source,
            &release.sha256,
            &release.fingerprint,
        ],
    )
    .await
    .map_err(|e| target.db_error(&format!("recording {id}"), e))?;
    Ok(rows)
}

/// The history and `codes` datasets, replaced whole (they are rebuilt on every publish).
async fn load_history(
    tx: &Transaction<'_>,
    target: &Target,
    output: &Path,
    fingerprint: Option<&str>,
) -> Result<BTreeMap<String, u64>> {
    let s = &target.schema;
    let mut rows = BTreeMap::new();
    for dataset in DATASETS.iter().filter(|d| !d.per_release) {
        let path = output.join("history").join(dataset.file);
        if table_exists(tx, target, dataset.table).await? {
            tx.execute(&format!("TRUNCATE \"{s}\".\"{}\"", dataset.table), &[])
                .await
                .map_err(|e| target.db_error(&format!("replacing {}", dataset.table), e))?;
        }
        if !path.exists() {
            continue;
        }
        let n = load_dataset(tx, target, dataset, &path, &[]).await?;
        rows.insert(dataset.table.to_string(), n);
    }
    if let Some(fingerprint) = fingerprint {
        tx.execute(
            &format!(
                "INSERT INTO \"{s}\".datasets (name, fingerprint, loaded_at)
                 VALUES ('history', $1, now())
                 ON CONFLICT (name) DO UPDATE SET
                     fingerprint = EXCLUDED.fingerprint, loaded_at = EXCLUDED.loaded_at"
            ),
            &[&fingerprint],
        )
        .await
        .map_err(|e| target.db_error("recording the history", e))?;
    }
    Ok(rows)
}

/// One dataset file into its table, a slice at a time (see [`load_frame`]).
async fn load_dataset(
    tx: &Transaction<'_>,
    target: &Target,
    dataset: &Dataset,
    path: &Path,
    extra: &[(&str, i64)],
) -> Result<u64> {
    let first = read_slice(path, 0)?;
    load_frame(tx, target, dataset, path, first, Some(path), extra).await
}

/// `first` and the slices of `rest` after it into a dataset's table: the table made or
/// extended from `first`'s columns, COPY, then a new table's keys. `path` names the source in
/// errors. Logs where the time went (`RUST_LOG=info`).
async fn load_frame(
    tx: &Transaction<'_>,
    target: &Target,
    dataset: &Dataset,
    path: &Path,
    first: DataFrame,
    rest: Option<&Path>,
    extra: &[(&str, i64)],
) -> Result<u64> {
    let keys = ensure_table(tx, target, dataset, &first, extra).await?;
    let clock = Instant::now();
    let rows = copy_file(tx, target, dataset.table, path, first, rest, extra).await?;
    let copied = clock.elapsed();
    let clock = Instant::now();
    add_keys(tx, target, dataset.table, keys).await?;
    tracing::info!(
        table = dataset.table,
        rows,
        copy_ms = copied.as_millis() as u64,
        index_ms = clock.elapsed().as_millis() as u64,
        "loaded {}",
        path.display()
    );
    Ok(rows)
}

/// A GPCI file as `payment_gpci` holds it for `release`: the localities and their three GPCIs,
/// and the release whose file it is.
fn payment_gpci(path: &Path, release: &str) -> Result<DataFrame> {
    let fail = |e: PolarsError| crate::published::polars_error(path, e);
    let gpci = read_slice(path, 0)?;
    let mut columns = vec![Column::new(
        "release_id".into(),
        vec![release; gpci.height()],
    )];
    columns.push(
        gpci.column("release_id")
            .map_err(fail)?
            .clone()
            .with_name("gpci_release_id".into()),
    );
    for name in ["mac", "locality", "pw_gpci", "pe_gpci", "mp_gpci"] {
        columns.push(gpci.column(name).map_err(fail)?.clone());
    }
    DataFrame::new(gpci.height(), columns).map_err(fail)
}

/// Up to [`SLICE_ROWS`] rows of a Parquet file from `offset` on.
fn read_slice(path: &Path, offset: usize) -> Result<DataFrame> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file)
        .with_slice(Some((offset, SLICE_ROWS)))
        .finish()
        .map_err(|e| crate::published::polars_error(path, e))
}

async fn table_exists(tx: &Transaction<'_>, target: &Target, table: &str) -> Result<bool> {
    let name = format!("\"{}\".\"{table}\"", target.schema);
    let row = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .map_err(|e| target.db_error(&format!("looking for {table}"), e))?;
    Ok(row.get(0))
}

/// The PostgreSQL type of a published column. Parquet types map one to one; a few datasets
/// (`codes`, the history) carry RVUs, conversion factors and dates as text, which take the
/// type PPRRVU gives the same column.
fn pg_type(name: &str, dtype: &DataType) -> String {
    match dtype {
        DataType::Decimal(precision, scale) => format!("numeric({precision},{scale})"),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            "integer".into()
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
        DataType::Float32 | DataType::Float64 => "double precision".into(),
        DataType::Date => "date".into(),
        _ => text_column_type(name),
    }
}

fn text_column_type(name: &str) -> String {
    if name == "effective_from" || name == "effective_to" {
        return "date".into();
    }
    let canonical = name.strip_prefix("qpp_").unwrap_or(name);
    TableKind::Pprrvu
        .columns()
        .iter()
        .find(|c| c.name == canonical)
        .and_then(|c| match c.kind {
            Kind::Decimal { precision, scale } => Some(format!("numeric({precision},{scale})")),
            _ => None,
        })
        .unwrap_or_else(|| "text".into())
}

/// Creates the table for a dataset from its file's columns (plus `extra`, after
/// `release_id`), or adds the columns a newer file has. A new table's key and indexes are
/// returned as SQL to run after its first COPY: building an index once is several times
/// faster than keeping it up to date row by row.
async fn ensure_table(
    tx: &Transaction<'_>,
    target: &Target,
    dataset: &Dataset,
    frame: &DataFrame,
    extra: &[(&str, i64)],
) -> Result<Option<String>> {
    let s = &target.schema;
    let t = dataset.table;
    let columns = table_columns(frame, extra);
    let existing: BTreeSet<String> = tx
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2",
            &[&target.schema, &t],
        )
        .await
        .map_err(|e| target.db_error(&format!("reading the columns of {t}"), e))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let fail = |e| target.db_error(&format!("creating {s}.{t}"), e);
    if existing.is_empty() {
        let body: Vec<String> = columns
            .iter()
            .map(|(name, ty)| {
                let not_null = if dataset.key.contains(&name.as_str()) || name == "revision" {
                    " NOT NULL"
                } else {
                    ""
                };
                format!("\"{name}\" {ty}{not_null}")
            })
            .collect();
        let sql = format!("CREATE TABLE \"{s}\".\"{t}\" ({})", body.join(", "));
        tx.batch_execute(&sql).await.map_err(fail)?;
        let mut keys = String::new();
        if !dataset.key.is_empty() {
            keys.push_str(&format!(
                "ALTER TABLE \"{s}\".\"{t}\" ADD PRIMARY KEY ({});",
                quoted(dataset.key)
            ));
        }
        for (i, index) in dataset.indexes.iter().enumerate() {
            keys.push_str(&format!(
                "CREATE INDEX \"{t}_by_{i}\" ON \"{s}\".\"{t}\" ({});",
                quoted(index)
            ));
        }
        return Ok(Some(keys));
    } else {
        for (name, ty) in columns.iter().filter(|(n, _)| !existing.contains(n)) {
            tx.batch_execute(&format!(
                "ALTER TABLE \"{s}\".\"{t}\" ADD COLUMN \"{name}\" {ty}"
            ))
            .await
            .map_err(fail)?;
        }
    }
    Ok(None)
}

/// A new table's key and indexes, after its first rows are in (a duplicate key fails here,
/// naming the table).
async fn add_keys(
    tx: &Transaction<'_>,
    target: &Target,
    table: &str,
    keys: Option<String>,
) -> Result<()> {
    match keys {
        Some(sql) if !sql.is_empty() => tx
            .batch_execute(&sql)
            .await
            .map_err(|e| target.db_error(&format!("indexing {table}"), e)),
        _ => Ok(()),
    }
}

fn quoted(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table's columns: the frame's, with `extra` right after `release_id`.
fn table_columns(frame: &DataFrame, extra: &[(&str, i64)]) -> Vec<(String, String)> {
    let mut columns = Vec::new();
    for column in frame.columns() {
        let name = column.name().to_string();
        let after_release = name == "release_id";
        columns.push((name.clone(), pg_type(&name, column.dtype())));
        if after_release {
            columns.extend(extra.iter().map(|(n, _)| (n.to_string(), "integer".into())));
        }
    }
    columns
}

/// One column's cells, rendered as COPY text.
enum Cells<'a> {
    Text {
        values: Box<dyn Iterator<Item = Option<&'a str>> + 'a>,
        /// Text standing for a typed value (an RVU in `codes`): blank is null.
        blank_is_null: bool,
    },
    Flag(Box<dyn Iterator<Item = Option<bool>> + 'a>),
    Decimal(Box<dyn Iterator<Item = Option<i128>> + 'a>, usize),
    Integer(Box<dyn Iterator<Item = Option<i64>> + 'a>),
    Constant(String),
}

impl Cells<'_> {
    fn write(&mut self, out: &mut BytesMut) {
        match self {
            Cells::Text {
                values,
                blank_is_null,
            } => match values.next().flatten() {
                Some("") if *blank_is_null => out.extend_from_slice(b"\\N"),
                Some(text) => escape(text, out),
                None => out.extend_from_slice(b"\\N"),
            },
            Cells::Flag(values) => out.extend_from_slice(match values.next().flatten() {
                Some(true) => b"t",
                Some(false) => b"f",
                None => b"\\N",
            }),
            Cells::Decimal(values, scale) => match values.next().flatten() {
                Some(m) => decimal(m, *scale, out),
                None => out.extend_from_slice(b"\\N"),
            },
            Cells::Integer(values) => match values.next().flatten() {
                Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
                None => out.extend_from_slice(b"\\N"),
            },
            Cells::Constant(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// COPY's text format: backslash, tab, newline and carriage return escaped.
fn escape(text: &str, out: &mut BytesMut) {
    if !text
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.extend_from_slice(&[other]),
        }
    }
}

/// An exact decimal from its integer count of 10^-scale.
fn decimal(mantissa: i128, scale: usize, out: &mut BytesMut) {
    use std::fmt::Write;
    if mantissa < 0 {
        out.extend_from_slice(b"-");
    }
    let abs = mantissa.unsigned_abs();
    let factor = 10u128.pow(scale as u32);
    let mut text = String::with_capacity(24);
    let _ = if scale == 0 {
        write!(text, "{abs}")
    } else {
        write!(text, "{}.{:0scale$}", abs / factor, abs % factor)
    };
    out.extend_from_slice(text.as_bytes());
}

fn cells<'a>(column: &'a Column, path: &Path) -> Result<Cells<'a>> {
    let fail = |e: PolarsError| crate::published::polars_error(path, e);
    let series = column.as_materialized_series();
    Ok(match series.dtype() {
        DataType::String => Cells::Text {
            values: Box::new(series.str().map_err(fail)?.iter()),
            blank_is_null: text_column_type(series.name()) != "text",
        },
        DataType::Boolean => Cells::Flag(Box::new(series.bool().map_err(fail)?.iter())),
        DataType::Decimal(_, scale) => {
            let scale = *scale;
            Cells::Decimal(
                Box::new(series.decimal().map_err(fail)?.physical().iter()),
                scale,
            )
        }
        dtype if dtype.is_integer() => {
            let ints = series.cast(&DataType::Int64).map_err(fail)?;
            let values: Vec<Option<i64>> = ints.i64().map_err(fail)?.iter().collect();
            Cells::Integer(Box::new(values.into_iter()))
        }
        other => {
            return Err(Error::Output {
                what: path.display().to_string(),
                message: format!(
                    "column '{}' has type {other}, which the database load does not know",
                    series.name()
                ),
            });
        }
    })
}

/// Rows per slice of a Parquet file: read, encoded and sent while the server parses the slice
/// before (a release's payments are sixteen row groups of 131,072 rows).
const SLICE_ROWS: usize = 1 << 18;
/// Bytes per COPY message.
const CHUNK: usize = 1 << 20;

/// Streams a dataset into its table with COPY: a thread encodes `first`, then reads and
/// encodes the file `rest` (of which `first` is the first slice) a slice at a time, while this
/// task sends what it made, so the server parses one slice while the next is read. Returns
/// the rows the server took.
async fn copy_file(
    tx: &Transaction<'_>,
    target: &Target,
    table: &str,
    path: &Path,
    first: DataFrame,
    rest: Option<&Path>,
    extra: &[(&str, i64)],
) -> Result<u64> {
    let names: Vec<String> = table_columns(&first, extra)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let statement = format!(
        "COPY \"{}\".\"{table}\" ({}) FROM STDIN",
        target.schema,
        names
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let producer = {
        let path = path.to_path_buf();
        let rest = rest.map(Path::to_path_buf);
        let extra: Vec<(String, i64)> = extra.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        tokio::task::spawn_blocking(move || {
            encode_file(&path, first, rest.as_deref(), &extra, &sender)
        })
    };
    let fail = |e| target.db_error(&format!("loading {} into {table}", path.display()), e);
    let sink = tx.copy_in(&statement).await.map_err(fail)?;
    futures_util::pin_mut!(sink);
    while let Some(chunk) = chunks.recv().await {
        sink.send(chunk).await.map_err(fail)?;
    }
    // A file that could not be read ends the COPY unfinished: the transaction rolls back.
    producer.await.map_err(|e| Error::Output {
        what: path.display().to_string(),
        message: format!("the reader stopped: {e}"),
    })??;
    sink.as_mut().finish().await.map_err(fail)
}

/// Sends `first`'s rows as COPY text, then those of `rest` a slice at a time after it; stops
/// early when the receiver is gone (the COPY failed).
fn encode_file(
    path: &Path,
    first: DataFrame,
    rest: Option<&Path>,
    extra: &[(String, i64)],
    sender: &tokio::sync::mpsc::Sender<bytes::Bytes>,
) -> Result<()> {
    let mut buffer = BytesMut::with_capacity(CHUNK + 4096);
    let mut offset = first.height();
    let mut frame = first;
    loop {
        if !encode_frame(&frame, path, extra, &mut buffer, sender)? {
            return Ok(());
        }
        let Some(rest) = rest.filter(|_| frame.height() >= SLICE_ROWS) else {
            break;
        };
        frame = read_slice(rest, offset)?;
        offset += frame.height();
        if frame.height() == 0 {
            break;
        }
    }
    if !buffer.is_empty() {
        let _ = sender.blocking_send(buffer.split().freeze());
    }
    Ok(())
}

/// Appends a frame's rows to `buffer`, sending each full chunk; false when nobody listens.
fn encode_frame(
    frame: &DataFrame,
    path: &Path,
    extra: &[(String, i64)],
    buffer: &mut BytesMut,
    sender: &tokio::sync::mpsc::Sender<bytes::Bytes>,
) -> Result<bool> {
    let mut columns = Vec::with_capacity(frame.width() + extra.len());
    for column in frame.columns() {
        let after_release = column.name().as_str() == "release_id";
        columns.push(cells(column, path)?);
        if after_release {
            columns.extend(extra.iter().map(|(_, v)| Cells::Constant(v.to_string())));
        }
    }
    for _ in 0..frame.height() {
        for (i, cells) in columns.iter_mut().enumerate() {
            if i > 0 {
                buffer.extend_from_slice(b"\t");
            }
            cells.write(buffer);
        }
        buffer.extend_from_slice(b"\n");
        if buffer.len() >= CHUNK && sender.blocking_send(buffer.split().freeze()).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `payments` is a table, as an earlier loader made it (it is a view now).
async fn payments_is_table(client: &impl GenericClient, target: &Target) -> Result<bool> {
    let name = format!("\"{}\".payments", target.schema);
    let row = client
        .query_opt(
            "SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)",
            &[&name],
        )
        .await
        .map_err(|e| target.db_error("looking for payments", e))?;
    Ok(row.is_some_and(|row| row.get::<_, String>(0) == "r"))
}

/// The `payments` view: the rows of `payments.parquet`, computed from `pprrvu` and
/// `payment_gpci` as [`crate::payment::amounts`] computes them. `numeric` is exact and
/// `round` rounds half away from zero, so the cents are the same; the load checks the count
/// of rows, and the tests every amount, against `payments.parquet`.
fn payments_view(s: &str) -> String {
    let payable = crate::payment::PAYABLE
        .iter()
        .map(|status| format!("'{status}'"))
        .collect::<Vec<_>>()
        .join(", ");
    // ((work x PW GPCI) + (PE x PE GPCI) + (MP x MP GPCI)) x CF, to the cent.
    let amount = |pe: &str, mp: &str| {
        format!(
            "round((p.work_rvu * g.pw_gpci + p.{pe} * g.pe_gpci + p.{mp} * g.mp_gpci) \
             * p.conversion_factor, 2)"
        )
    };
    // One setting: its amount, the OPPS cap where the code has OPPS RVUs, and the lower of
    // the two (least() passes over a null cap).
    let setting = |pe: &str, opps_pe: &str| {
        format!(
            "CROSS JOIN LATERAL (SELECT a.amount, a.cap, least(a.amount, a.cap) AS par FROM
                 (SELECT {} AS amount, CASE WHEN o.capped THEN {} END AS cap) a)",
            amount(pe, "mp_rvu"),
            amount(opps_pe, "opps_mp_rvu")
        )
    };
    let amounts = [
        ("amount", "{}.amount"),
        ("opps_cap", "{}.cap"),
        ("par", "{}.par"),
        // 95% of par, and 115% of that (109.25% of par), each to the cent.
        ("nonpar", "round({}.par * 0.95, 2)"),
        ("limiting_charge", "round({}.par * 1.0925, 2)"),
    ]
    .iter()
    .flat_map(|(name, expr)| {
        [("nonfacility", "nf"), ("facility", "f")].map(|(setting, alias)| {
            format!(
                "({})::numeric(10,2) AS {setting}_{name}",
                expr.replace("{}", alias)
            )
        })
    })
    .collect::<Vec<_>>()
    .join(",\n                ");
    format!(
        "CREATE OR REPLACE VIEW \"{s}\".payments AS
         SELECT p.release_id, p.revision, p.variant, p.hcpcs, p.modifier, g.mac, g.locality,
                p.status_code, p.nonfacility_na, p.facility_na,
                {amounts}
         FROM \"{s}\".pprrvu p
         JOIN \"{s}\".payment_gpci g ON g.release_id = p.release_id
         CROSS JOIN LATERAL (SELECT p.opps_nonfacility_pe_rvu <> 0 OR p.opps_facility_pe_rvu <> 0
                                    OR p.opps_mp_rvu <> 0 AS capped) o
         {} nf
         {} f
         WHERE p.status_code IN ({payable})
           AND NOT (p.work_rvu = 0 AND p.nonfacility_pe_rvu = 0 AND p.facility_pe_rvu = 0
                    AND p.mp_rvu = 0);",
        setting("nonfacility_pe_rvu", "opps_nonfacility_pe_rvu"),
        setting("facility_pe_rvu", "opps_facility_pe_rvu"),
    )
}

/// Statistics of the columns the `payments` view joins and filters on: without them the
/// planner takes a new table for nearly empty, and counting a 2026 release's two million
/// payments takes 700 ms instead of 60. (Only those columns: the whole of `pprrvu` would take
/// 200 ms more; autovacuum analyzes the rest later.)
async fn analyze(tx: &Transaction<'_>, target: &Target) -> Result<()> {
    let s = &target.schema;
    let mut sql = String::new();
    if table_exists(tx, target, "pprrvu").await? {
        sql.push_str(&format!(
            "ANALYZE \"{s}\".pprrvu (release_id, hcpcs, modifier, variant, status_code);"
        ));
    }
    if table_exists(tx, target, PAYMENT_GPCI.table).await? {
        sql.push_str(&format!("ANALYZE \"{s}\".payment_gpci;"));
    }
    tx.batch_execute(&sql)
        .await
        .map_err(|e| target.db_error("analyzing pprrvu", e))
}

/// The rows the `payments` view has for a release, which must be those of its
/// `payments.parquet` (else the transaction is not committed).
async fn check_payments(tx: &Transaction<'_>, target: &Target, release: &Published) -> Result<u64> {
    let expected = release.payments.as_ref().map_or(0, |p| p.rows);
    let s = &target.schema;
    let id = release.id.to_string();
    let in_view: i64 = if table_exists(tx, target, "payments").await? {
        tx.query_one(
            &format!("SELECT count(*) FROM \"{s}\".payments WHERE release_id = $1"),
            &[&id],
        )
        .await
        .map_err(|e| target.db_error(&format!("counting the payments of {id}"), e))?
        .get(0)
    } else {
        0
    };
    if in_view as u64 != expected {
        return Err(target.error(format!(
            "the payments view has {in_view} rows of {id} where {} has {expected}: not loaded",
            release.dir.join("payments.parquet").display()
        )));
    }
    Ok(expected)
}

/// The views and functions a product reads: `payments`, the release in force on a date, and
/// the newest release in force today.
async fn create_views(tx: &Transaction<'_>, target: &Target) -> Result<()> {
    let s = &target.schema;
    if table_exists(tx, target, "pprrvu").await?
        && table_exists(tx, target, PAYMENT_GPCI.table).await?
    {
        let mut sql = String::new();
        if payments_is_table(tx, target).await? {
            sql.push_str(&format!("DROP TABLE \"{s}\".payments CASCADE;"));
        }
        sql.push_str(&payments_view(s));
        tx.batch_execute(&sql)
            .await
            .map_err(|e| target.db_error("creating the payments view", e))?;
    }
    let mut sql = format!(
        "CREATE OR REPLACE FUNCTION \"{s}\".release_as_of(day date) RETURNS text
         LANGUAGE sql STABLE AS $$
             SELECT release_id FROM \"{s}\".releases WHERE effective_date <= day
             ORDER BY effective_date DESC, release_id DESC LIMIT 1
         $$;"
    );
    for table in ["pprrvu", "payments", "gpci", "anes"] {
        if !table_exists(tx, target, table).await? {
            continue;
        }
        sql.push_str(&format!(
            "DROP VIEW IF EXISTS \"{s}\".\"latest_{table}\";
             CREATE OR REPLACE FUNCTION \"{s}\".\"{table}_as_of\"(day date)
             RETURNS SETOF \"{s}\".\"{table}\" LANGUAGE sql STABLE AS $$
                 SELECT * FROM \"{s}\".\"{table}\" WHERE release_id = \"{s}\".release_as_of(day)
             $$;
             CREATE VIEW \"{s}\".\"latest_{table}\" AS
                 SELECT * FROM \"{s}\".\"{table}\"
                 WHERE release_id = \"{s}\".release_as_of(current_date);"
        ));
    }
    if table_exists(tx, target, "codes").await? {
        // `codes` describes the newest published release (the code pages' release).
        sql.push_str(&format!(
            "DROP VIEW IF EXISTS \"{s}\".latest_codes;
             CREATE VIEW \"{s}\".latest_codes AS SELECT * FROM \"{s}\".codes;"
        ));
    }
    tx.batch_execute(&sql)
        .await
        .map_err(|e| target.db_error("creating the views", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(f: impl FnOnce(&mut BytesMut)) -> String {
        let mut out = BytesMut::new();
        f(&mut out);
        String::from_utf8(out.to_vec()).unwrap_or_default()
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_as_syntax() {
        assert_eq!(
            rendered(|o| escape("a\tb\\c\nd\re", o)),
            "a\\tb\\\\c\\nd\\re"
        );
        assert_eq!(rendered(|o| escape("PLAIN 99213", o)), "PLAIN 99213");
    }

    #[test]
    fn decimals_keep_their_scale_and_sign() {
        assert_eq!(rendered(|o| decimal(9_718, 2, o)), "97.18");
        assert_eq!(rendered(|o| decimal(-5, 2, o)), "-0.05");
        assert_eq!(rendered(|o| decimal(334_009, 4, o)), "33.4009");
        assert_eq!(rendered(|o| decimal(7, 0, o)), "7");
    }

    #[test]
    fn text_columns_that_hold_rvus_or_dates_get_their_types() {
        assert_eq!(text_column_type("work_rvu"), "numeric(8,2)");
        assert_eq!(text_column_type("qpp_conversion_factor"), "numeric(10,4)");
        assert_eq!(text_column_type("effective_to"), "date");
        assert_eq!(text_column_type("hcpcs"), "text");
    }

    #[test]
    fn the_shown_target_never_has_the_password() {
        let target = Target::new(Some("postgres://alice:s3cret@db.example:6543/pfs"), "rvu")
            .expect("a valid URL");
        assert_eq!(target.shown(), "postgres://alice@db.example:6543/pfs");
        assert!(!format!("{target:?}").contains("s3cret"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(Target::new(Some("postgres://a@h/d"), "rvu_2026").is_ok());
        assert!(Target::new(Some("postgres://a@h/d"), "rvu\"; drop").is_err());
    }
}
