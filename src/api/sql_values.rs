//! Conversions between the core's values and PostgreSQL's, shared by every SQL function: one
//! rule for times (PostgreSQL counts microseconds from 2000-01-01) and for counters (`bigint`
//! is signed).

use crate::error::raise;
use pgrx::prelude::*;
use walrs_core::chrono::{DateTime, Utc};
use walrs_core::Error;

/// PostgreSQL's epoch (2000-01-01) in Unix microseconds.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// A core time as `timestamptz`; None when PostgreSQL cannot hold it.
pub(crate) fn timestamptz(t: DateTime<Utc>) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(t.timestamp_micros() - PG_EPOCH_UNIX_MICROS).ok()
}

/// A `timestamptz` argument as a core time; infinity and out-of-range values are an ERROR.
pub(crate) fn utc(t: TimestampWithTimeZone) -> DateTime<Utc> {
    if !t.is_finite() {
        raise(&Error::invalid_input("the time must be finite").with_hint("give a timestamp in the past"));
    }
    let micros = i64::from(t).saturating_add(PG_EPOCH_UNIX_MICROS);
    DateTime::from_timestamp_micros(micros).unwrap_or_else(|| raise(&Error::invalid_input("the time is out of range")))
}

/// A count as `bigint`, saturating (no count walrs keeps comes near 2^63).
pub(crate) fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
