//! `rvu ingest PATH`: extract, normalize (all formats, cross-checked) and publish one release.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::exit_code_of;
use crate::catalog::ReleaseId;
use crate::pipeline::release::{self, Outcome};
use crate::read::Format;
use crate::report;
use crate::stages::{normalize, publish};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Release zips, or folders of extracted members; each is one release.
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Output root; the release goes to OUTPUT/releases/<ID>/.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
    /// Release id (RVU25A, RVU24AR); overrides what the contents say (one PATH only).
    #[arg(long)]
    pub release: Option<ReleaseId>,
    /// Formats to parse: a comma-separated list of csv, xlsx, txt, or `all` (every one present).
    #[arg(long, default_value = "all")]
    pub formats: String,
    /// Publish even when the formats of a table disagree (the disagreements are reported).
    #[arg(long)]
    pub allow_format_mismatch: bool,
    /// Publish even when validation finds errors (marked `"valid": false` in the outputs).
    #[arg(long)]
    pub allow_invalid: bool,
    /// Publish without CPT (AMA) and CDT (ADA) descriptions; HCPCS Level II text stays.
    #[arg(long)]
    pub no_cpt_descriptions: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.release.is_some() && args.paths.len() > 1 {
        anyhow::bail!("--release names one release; give one PATH with it");
    }
    let options = release::Options {
        normalize: normalize::Options {
            formats: parse_formats(&args.formats)?,
            release: args.release,
            allow_format_mismatch: args.allow_format_mismatch,
        },
        allow_invalid: args.allow_invalid,
        cpt_descriptions: !args.no_cpt_descriptions,
        ..release::Options::default()
    };
    let _lock = crate::pipeline::open_output(&args.output, false)?;
    // One bad release does not stop the others; the exit code reports the worst.
    let mut failure: Option<anyhow::Error> = None;
    for path in &args.paths {
        match ingest_one(path, &args, &options) {
            Ok(()) => {}
            Err(err) if args.paths.len() == 1 => return Err(err),
            Err(err) => {
                eprintln!("error: {err:#}");
                if failure
                    .as_ref()
                    .is_none_or(|f| exit_code_of(&err) > exit_code_of(f))
                {
                    failure = Some(err);
                }
            }
        }
    }
    // A run killed after publishing but before the history step left it behind.
    crate::history::ensure_current(&args.output, !args.no_cpt_descriptions)?;
    Ok(match failure {
        None => ExitCode::SUCCESS,
        Some(err) => ExitCode::from(exit_code_of(&err)),
    })
}

fn ingest_one(path: &Path, args: &Args, options: &release::Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let (_, label) = crate::pipeline::label_of(path);
    let mut timings = release::Timings::default();
    let outcome = release::process(path, &args.output, &label, options, &mut timings, &|_| {});
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not an error worth a panic.
    match outcome {
        Ok(Outcome::AlreadyPublished { release_id }) => {
            let _ = writeln!(
                out,
                "{release_id}: already published from these files (same sha256); nothing to do"
            );
        }
        Ok(Outcome::NotSelected { .. }) => {}
        Ok(Outcome::Published { published, changes }) => {
            for (stage, took) in &timings.0 {
                tracing::info!("{stage}: {:.0} ms", took.as_secs_f64() * 1000.0);
            }
            let _ = if args.json {
                serde_json::to_writer_pretty(&mut out, &published)
                    .map_err(std::io::Error::other)
                    .and_then(|_| writeln!(out))
            } else {
                write_summary(&mut out, &published, started.elapsed().as_secs_f64()).and_then(
                    |_| match &changes {
                        Some(folder) => {
                            writeln!(out, "  changes: {}", folder.join("report.html").display())
                        }
                        None => {
                            writeln!(out, "  changes: none (no earlier release published here)")
                        }
                    },
                )
            };
        }
        Err(failure) => {
            if let Some(report) = &failure.validation {
                eprint!("{}", report::validation::text(report));
                eprintln!("nothing was published (--allow-invalid publishes it marked invalid)");
            }
            return Err((*failure.error).into());
        }
    }
    Ok(())
}

fn parse_formats(text: &str) -> anyhow::Result<Option<Vec<Format>>> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let formats = text
        .split(',')
        .map(|f| f.parse::<Format>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(formats))
}

fn write_summary(
    out: &mut impl Write,
    published: &publish::Published,
    seconds: f64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} -> {}",
        published.release_id,
        published.folder.display()
    )?;
    for table in &published.tables {
        let formats: Vec<String> = table
            .formats
            .iter()
            .map(|f| format!("{} {}", f.format, f.rows))
            .collect();
        let checks: Vec<String> = table
            .cross_checks
            .iter()
            .map(|c| match (c.mismatches, c.text_differences) {
                (0, 0) => format!("{}={} agree", c.primary, c.other),
                (0, t) => format!("{}={} agree ({t} text differences)", c.primary, c.other),
                (n, _) => format!("{}/{} {n} mismatches", c.primary, c.other),
            })
            .collect();
        let variants: Vec<String> = table
            .rows_by_variant
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        writeln!(
            out,
            "  {:<8} {:>6} rows{}  [{}]{}",
            table.table.name(),
            table.rows,
            if variants.is_empty() {
                String::new()
            } else {
                format!(" ({})", variants.join(", "))
            },
            formats.join(", "),
            if checks.is_empty() {
                String::new()
            } else {
                format!("  {}", checks.join(", "))
            }
        )?;
    }
    for missing in &published.missing_tables {
        writeln!(out, "  {:<8} not in this release", missing.name())?;
    }
    for warning in &published.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    writeln!(
        out,
        "  validation: {} error(s), {} warning(s){}; see validation.md",
        published.validation_errors,
        published.validation_warnings,
        if published.valid {
            ""
        } else {
            ", PUBLISHED INVALID"
        }
    )?;
    writeln!(out, "done in {seconds:.2} s")
}
