//! `rvu run [PIPELINE] [--since ID] [--only ID...] [--dry-run] [--json]`: every stage for
//! every release a pipeline definition selects, doing only new work (see `crate::pipeline`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::ReleaseId;
use crate::pipeline::definition::Definition;
use crate::pipeline::{self, Progress, RunOptions, Summary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline definition (TOML).
    #[arg(default_value = "pipelines/cms-pfs.toml")]
    pub pipeline: PathBuf,
    /// Only releases from this one on (replaces the definition's `since`).
    #[arg(long)]
    pub since: Option<ReleaseId>,
    /// Only these releases (replaces the definition's `only`).
    #[arg(long, num_args = 1..)]
    pub only: Vec<ReleaseId>,
    /// Output root (replaces the definition's `output`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print what would be done; write nothing, download nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When another run holds the output folder, wait for it instead of failing.
    #[arg(long)]
    pub wait: bool,
    /// The summary as one JSON document on stdout, logs as JSON lines on stderr.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let definition = Definition::load(&args.pipeline)?;
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let options = RunOptions {
        output: args.output.clone(),
        since: args.since,
        only: args.only.clone(),
        dry_run: args.dry_run,
        wait: args.wait,
        progress: show_progress,
    };
    let bar = if show_progress {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let label = std::cell::RefCell::new(String::new());
    let on_progress = |p: Progress| match p {
        Progress::Release {
            index,
            of,
            label: l,
        } => {
            bar.set_length(of as u64);
            bar.set_position(index as u64);
            bar.set_message(l.clone());
            *label.borrow_mut() = l;
        }
        Progress::Stage(stage) => bar.set_message(format!("{} {stage}", label.borrow())),
    };
    let summary = pipeline::run(&definition, &options, &on_progress)?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, &summary)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        write_summary(&mut out, &summary)
    };
    Ok(ExitCode::from(summary.exit_code))
}

fn write_summary(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    let output = s.output.display();
    writeln!(
        out,
        "pipeline {} -> {output}{}",
        s.pipeline,
        if s.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "  releases: {} found, {} selected, {} new, {} published, {} skipped, {} quarantined{}",
        s.found,
        s.selected,
        s.new,
        s.published.len(),
        s.skipped.len(),
        s.quarantined.len(),
        if s.failed.is_empty() {
            String::new()
        } else {
            format!(", {} failed", s.failed.len())
        }
    )?;
    for p in &s.plan {
        writeln!(out, "  would {:<28} {:<10} {}", p.action, p.label, p.source)?;
    }
    for p in &s.published {
        let resumed = p
            .resumed_after
            .map(|stage| format!(" (resumed; the last run stopped at {stage})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  published   {} r{} -> {}{resumed}",
            p.release_id,
            p.revision,
            p.folder.display()
        )?;
        if let Some(changes) = &p.changes {
            writeln!(out, "              changes: {}", changes.display())?;
        }
    }
    for k in &s.skipped {
        writeln!(out, "  skipped     {}: {}", k.label, k.reason)?;
    }
    for q in &s.quarantined {
        writeln!(
            out,
            "  QUARANTINED {} at {}{}: {}\n              see {}",
            q.label,
            q.stage,
            if q.earlier {
                " (by an earlier run)"
            } else {
                ""
            },
            q.reason,
            q.folder.display()
        )?;
    }
    for f in &s.failed {
        writeln!(out, "  FAILED      {} at {}: {}", f.label, f.stage, f.error)?;
    }
    if !s.dry_run && s.new == 0 && s.quarantined.is_empty() && s.failed.is_empty() {
        writeln!(
            out,
            "  nothing to do: every selected release is already published"
        )?;
    }
    let stages: Vec<String> = s
        .stage_ms
        .iter()
        .map(|(stage, ms)| format!("{stage} {ms:.0} ms"))
        .collect();
    if !stages.is_empty() {
        writeln!(out, "  time per stage: {}", stages.join(", "))?;
    }
    writeln!(
        out,
        "  done in {:.2} s, exit code {}",
        s.elapsed_ms / 1000.0,
        s.exit_code
    )?;
    if !s.dry_run && s.output.join("latest.json").is_file() {
        writeln!(
            out,
            "datasets: {} (newest: {})",
            s.output.join("releases").display(),
            s.output.join("latest.json").display()
        )?;
    }
    if let Some(report) = &s.latest_change_report {
        writeln!(out, "change report: {}", report.display())?;
    }
    for warning in &s.unmet.warnings {
        writeln!(out, "  NOT FOUND   {warning}")?;
    }
    if let Some(db) = &s.database {
        let loaded = db
            .releases
            .iter()
            .filter(|r| r.action != "unchanged")
            .count();
        writeln!(
            out,
            "database: {} schema {}: {loaded} release(s) loaded, {} already there, history {}",
            db.target,
            db.schema,
            db.releases.len() - loaded,
            db.history
        )?;
    }
    Ok(())
}
