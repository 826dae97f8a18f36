//! `walrs`: the half of walrs that runs outside a live server.

mod cli;
mod commands;
mod config;
mod exit;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
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
