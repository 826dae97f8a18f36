//! `walrs`: the half of walrs that runs outside a live server.

mod cli;
mod commands;
mod config;
mod exit;

use clap::Parser;

fn main() {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // --help and --version are not errors; a usage error is a failure like any other.
            if let Err(print) = e.print() {
                eprintln!("walrs: error: {print}");
            }
            std::process::exit(if e.use_stderr() { exit::usage_error() } else { exit::OK });
        }
    };
    let code = match commands::run(&args) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("walrs: error: {}", e.message);
            if let Some(hint) = &e.hint {
                eprintln!("walrs: hint: {hint}");
            }
            exit::code_for(&args.command, &e)
        }
    };
    std::process::exit(code);
}
