use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rvu_pipeline::cli::Cli::parse();
    rvu_pipeline::cli::init_logging(cli.json_logs());
    match rvu_pipeline::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(rvu_pipeline::cli::exit_code_of(&err))
        }
    }
}

// glibc's per-thread arenas kept ~800 MB resident over a run of eleven real releases (the
// parallel parsers and Polars allocate on many threads); mimalloc returns memory and is
// faster with many small strings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
