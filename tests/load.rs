//! Where the other products read: `rvu load` into a real PostgreSQL server (started by the
//! test on loopback, stopped after), and the published Parquet files read by pyarrow.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use polars::prelude::*;

use common::postgres::{PASSWORD, PgServer};
use common::read_parquet;

/// RVU25D and RVU26A (both 2026 variants) published once for this test binary, csv only.
fn published() -> &'static Path {
    common::published_samples(&["RVU25D", "RVU26A"])
}

fn ingest(release: &str, source: &Path, output: &Path) {
    let path = source.display().to_string();
    let (code, stdout, stderr) =
        common::rvu_with_output(&["ingest", &path, "--formats", "csv"], output);
    assert_eq!(code, Some(0), "{release}: {stdout}{stderr}");
}

/// `rvu load URL --output OUT ARGS`: (exit code, stdout, stderr).
fn load(url: &str, output: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::rvu_command()
        .arg("load")
        .arg(url)
        .arg("--output")
        .arg(output)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGPASSWORD")
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn loaded(server: &PgServer, output: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = load(&server.url(), output, args);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    stdout
}

/// A failed load says why in one `error:` line (the log lines around it aside).
fn assert_one_error_line(stderr: &str) {
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
}

/// Everything a reader could see: every table's rows per release, and the bookkeeping.
fn snapshot(server: &PgServer) -> String {
    let tables = server.sql(
        "SELECT string_agg(table_name::text, ',' ORDER BY table_name) FROM information_schema.tables
         WHERE table_schema = 'rvu' AND (table_type = 'BASE TABLE' OR table_name = 'payments')",
    );
    let mut text = format!("tables: {tables}\n");
    for table in tables.split(',').filter(|t| !t.is_empty()) {
        let has_release = server.sql(&format!(
            "SELECT count(*) FROM information_schema.columns
             WHERE table_schema = 'rvu' AND table_name = '{table}' AND column_name = 'release_id'"
        )) == "1";
        let counts = if has_release {
            server.sql(&format!(
                "SELECT coalesce(string_agg(r || '=' || n, ' ' ORDER BY r), '') FROM
                 (SELECT release_id r, count(*) n FROM rvu.\"{table}\" GROUP BY 1) c"
            ))
        } else {
            server.sql(&format!("SELECT count(*) FROM rvu.\"{table}\""))
        };
        text.push_str(&format!("{table}: {counts}\n"));
    }
    text.push_str(&server.sql(
        "SELECT release_id, revision, effective_date, fingerprint, loaded_at
         FROM rvu.releases ORDER BY 1",
    ));
    text
}

#[test]
fn two_real_releases_load_as_their_parquet_files_say_and_a_second_load_changes_nothing() {
    let out = published();
    let server = PgServer::start();
    let first = loaded(&server, out, &[]);
    assert!(first.contains("RVU25D revision 1: loaded"), "{first}");
    assert!(first.contains("RVU26A revision 1: loaded"), "{first}");

    // Row counts per table and release equal the Parquet files.
    for release in ["RVU25D", "RVU26A"] {
        for table in ["pprrvu", "gpci", "locco", "anes", "oppscap", "payments"] {
            let file = out
                .join("releases")
                .join(release)
                .join(format!("{table}.parquet"));
            let in_file = read_parquet(&file).height();
            let in_db = server.sql(&format!(
                "SELECT count(*) FROM rvu.{table} WHERE release_id = '{release}'"
            ));
            assert_eq!(in_db, in_file.to_string(), "{release} {table}");
        }
    }
    for (table, file) in [
        ("history_pprrvu", "pprrvu"),
        ("history_gpci", "gpci"),
        ("conversion_factors", "conversion_factors"),
        ("codes", "codes"),
    ] {
        let in_file = read_parquet(&out.join("history").join(format!("{file}.parquet"))).height();
        let in_db = server.sql(&format!("SELECT count(*) FROM rvu.{table}"));
        assert_eq!(in_db, in_file.to_string(), "{table}");
    }

    // The canonical types, and codes with their leading zeros.
    let types = server.sql(
        "SELECT table_name || '.' || column_name || ' ' || data_type || coalesce('(' ||
                numeric_precision || ',' || numeric_scale || ')', '')
         FROM information_schema.columns WHERE table_schema = 'rvu' AND
              (table_name, column_name) IN (('pprrvu', 'work_rvu'), ('gpci', 'pw_gpci'),
               ('pprrvu', 'conversion_factor'), ('pprrvu', 'nonfacility_na'),
               ('payments', 'facility_par'), ('codes', 'work_rvu'),
               ('history_pprrvu', 'effective_from'), ('pprrvu', 'hcpcs'))
         ORDER BY 1",
    );
    assert_eq!(
        types,
        "codes.work_rvu numeric(8,2)\n\
         gpci.pw_gpci numeric(6,3)\n\
         history_pprrvu.effective_from date\n\
         payments.facility_par numeric(10,2)\n\
         pprrvu.conversion_factor numeric(10,4)\n\
         pprrvu.hcpcs text\n\
         pprrvu.nonfacility_na boolean\n\
         pprrvu.work_rvu numeric(8,2)"
    );
    assert_eq!(
        server.sql("SELECT count(*) FROM rvu.gpci WHERE mac = '01112' AND locality = '54'"),
        "2"
    );

    // 99213 in force today (RVU26A) has the RVUs of CMS's files, in both variants.
    for (variant, file) in [
        ("non_qpp", "RVU26A/PPRRVU2026_Jan_nonQPP.csv"),
        ("qpp", "RVU26A/PPRRVU2026_Jan_QPP.csv"),
    ] {
        let cms = common::CmsPprrvu::read(file);
        let row = cms.by_key()[&("99213".to_string(), String::new())].clone();
        let expected: Vec<String> = [
            "WORK RVU",
            "NON-FAC PE RVU",
            "FACILITY PE RVU",
            "MP RVU",
            "NON-FACILITY TOTAL",
            "FACILITY TOTAL",
            "CONV FACTOR",
        ]
        .iter()
        .map(|c| row[cms.column(c)].clone())
        .collect();
        let in_db = server.sql(&format!(
            "SELECT release_id, work_rvu, nonfacility_pe_rvu, facility_pe_rvu, mp_rvu,
                    nonfacility_total, facility_total, conversion_factor
             FROM rvu.latest_pprrvu WHERE hcpcs = '99213' AND modifier = '' AND variant = '{variant}'"
        ));
        let cells: Vec<&str> = in_db.split('|').collect();
        assert_eq!(cells[0], "RVU26A", "{in_db}");
        for (db, cms) in cells[1..].iter().zip(&expected) {
            assert!(
                common::same_cell(db, cms),
                "{variant}: {in_db} vs {expected:?}"
            );
        }
    }

    // The payment for 99213 at 01112-54 equals payments.parquet, every amount.
    let payments = read_parquet(&out.join("releases/RVU26A/payments.parquet"));
    let amounts = [
        "nonfacility_amount",
        "facility_amount",
        "nonfacility_par",
        "facility_par",
        "nonfacility_nonpar",
        "facility_nonpar",
        "nonfacility_limiting_charge",
        "facility_limiting_charge",
    ];
    for variant in ["non_qpp", "qpp"] {
        let mask = payments
            .column("hcpcs")
            .unwrap()
            .str()
            .unwrap()
            .equal("99213")
            & payments
                .column("modifier")
                .unwrap()
                .str()
                .unwrap()
                .equal("")
            & payments
                .column("mac")
                .unwrap()
                .str()
                .unwrap()
                .equal("01112")
            & payments
                .column("locality")
                .unwrap()
                .str()
                .unwrap()
                .equal("54")
            & payments
                .column("variant")
                .unwrap()
                .str()
                .unwrap()
                .equal(variant);
        let row = payments.filter(&mask).unwrap();
        assert_eq!(row.height(), 1, "{variant}");
        let expected: Vec<String> = amounts
            .iter()
            .map(|c| {
                row.column(c)
                    .unwrap()
                    .cast(&DataType::String)
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(0)
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        let in_db = server.sql(&format!(
            "SELECT {} FROM rvu.latest_payments WHERE hcpcs = '99213' AND modifier = ''
             AND mac = '01112' AND locality = '54' AND variant = '{variant}'",
            amounts.join(", ")
        ));
        assert_eq!(in_db, expected.join("|"), "{variant}");
    }

    // The release in force on a date.
    assert_eq!(
        server.sql("SELECT rvu.release_as_of('2025-12-31')"),
        "RVU25D"
    );
    assert_eq!(
        server.sql("SELECT count(*) FROM rvu.pprrvu_as_of('2025-11-15')"),
        read_parquet(&out.join("releases/RVU25D/pprrvu.parquet"))
            .height()
            .to_string()
    );
    assert_eq!(
        server.sql("SELECT release_id, revision, effective_date FROM rvu.releases ORDER BY 1"),
        "RVU25D|1|2025-10-01\nRVU26A|1|2026-01-01"
    );
    assert_eq!(
        server.sql("SELECT count(*) FROM rvu.latest_codes WHERE hcpcs = '99213'"),
        "1"
    );

    // Loading the same releases again is a no-op that says so.
    let before = snapshot(&server);
    let again = loaded(&server, out, &[]);
    assert!(
        again.contains("RVU25D revision 1: unchanged")
            && again.contains("RVU26A revision 1: unchanged"),
        "{again}"
    );
    assert!(again.contains("history and codes: unchanged"), "{again}");
    assert_eq!(snapshot(&server), before);
}

#[test]
fn a_load_killed_after_copy_before_commit_leaves_the_database_as_it_was() {
    let out = published();
    let server = PgServer::start();
    loaded(&server, out, &["--release", "RVU25D"]);
    let before = snapshot(&server);
    assert!(before.contains("payments: RVU25D="), "{before}");

    let mut cmd = common::rvu_command();
    cmd.arg("load").arg(server.url()).arg("--output").arg(out);
    let seen = common::kill_at_failpoint(cmd, "load.before_commit:RVU26A");
    assert!(seen.contains("load.before_commit:RVU26A"), "{seen}");
    assert_eq!(snapshot(&server), before);

    // The next load finishes the work.
    let stdout = loaded(&server, out, &[]);
    assert!(stdout.contains("RVU26A revision 1: loaded"), "{stdout}");
    assert!(stdout.contains("RVU25D revision 1: unchanged"), "{stdout}");
}

#[test]
fn a_new_revision_replaces_the_old_one_in_one_load() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("RVU25D");
    std::fs::create_dir(&source).unwrap();
    for entry in std::fs::read_dir(common::samples().join("RVU25D")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            std::fs::copy(&path, source.join(path.file_name().unwrap())).unwrap();
        }
    }
    let output = work.path().join("output");
    ingest("RVU25D", &source, &output);
    let server = PgServer::start();
    loaded(&server, &output, &[]);
    let rows = server.sql("SELECT count(*) FROM rvu.pprrvu");

    // CMS re-posts the release with one file re-saved: a new revision, the same rows.
    let gpci = source.join("GPCI2025.csv");
    let mut bytes = std::fs::read(&gpci).unwrap();
    bytes.extend_from_slice(b"\r\n");
    std::fs::write(&gpci, bytes).unwrap();
    ingest("RVU25D", &source, &output);
    let stdout = loaded(&server, &output, &[]);
    assert!(
        stdout.contains("RVU25D revision 2: replaced revision 1"),
        "{stdout}"
    );
    assert_eq!(server.sql("SELECT revision FROM rvu.releases"), "2");
    assert_eq!(server.sql("SELECT count(*) FROM rvu.pprrvu"), rows);
    assert_eq!(
        server.sql("SELECT DISTINCT revision FROM rvu.payments"),
        "2",
        "every row is the new revision's"
    );
}

#[test]
fn a_database_that_refuses_fails_in_one_line_with_exit_2_and_never_shows_the_password() {
    let out = published();
    let server = PgServer::start();

    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres");
    let (code, stdout, stderr) = load(&url, out, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(stderr.contains(&format!("postgres://postgres@127.0.0.1:{port}/postgres")));
    assert_one_error_line(&stderr);
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    // A wrong password.
    let url = server.url_as("postgres", "not-the-password", "postgres");
    let (code, _, stderr) = load(&url, out, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    assert_one_error_line(&stderr);

    // The password from PGPASSWORD, never printed.
    let output = common::rvu_command()
        .args([
            "load",
            &format!("postgres://postgres@127.0.0.1:{}/postgres", server.port),
        ])
        .arg("--output")
        .arg(out)
        .args(["--release", "RVU25D"])
        .env("PGPASSWORD", PASSWORD)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains(PASSWORD), "{stdout}");

    // A schema owned by someone else: refused, and the schema is as it was.
    server.sql("CREATE ROLE clerk LOGIN PASSWORD 'clerk-pw'");
    let before = snapshot(&server);
    let url = server.url_as("clerk", "clerk-pw", "postgres");
    let (code, _, stderr) = load(&url, out, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_one_error_line(&stderr);
    assert_eq!(snapshot(&server), before);
}

#[test]
fn a_release_that_is_not_published_is_named() {
    let out = published();
    let server = PgServer::start();
    let (code, _, stderr) = load(&server.url(), out, &["--release", "RVU19A"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("RVU19A"), "{stderr}");
}

/// The rows of `payments.parquet` whose code ends in 3 (about one code in ten, at every
/// locality) equal the `payments` view's, column for column, in both directions; and the
/// file and the view have as many rows.
fn view_equals_payments_parquet(server: &PgServer, out: &Path, release: &str) {
    let file = out.join("releases").join(release).join("payments.parquet");
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("sample.csv");
    let script = r#"
import json, sys
try:
    import pyarrow.parquet as pq, pyarrow.csv as pcsv, pyarrow.compute as pc
except ImportError:
    sys.exit("pyarrow is missing: install it with `python3 -m pip install pyarrow` (scripts/test does)")
table = pq.read_table(sys.argv[1])
sample = table.filter(pc.match_substring_regex(table["hcpcs"], "3$"))
pcsv.write_csv(sample, sys.argv[2])
print(json.dumps({"rows": table.num_rows, "sample": sample.num_rows,
                  "columns": table.column_names,
                  "capped": sample["nonfacility_opps_cap"].length() - sample["nonfacility_opps_cap"].null_count,
                  "na": pc.sum(sample["nonfacility_na"]).as_py()}))
"#;
    let counts: serde_json::Value = common::python_json(script, &[&file, &csv], "pyarrow");
    let sample = counts["sample"].as_u64().unwrap();
    assert!(sample > 10_000, "{release}: {counts}");
    assert!(
        counts["capped"].as_u64().unwrap() > 0,
        "{release}: {counts}"
    );
    assert!(counts["na"].as_u64().unwrap() > 0, "{release}: {counts}");
    assert_eq!(
        server.sql(&format!(
            "SELECT count(*) FROM rvu.payments WHERE release_id = '{release}'"
        )),
        counts["rows"].to_string(),
        "{release}"
    );

    // psql reads the file (`\copy`), so the server need not see the test's folder.
    let table = format!("file_{}", release.to_lowercase());
    let columns = counts["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    server.sql(&format!(
        "CREATE TABLE public.{table} AS SELECT {columns} FROM rvu.payments WITH NO DATA"
    ));
    server.sql(&format!(
        "\\copy public.{table} FROM '{}' WITH (FORMAT csv, HEADER, FORCE_NOT_NULL \
         (release_id, variant, hcpcs, modifier, mac, locality, status_code))",
        csv.display()
    ));
    assert_eq!(
        server.sql(&format!("SELECT count(*) FROM public.{table}")),
        sample.to_string()
    );
    let view = format!(
        "SELECT {columns} FROM rvu.payments WHERE release_id = '{release}' AND hcpcs LIKE '%3'"
    );
    for (a, b) in [
        (view.clone(), format!("SELECT * FROM public.{table}")),
        (format!("SELECT * FROM public.{table}"), view),
    ] {
        assert_eq!(
            server.sql(&format!("SELECT count(*) FROM ({a} EXCEPT ALL {b}) d")),
            "0",
            "{release}: {a} EXCEPT ALL {b}"
        );
    }
}

#[test]
fn the_payments_view_has_the_rows_and_cents_of_payments_parquet() {
    let out = published();
    let server = PgServer::start();
    loaded(&server, out, &[]);
    for release in ["RVU25D", "RVU26A"] {
        view_equals_payments_parquet(&server, out, release);
    }
    // The view prices with GPCIs of the release's own file.
    assert_eq!(
        server.sql(
            "SELECT DISTINCT release_id || '=' || gpci_release_id FROM rvu.payment_gpci ORDER BY 1"
        ),
        "RVU25D=RVU25D\nRVU26A=RVU26A"
    );
}

/// The database's payments against CMS's own payment amount file (the real Alaska excerpt
/// of PFAK25A); and a release without a GPCI file (RVU24C) priced with the GPCI in force
/// (RVU24B's), loaded on its own.
#[test]
fn the_database_payments_are_cms_payment_file_to_the_cent() {
    let out = common::published_samples(&["RVU24B", "RVU24C", "RVU25A"]);
    let server = PgServer::start();
    loaded(
        &server,
        out,
        &["--release", "RVU25A", "--release", "RVU24C"],
    );

    let rows = server.sql(
        "SELECT hcpcs, modifier, status_code, nonfacility_amount, facility_amount,
                coalesce(nonfacility_opps_cap::text, '-'), coalesce(facility_opps_cap::text, '-'),
                nonfacility_par, facility_par, nonfacility_nonpar, facility_nonpar,
                nonfacility_limiting_charge, facility_limiting_charge
         FROM rvu.payments WHERE release_id = 'RVU25A' AND mac = '02102' AND locality = '01'",
    );
    let ours: BTreeMap<(String, String), Vec<String>> = rows
        .lines()
        .map(|line| {
            let cells: Vec<String> = line.split('|').map(str::to_string).collect();
            ((cells[0].clone(), cells[1].clone()), cells[2..].to_vec())
        })
        .collect();
    let cents = |text: &str| -> i64 {
        let (dollars, cents) = text.split_once('.').unwrap();
        dollars.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
    };
    let text = std::fs::read_to_string(common::samples().join("payment-file/PFAK25A.excerpt.txt"))
        .unwrap();
    let mut checked = 0;
    let mut capped = 0;
    for line in text.lines() {
        // "2025","02102","01",HCPCS,MOD,NF amount,F amount,...,status (9),...,OPPS indicator
        // (13), NF cap, F cap: the layout in payment-file/PF25PC.pdf.
        let f: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
        assert_eq!(f.len(), 16, "{line}");
        let key = (f[3].to_string(), f[4].trim().to_string());
        let row = ours
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} is not in the payments view"));
        let (nf, fac) = (cents(f[5]), cents(f[6]));
        let caps = match f[13] {
            "1" => {
                capped += 1;
                (Some(cents(f[14])), Some(cents(f[15])))
            }
            _ => (None, None),
        };
        let shown = |cap: Option<i64>| {
            cap.map_or("-".to_string(), |c| format!("{}.{:02}", c / 100, c % 100))
        };
        assert_eq!(row[0], f[9], "{key:?} status");
        assert_eq!(
            (cents(&row[1]), cents(&row[2])),
            (nf, fac),
            "{key:?} amounts"
        );
        assert_eq!(
            (row[3].clone(), row[4].clone()),
            (shown(caps.0), shown(caps.1)),
            "{key:?}"
        );
        // CMS's rule (PF25PC.pdf): par is the lower of the amount and the cap; non-par 95%
        // of par, the limiting charge 109.25% of par, each to the cent, half up.
        for (i, (amount, cap)) in [(nf, caps.0), (fac, caps.1)].into_iter().enumerate() {
            let par = cap.map_or(amount, |cap| amount.min(cap));
            assert_eq!(cents(&row[5 + i]), par, "{key:?} par");
            assert_eq!(cents(&row[7 + i]), (par * 95 + 50) / 100, "{key:?} nonpar");
            assert_eq!(
                cents(&row[9 + i]),
                (par * 10925 + 5000) / 10000,
                "{key:?} limiting charge"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 363);
    assert!(capped > 0, "the excerpt has capped imaging rows");
    view_equals_payments_parquet(&server, out, "RVU25A");

    // RVU24C ships no GPCI file: its payments use RVU24B's, which is not loaded.
    assert_eq!(
        server.sql("SELECT count(*) FROM rvu.releases WHERE release_id = 'RVU24B'"),
        "0"
    );
    assert_eq!(
        server.sql(
            "SELECT DISTINCT gpci_release_id FROM rvu.payment_gpci WHERE release_id = 'RVU24C'"
        ),
        "RVU24B"
    );
    view_equals_payments_parquet(&server, out, "RVU24C");
}

/// A release whose `payments.parquet` has more rows than the view computes (here its
/// `ingest.json` says one more) is not committed: exit 2, the file named, the database as
/// before.
#[test]
fn payments_the_view_does_not_count_as_the_file_does_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("output");
    ingest("RVU25D", &common::samples().join("RVU25D"), &output);
    let server = PgServer::start();
    loaded(&server, &output, &[]);
    let before = snapshot(&server);
    let path = output.join("releases/RVU25D/ingest.json");
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let rows = report["payments"]["rows"].as_u64().unwrap();
    report["payments"]["rows"] = (rows + 1).into();
    std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();

    let (code, stdout, stderr) = load(&server.url(), &output, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("has {} rows of RVU25D where", rows))
            && stderr.contains("payments.parquet has")
            && stderr.contains(&(rows + 1).to_string()),
        "{stderr}"
    );
    assert_one_error_line(&stderr);
    assert_eq!(snapshot(&server), before);
}

/// A database an earlier loader made holds `payments` as a table: the next load reloads
/// every release (in one transaction) and leaves the view in its place.
#[test]
fn a_payments_table_of_an_earlier_loader_becomes_the_view() {
    let out = published();
    let server = PgServer::start();
    loaded(&server, out, &["--release", "RVU25D"]);
    let rows = server.sql("SELECT count(*) FROM rvu.payments");
    server.sql(
        "CREATE TABLE rvu.old_payments AS SELECT * FROM rvu.payments WHERE hcpcs LIKE '992%';
         DROP VIEW rvu.payments CASCADE;
         ALTER TABLE rvu.old_payments RENAME TO payments;
         UPDATE rvu.releases SET fingerprint = 'an earlier layout'",
    );
    assert_eq!(
        server.sql("SELECT relkind FROM pg_class WHERE oid = 'rvu.payments'::regclass"),
        "r"
    );
    // A conversion that would leave a release's payments behind is refused, changing nothing.
    let before = snapshot(&server);
    let (code, _, stderr) = load(&server.url(), out, &["--release", "RVU26A"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("RVU25D would be left out") && stderr.contains("without --release"),
        "{stderr}"
    );
    assert_eq!(snapshot(&server), before);
    let stdout = loaded(&server, out, &["--release", "RVU25D"]);
    assert!(stdout.contains("RVU25D revision 1: reloaded"), "{stdout}");
    assert_eq!(
        server.sql("SELECT relkind FROM pg_class WHERE oid = 'rvu.payments'::regclass"),
        "v"
    );
    assert_eq!(server.sql("SELECT count(*) FROM rvu.payments"), rows);
    assert_eq!(
        server.sql("SELECT count(*) FROM rvu.latest_payments WHERE hcpcs = '99213'"),
        server.sql("SELECT count(*) FROM rvu.payment_gpci")
    );
}

/// Each published Parquet file read by pyarrow, a reader independent of ours: string columns
/// are `string` (no view types), decimals keep their precision, flags are `bool`, and the
/// change data's deltas are `double`.
#[test]
fn every_published_parquet_file_reads_in_pyarrow_with_plain_types() {
    let out = published();
    let script = r#"
import glob, json, sys
try:
    import pyarrow.parquet as pq, pyarrow.compute as pc
except ImportError:
    sys.exit("pyarrow is missing: install it with `python3 -m pip install pyarrow` (scripts/test does)")
types = {}
for path in sorted(glob.glob(sys.argv[1] + "/**/*.parquet", recursive=True)):
    table = pq.read_table(path)
    types[path[len(sys.argv[1]) + 1:]] = {f.name: str(f.type) for f in table.schema}
pprrvu = pq.read_table(sys.argv[1] + "/releases/RVU26A/pprrvu.parquet")
types["99213 rows"] = pc.sum(pc.equal(pprrvu["hcpcs"], "99213")).as_py()
payments = pq.read_table(sys.argv[1] + "/releases/RVU26A/payments.parquet")
types["payments"] = {
    "rows": payments.num_rows,
    "sums": {c: str(pc.sum(payments[c]).as_py()) for c in payments.column_names
             if str(payments[c].type).startswith("decimal")},
    "nulls": {c: payments[c].null_count for c in payments.column_names},
    "nullable": sorted(f.name for f in payments.schema if f.nullable),
    "99213 modifiers": sorted(set(pc.filter(payments["modifier"],
                                            pc.equal(payments["hcpcs"], "99213")).to_pylist())),
}
print(json.dumps(types))
"#;
    let types: BTreeMap<String, serde_json::Value> = common::python_json(script, &[out], "pyarrow");
    assert_eq!(types["99213 rows"], 2, "non-QPP and QPP");
    // payments.parquet (dictionary-encoded strings, delta-encoded cents, written by our own
    // column writer) decodes the same in pyarrow as in polars: rows, nulls, and every
    // amount column's sum to the cent.
    let ours = read_parquet(&out.join("releases/RVU26A/payments.parquet"));
    let theirs = &types["payments"];
    assert_eq!(theirs["rows"], ours.height());
    for column in ours.columns() {
        let name = column.name().as_str();
        assert_eq!(theirs["nulls"][name], column.null_count(), "{name}");
        if let Some(sum) = theirs["sums"].get(name) {
            let cents: i128 = column
                .decimal()
                .unwrap()
                .physical()
                .downcast_iter()
                .flat_map(|a| a.iter().flatten().copied())
                .sum();
            let ours = format!("{}.{:02}", cents / 100, cents % 100);
            assert_eq!(sum.as_str(), Some(ours.as_str()), "{name}");
        }
    }
    assert_eq!(theirs["99213 modifiers"], serde_json::json!([""]));
    // Only the caps may be empty, and the schema says so.
    assert_eq!(
        theirs["nullable"],
        serde_json::json!(["facility_opps_cap", "nonfacility_opps_cap"])
    );
    let files: Vec<&String> = types.keys().filter(|k| k.ends_with(".parquet")).collect();
    assert!(
        files.iter().any(|f| f.ends_with("payments.parquet")),
        "{files:?}"
    );
    assert!(files.len() >= 2 * 6 + 4, "{files:?}");
    for file in files {
        let columns = types[file].as_object().unwrap();
        for (column, ty) in columns {
            let ty = ty.as_str().unwrap();
            assert!(
                ty == "string" || ty == "bool" || ty == "double" || ty.starts_with("decimal128("),
                "{file} {column}: {ty}"
            );
        }
    }
    let pprrvu = types["releases/RVU26A/pprrvu.parquet"].as_object().unwrap();
    assert_eq!(pprrvu["hcpcs"], "string");
    assert_eq!(pprrvu["work_rvu"], "decimal128(8, 2)");
    assert_eq!(pprrvu["conversion_factor"], "decimal128(10, 4)");
    assert_eq!(pprrvu["nonfacility_na"], "bool");
    let gpci = types["releases/RVU26A/gpci.parquet"].as_object().unwrap();
    assert_eq!(gpci["pw_gpci"], "decimal128(6, 3)");
}

/// `[sink.postgres]` in a pipeline definition: the run ends with the database up to date,
/// and a run with nothing new leaves it as it was.
#[test]
fn a_pipeline_with_a_postgres_sink_ends_with_the_database_up_to_date() {
    let server = PgServer::start();
    let work = tempfile::tempdir().unwrap();
    let fixtures = common::fixtures();
    let definition = work.path().join("with-db.toml");
    std::fs::write(
        &definition,
        format!(
            "name = \"with-db\"\noutput = \"out\"\n[source]\nkind = \"local\"\n\
             paths = [\"{}\", \"{}\"]\n[sink.postgres]\n\
             connection = \"postgres://postgres@127.0.0.1:{}/postgres\"\nschema = \"pfs\"\n",
            fixtures.join("rvu99a.zip").display(),
            fixtures.join("rvu99b.zip").display(),
            server.port,
        ),
    )
    .unwrap();
    let run = || {
        let output = common::rvu_command()
            .arg("run")
            .arg(&definition)
            .env("PGPASSWORD", PASSWORD)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
        stdout
    };
    let first = run();
    assert!(
        first.contains("database: postgres://postgres@127.0.0.1"),
        "{first}"
    );
    assert!(first.contains("2 release(s) loaded"), "{first}");
    assert_eq!(
        server.sql("SELECT string_agg(release_id, ',' ORDER BY 1) FROM pfs.releases"),
        "RVU99A,RVU99B"
    );
    let rows = read_parquet(&work.path().join("out/releases/RVU99B/pprrvu.parquet")).height();
    assert_eq!(
        server.sql("SELECT count(*) FROM pfs.pprrvu WHERE release_id = 'RVU99B'"),
        rows.to_string()
    );
    let second = run();
    assert!(
        second.contains("0 release(s) loaded, 2 already there"),
        "{second}"
    );
}

/// `sslmode=require`: TLS with rustls, the server checked against the root certificates
/// (`SSL_CERT_FILE`); a server that takes TLS only refuses a plain connection, and a server
/// whose certificate is not trusted is refused by the loader. Each failure: one line, exit 2.
#[test]
fn a_load_over_tls_checks_the_server_certificate() {
    let out = published();
    let (server, ca) = PgServer::start_with_tls();
    let base = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    let load_with = |url: &str, cert_file: &Path| {
        let output = common::rvu_command()
            .args(["load", url, "--release", "RVU25D", "--output"])
            .arg(out)
            .env("PGPASSWORD", PASSWORD)
            .env("SSL_CERT_FILE", cert_file)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // Plain: the server's pg_hba.conf rejects it.
    let (code, _, stderr) = load_with(&base, &ca);
    assert_eq!(code, Some(2), "{stderr}");
    assert_one_error_line(&stderr);

    // TLS, but the test CA is not among the trusted roots.
    let elsewhere = tempfile::tempdir().unwrap();
    let other_ca = elsewhere.path().join("other.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(elsewhere.path().join("other.key"))
        .arg("-out")
        .arg(&other_ca)
        .args(["-days", "2", "-subj", "/CN=another CA"])
        .output()
        .unwrap();
    assert!(made.status.success());
    let (code, _, stderr) = load_with(&format!("{base}?sslmode=require"), &other_ca);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert_one_error_line(&stderr);

    // TLS with the right CA: loaded.
    let (code, stdout, stderr) = load_with(&format!("{base}?sslmode=require"), &ca);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("RVU25D revision 1: loaded"), "{stdout}");
    assert_eq!(
        server.sql("SELECT count(*) FROM rvu.releases"),
        "1",
        "psql connects over TLS too (libpq's sslmode=prefer)"
    );
}
