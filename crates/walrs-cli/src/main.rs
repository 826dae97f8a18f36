//! `walrs`: the half of walrs that runs outside a live server.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;
mod exit;
mod progress;

use clap::Parser;
use std::io::Write;

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
    // A panic would exit 101, which PostgreSQL reads from restore_command as "not in the
    // archive": recovery would end early. The panic hook has printed the message already.
    let outcome = std::panic::catch_unwind(|| match commands::run(&args) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("walrs: error: {}", e.message);
            if let Some(hint) = &e.hint {
                eprintln!("walrs: hint: {hint}");
            }
            if let Some(note) = exit::retry_note(&args.command, &e) {
                eprintln!("walrs: {note}");
            }
            exit::code_for(&args.command, &e)
        }
    });
    let code = outcome.unwrap_or_else(|panic| {
        let err = walrs_core::Error::internal(format!("internal error: {}", panic_message(&*panic)));
        // Not eprintln!: it panics if standard error cannot be written, and this must exit.
        let _ = writeln!(std::io::stderr(), "walrs: error: {}", err.message);
        exit::code_for(&args.command, &err)
    });
    std::process::exit(code);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (_, Some(s)) => s,
        _ => "a panic",
    }
}
