//! `rvu ingest PATH`: extract, normalize (all formats, cross-checked) and publish one release.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::exit_code_of;
use crate::catalog::ReleaseId;
use crate::error::Error;
use crate::read::Format;
use crate::report;
use crate::report::changes;
use crate::stages::diff::{self, ReleaseInfo, Side};
use crate::stages::{extract, normalize, publish};

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
    let options = normalize::Options {
        formats: parse_formats(&args.formats)?,
        release: args.release,
        allow_format_mismatch: args.allow_format_mismatch,
    };
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
    Ok(match failure {
        None => ExitCode::SUCCESS,
        Some(err) => ExitCode::from(exit_code_of(&err)),
    })
}

fn ingest_one(path: &Path, args: &Args, options: &normalize::Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let extracted = extract::extract(path, &extract::Limits::default())?;
    // Same files, default options: the published release already is what we would write.
    let default_run = options.formats.is_none()
        && !args.no_cpt_descriptions
        && options.release.is_none()
        && !options.allow_format_mismatch
        && !args.allow_invalid;
    if let Some(id) = publish::published_from(&args.output, &extracted).filter(|_| default_run) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{id}: already published from these files ({} members, same sha256); nothing to do",
            extracted.members.len()
        );
        return Ok(());
    }
    let mut lap = Lap::start();
    let mut normalized = normalize::normalize(&extracted, path, options)?;
    lap.stage("extract + normalize");
    if args.no_cpt_descriptions {
        withhold_licensed_descriptions(&mut normalized);
    }
    for warning in &normalized.warnings {
        tracing::warn!("{warning}");
    }
    let prior = super::validate::load_prior(&args.output, normalized.release_id)?;
    lap.stage("load prior release");
    let mut validation = super::validate::against_prior(&normalized, prior.as_ref());
    if args.allow_format_mismatch {
        validation.downgrade("format.agree");
    }
    if !validation.valid && !args.allow_invalid {
        eprint!("{}", report::validation::text(&validation));
        return Err(Error::Invalid {
            release: normalized.release_id.to_string(),
            summary: format!(
                "{} rule(s) failed with errors; nothing was published (--allow-invalid publishes it marked invalid)",
                validation.errors
            ),
        }
        .into());
    }
    lap.stage("validate");
    let published = publish::publish(&args.output, &extracted, &normalized, &validation)?;
    lap.stage("publish");
    let next = normalized.table_refs();
    let before: Option<crate::history::Tables> = prior
        .as_ref()
        .map(|p| p.tables.iter().map(|(k, t)| (*k, t)).collect());
    crate::history::update(
        &args.output,
        normalized.release_id,
        &next,
        prior.as_ref().map(|p| p.id).zip(before.as_ref()),
        !args.no_cpt_descriptions,
    )?;
    lap.stage("history");
    let changes = match &prior {
        Some(prior) => Some(diff_against(prior, &extracted, &normalized, &args.output)?),
        None => None,
    };
    lap.stage("diff and change report");
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not an error worth a panic.
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, &published)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        write_summary(&mut out, &published, started.elapsed().as_secs_f64()).and_then(|_| {
            match &changes {
                Some(folder) => {
                    writeln!(out, "  changes: {}", folder.join("report.html").display())
                }
                None => writeln!(out, "  changes: none (no earlier release published here)"),
            }
        })
    };
    Ok(())
}

/// Logs the time each stage took (info level: shown in CI logs, quiet on a terminal).
struct Lap(Instant);

impl Lap {
    fn start() -> Lap {
        Lap(Instant::now())
    }

    fn stage(&mut self, name: &str) {
        tracing::info!("{name}: {:.0} ms", self.0.elapsed().as_secs_f64() * 1000.0);
        self.0 = Instant::now();
    }
}

/// Blanks the descriptions of CPT and CDT codes (AMA and ADA content).
fn withhold_licensed_descriptions(normalized: &mut normalize::Normalized) {
    let Some(entry) = normalized.tables.get_mut(&crate::tables::TableKind::Pprrvu) else {
        return;
    };
    let table = &mut entry.table;
    let (Some(h), Some(d)) = (
        table.column_index("hcpcs"),
        table.column_index("description"),
    ) else {
        return;
    };
    for row in &mut table.rows {
        let licensed = row.values[h].as_text().is_some_and(changes::is_licensed);
        if licensed {
            row.values[d] = crate::tables::Value::Null;
        }
    }
}

/// Diffs the new release against the prior one into OUTPUT/changes/<prior>..<new>/.
fn diff_against(
    prior: &super::diff::Loaded,
    extracted: &extract::Extracted,
    normalized: &normalize::Normalized,
    output: &Path,
) -> anyhow::Result<PathBuf> {
    let current = Side {
        id: normalized.release_id,
        info: ReleaseInfo {
            release_id: normalized.release_id.to_string(),
            released: normalized.released.clone(),
            source: Some(extracted.source.clone()),
            sha256: extracted.archive.as_ref().map(|(_, sha)| sha.clone()),
        },
        tables: normalized
            .tables
            .iter()
            .map(|(k, t)| (*k, &t.table))
            .collect(),
    };
    let diff = diff::diff(&prior.side(), &current);
    let options = changes::ReportOptions {
        cpt_descriptions: true,
    };
    Ok(changes::write(
        output,
        &diff,
        &prior.side(),
        &current,
        &options,
    )?)
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
        writeln!(
            out,
            "  {:<8} {:>6} rows  [{}]{}",
            table.table.name(),
            table.rows,
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
