//! `rvu lookup CODE [--modifier M] [--as-of DATE | --release ID] [--locality MAC-LOC]
//! [--variant qpp|non_qpp] [--json] [--output DIR]`: a code's RVUs, status and payment from
//! the published datasets.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::catalog::ReleaseId;
use crate::codes::is_licensed;
use crate::lookup::{self, Answer, Query};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// HCPCS or CPT code (99213, J3398).
    pub code: String,
    /// Modifier (26, TC, 53); the global row when left out.
    #[arg(long)]
    pub modifier: Option<String>,
    /// The release in force on this date (YYYY-MM-DD).
    #[arg(long, conflicts_with = "release", value_parser = parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
    /// A published release id.
    #[arg(long)]
    pub release: Option<ReleaseId>,
    /// Locality as MAC-LOCALITY (01112-54); national amounts (GPCI 1) without it.
    #[arg(long)]
    pub locality: Option<String>,
    /// 2026+: qpp or non_qpp (non_qpp by default).
    #[arg(long)]
    pub variant: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Output root holding the published releases.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
}

/// A calendar date as YYYY-MM-DD (`2024-13-99` is refused as a usage error).
fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("'{text}' is not a date as YYYY-MM-DD ({e})"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let locality = args
        .locality
        .as_deref()
        .map(super::parse_locality)
        .transpose()?;
    let query = Query {
        code: args.code.clone(),
        modifier: args.modifier.clone(),
        as_of: args.as_of,
        release: args.release,
        locality,
        variant: args.variant.clone(),
    };
    let answer = lookup::lookup(&args.output, &query)?;
    let mut out = std::io::stdout().lock();
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, &answer)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        write_text(&mut out, &answer)
    };
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, a: &Answer) -> std::io::Result<()> {
    let code = a.field("hcpcs");
    let modifier = a.field("modifier");
    writeln!(
        out,
        "{code}{} in {} (revision {}, effective {}), variant {}",
        if modifier.is_empty() {
            String::new()
        } else {
            format!("-{modifier}")
        },
        a.release_id,
        a.revision,
        a.effective_from,
        a.variant
    )?;
    let licence = if is_licensed(code) {
        "  (CPT/CDT description: AMA/ADA copyright)"
    } else {
        ""
    };
    writeln!(out, "  {}{licence}", a.field("description"))?;
    writeln!(
        out,
        "  status {}: {}",
        a.field("status_code"),
        a.status_meaning
    )?;
    let work = a.field("work_rvu");
    let work_note = if work == "0.00" {
        "  (no physician work RVU assigned)"
    } else {
        ""
    };
    writeln!(out, "  work RVU {work}{work_note}")?;
    writeln!(
        out,
        "  PE RVU non-facility {}{}  facility {}{}  MP RVU {}",
        a.field("nonfacility_pe_rvu"),
        if a.field("nonfacility_na") == "true" {
            " (NA)"
        } else {
            ""
        },
        a.field("facility_pe_rvu"),
        if a.field("facility_na") == "true" {
            " (NA)"
        } else {
            ""
        },
        a.field("mp_rvu")
    )?;
    writeln!(
        out,
        "  totals non-facility {}  facility {}",
        a.field("nonfacility_total"),
        a.field("facility_total")
    )?;
    writeln!(
        out,
        "  global {}  PC/TC {}  mult {}  bilat {}  asst {}  co {}  team {}  supervision {}  imaging family {}",
        a.field("global_days"),
        a.field("pctc_indicator"),
        a.field("mult_proc"),
        a.field("bilateral"),
        a.field("assistant_surgery"),
        a.field("co_surgery"),
        a.field("team_surgery"),
        a.field("physician_supervision"),
        a.field("imaging_family")
    )?;
    writeln!(out, "  conversion factor {}", a.field("conversion_factor"))?;
    writeln!(
        out,
        "payment at {}: GPCI work {} PE {} MP {}",
        a.locality, a.gpci.0, a.gpci.1, a.gpci.2
    )?;
    for s in &a.payments {
        match (&s.amounts, &s.reason) {
            (Some(amounts), _) if s.na => writeln!(
                out,
                "  {:<13} NA: not paid in this setting (CMS's file prints ${} from the PE RVU)",
                s.setting, amounts.amount
            )?,
            (Some(amounts), _) => {
                writeln!(
                    out,
                    "  {:<13} ${}  non-participating ${}  limiting charge ${}",
                    s.setting, amounts.par, amounts.nonpar, amounts.limiting_charge
                )?;
                if let Some(cap) = &amounts.opps_cap {
                    writeln!(
                        out,
                        "  {:<13} fee schedule ${}, OPPS cap ${cap}: pays the lower",
                        "", amounts.amount
                    )?;
                }
            }
            (None, Some(reason)) => writeln!(out, "  {:<13} {reason}", s.setting)?,
            (None, None) => {}
        }
    }
    if let Some(anes) = &a.anesthesia {
        writeln!(out, "  {}", anes.rule)?;
        match &anes.anes_cf {
            Some(cf) => writeln!(
                out,
                "  anesthesia conversion factor at {} ({}): {cf}",
                a.locality, a.variant
            )?,
            None => writeln!(
                out,
                "  pass --locality MAC-LOC for the locality's anesthesia conversion factor"
            )?,
        }
    }
    Ok(())
}
