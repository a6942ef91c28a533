//! `rvu load` speed (`cargo bench --bench load` or `just bench-load`): RVU26A (every table,
//! the payments of both 2026 variants, about 2.1 million rows, the history and `codes`) into
//! a real PostgreSQL server started on loopback for the benchmark, then the no-op re-load.
//! Targets on the 2-core machine: the load under 3 s, the no-op re-load under 100 ms.
//! Figures are medians of five runs, each into a new schema of the same server.
//! Measured in December 2026: 11.66 s with keys maintained during COPY; 6.7-7.8 s (release
//! binary) with a new table's keys built after its first COPY and each file streamed a slice
//! at a time. Not met: the server alone needs 3.7 s to COPY the 2.1 million payment rows from
//! a text file (2.6 s binary) and about 1.9 s for each of the payments indexes. The no-op
//! re-load: 19.7 ms. After the column writer of `payments.parquet`: 6.52 s (runs 5.52-6.91),
//! no-op 11.9 ms. With its non-null columns declared required: 5.12 s (runs 5.06-5.36),
//! no-op 10.7 ms. With `payments` a view over `pprrvu` and `payment_gpci` (nothing of
//! `payments.parquet` copied): 0.41 s (runs 0.39-0.42), no-op 12.4 ms.

#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn rvu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rvu"))
}

fn timed(mut cmd: Command) -> Duration {
    let started = Instant::now();
    let output = cmd.output().expect("rvu runs");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench (and a filter); there is one benchmark here.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cms-samples/RVU26A");
    assert!(
        samples.is_dir(),
        "the benchmark reads {}",
        samples.display()
    );
    let work = tempfile::tempdir().expect("a temporary folder");
    let output = work.path().join("output");
    timed({
        let mut cmd = rvu();
        cmd.arg("ingest")
            .arg(&samples)
            .args(["--formats", "csv", "--output"])
            .arg(&output);
        cmd
    });
    let files = std::fs::read_dir(output.join("releases/RVU26A"))
        .map(|entries| entries.filter_map(|e| e.ok()).count())
        .unwrap_or(0);
    assert!(files > 0, "RVU26A was published");

    let server = postgres::PgServer::start();
    let load = |schema: &str| {
        let mut cmd = rvu();
        cmd.arg("load")
            .arg(server.url())
            .args(["--schema", schema, "--output"])
            .arg(&output);
        cmd
    };
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for run in 0..5 {
        let schema = format!("bench{run}");
        first.push(timed(load(&schema)));
        again.push(timed(load(&schema)));
    }
    let payments = server.sql("SELECT count(*) FROM bench0.payments");
    println!(
        "load RVU26A into PostgreSQL ({payments} payment rows): median {:.2} s (runs: {})",
        median(first.clone()).as_secs_f64(),
        first
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "no-op re-load: median {:.1} ms",
        median(again).as_secs_f64() * 1000.0
    );
}
