//! `rvu fixtures [--output fixtures]`: regenerates the synthetic fixture releases.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write the fixture zips into.
    #[arg(long, short, default_value = "fixtures")]
    pub output: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    for path in crate::fixtures::generate(&args.output)? {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
