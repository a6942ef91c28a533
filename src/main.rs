use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rvu_pipeline::cli::Cli::parse();
    rvu_pipeline::cli::init_logging();
    match rvu_pipeline::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(rvu_pipeline::cli::exit_code_of(&err))
        }
    }
}
