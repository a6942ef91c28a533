//! `rvu export xlsx RELEASE [--locality MAC-LOC] [--file PATH] [--output DIR]`: one published
//! release as a workbook: its RVUs (a sheet per variant) and the participating payments at a
//! locality (national without one).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::catalog::ReleaseId;
use crate::error::Error;
use crate::lookup;
use crate::report::changes::ReportOptions;
use crate::report::workbook;
use crate::tables::TableKind;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum Format {
    /// An Excel workbook.
    Xlsx(XlsxArgs),
}

#[derive(Debug, clap::Args)]
pub struct XlsxArgs {
    /// A published release id.
    pub release: ReleaseId,
    /// Payments at this locality, as MAC-LOCALITY (01112-54); national amounts without it.
    #[arg(long)]
    pub locality: Option<String>,
    /// The workbook to write (default: RELEASE.xlsx, or RELEASE-MAC-LOC.xlsx).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Leave out CPT (AMA) and CDT (ADA) descriptions.
    #[arg(long)]
    pub no_cpt_descriptions: bool,
    /// Output root holding the published releases.
    #[arg(long, short, default_value = "output")]
    pub output: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Format::Xlsx(args) = args.format;
    let id = args.release;
    let dir = args.output.join("releases").join(id.to_string());
    if !dir.join("pprrvu.parquet").is_file() {
        return Err(Error::NotFound(format!(
            "{id} is not published in {} (no releases/{id}/pprrvu.parquet)",
            args.output.display()
        ))
        .into());
    }
    let pprrvu = crate::published::read_table(&dir, TableKind::Pprrvu, None)?;
    let locality = args
        .locality
        .as_deref()
        .map(super::parse_locality)
        .transpose()?;
    // The locality's GPCIs as `rvu lookup` finds them (the GPCI in force without a file).
    let priced = match &locality {
        Some((mac, loc)) => {
            let (gpcis, label, _) = lookup::locality_gpci(&args.output, &dir, mac, loc, id)?;
            Some((gpcis, label))
        }
        None => None,
    };
    let file = args.file.clone().unwrap_or_else(|| match &locality {
        Some((mac, loc)) => PathBuf::from(format!("{id}-{mac}-{loc}.xlsx")),
        None => PathBuf::from(format!("{id}.xlsx")),
    });
    let options = ReportOptions {
        cpt_descriptions: !args.no_cpt_descriptions,
        ..Default::default()
    };
    workbook::write_release(&file, &id.to_string(), &pprrvu, priced, &options)?;
    println!("{}", file.display());
    Ok(ExitCode::SUCCESS)
}
