//! Intentionally empty: this crate exists for the features its Cargo.toml turns on.
#![forbid(unsafe_code)]
