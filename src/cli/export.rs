//! `rvu export xlsx RELEASE [--locality MAC-LOC] [--file PATH] [--output DIR]`: one published
//! release as a workbook: its RVUs (a sheet per variant) and the participating payments at a
//! locality (national without one).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::catalog::ReleaseId;
use crate::error::Error;
use crate::payment::GpciColumns;
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
    let dir = args.output.join("releases").join(args.release.to_string());
    if !dir.is_dir() {
        return Err(Error::NotFound(format!(
            "{} is not published in {}",
            args.release,
            args.output.display()
        ))
        .into());
    }
    let (id, mut tables) = crate::published::load_release(&dir)?;
    let pprrvu = tables
        .remove(&TableKind::Pprrvu)
        .ok_or_else(|| Error::NotFound(format!("{id}: no PPRRVU table published")))?;
    let locality = match &args.locality {
        None => None,
        Some(text) => {
            let (mac, loc) = text
                .split_once('-')
                .ok_or_else(|| anyhow::anyhow!("--locality takes MAC-LOCALITY, like 01112-54"))?;
            let key = (format!("{:0>5}", mac.trim()), format!("{:0>2}", loc.trim()));
            let gpci = match tables.remove(&TableKind::Gpci) {
                Some(table) => table,
                None => crate::published::gpci_in_force(&args.output, id)?
                    .map(|(_, table)| table)
                    .ok_or_else(|| {
                        Error::NotFound(format!("{id}: no GPCI in force for its year is published"))
                    })?,
            };
            let columns = GpciColumns::of(&gpci)?;
            let row = gpci
                .rows
                .iter()
                .find(|r| gpci.render(r, "mac") == key.0 && gpci.render(r, "locality") == key.1)
                .ok_or_else(|| {
                    Error::NotFound(format!("{id}: no locality {}-{} in its GPCI", key.0, key.1))
                })?;
            let name = gpci.render(row, "locality_name");
            Some((key.clone(), columns.gpcis(&gpci, row)?, name))
        }
    };
    let file = args.file.clone().unwrap_or_else(|| match &locality {
        Some(((mac, loc), _, _)) => PathBuf::from(format!("{id}-{mac}-{loc}.xlsx")),
        None => PathBuf::from(format!("{id}.xlsx")),
    });
    let options = ReportOptions {
        cpt_descriptions: !args.no_cpt_descriptions,
        ..Default::default()
    };
    workbook::write_release(
        &file,
        &id.to_string(),
        &pprrvu,
        locality.as_ref().map(|(k, g, n)| (k, *g, n.clone())),
        &options,
    )?;
    println!("{}", file.display());
    Ok(ExitCode::SUCCESS)
}
