//! `rvu releases [--index-url URL] [--json]`: every release the CMS pages link (every page
//! of the index), with its page and zip URLs, and how many index pages were read.

use std::io::Write;
use std::process::ExitCode;

use super::{NetArgs, runtime};
use crate::http;
use crate::stages::discover;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub net: NetArgs,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let index = http::parse_location(&args.net.index_url)?;
    let options = args.net.options();
    let discovery = runtime()?.block_on(discover::discover(&index, &options))?;
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) ends the listing quietly.
    let _ = if args.json {
        serde_json::to_writer_pretty(&mut out, &discovery)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        write_table(&mut out, &discovery)
    };
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, discovery: &discover::Discovery) -> std::io::Result<()> {
    let releases = &discovery.releases;
    writeln!(out, "release  year q correction zip")?;
    for r in releases {
        let zips: Vec<&str> = r.zip_urls.iter().map(|u| u.as_str()).collect();
        writeln!(
            out,
            "{:<8} {:>4} {} {:<10} {}",
            r.id.to_string(),
            r.year,
            r.quarter,
            if r.correction { "yes" } else { "" },
            if zips.is_empty() {
                "(no zip link on its page)".to_string()
            } else {
                zips.join(" ")
            }
        )?;
        writeln!(out, "{:26}page {}", "", r.page_url)?;
    }
    writeln!(
        out,
        "{} releases, from {} index page(s)",
        releases.len(),
        discovery.index_pages
    )
}
