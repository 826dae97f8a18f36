//! Helpers shared by the integration tests. Each test file includes what it needs with
//! `mod support;`, so some helpers go unused in some files.
#![allow(dead_code)]

pub mod servers;
pub mod slow_http;

/// Short storage timeouts, so a failure shows within seconds.
pub fn quick_policy() -> walrs_core::storage::RetryPolicy {
    use std::time::Duration;
    walrs_core::storage::RetryPolicy {
        attempt_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(1),
        budget: Duration::from_millis(1500),
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
    }
}
