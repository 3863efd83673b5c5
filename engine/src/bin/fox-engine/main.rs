//! `fox-engine` command-line interface: a thin layer over the library (parse arguments, set
//! up logging, call one library function, print). The argument definitions are in `cli.rs`,
//! what each command does in `commands.rs`.

mod cli;
mod commands;
mod licensing;
mod progress_bar;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let format: telemetry::LogFormat = args.log_format.parse().expect("validated by clap");
    if let Err(e) = telemetry::init(format, &args.log_level) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    match commands::dispatch(args.command, args.license_key.as_deref()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
