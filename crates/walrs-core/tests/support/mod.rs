//! Helpers shared by the integration tests. Each test file includes what it needs with
//! `mod support;`, so some helpers go unused in some files.
#![allow(dead_code)]

pub mod servers;
pub mod slow_http;
