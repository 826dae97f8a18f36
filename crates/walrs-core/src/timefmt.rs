//! RFC 3339 UTC timestamps as WAL-G writes them (`2026-11-21T13:42:49.141259849Z`).

use chrono::{DateTime, SecondsFormat, Utc};
use std::time::{SystemTime, UNIX_EPOCH};

/// `t` as `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`; `nanos` adds the fraction. A time before 1970
/// is written as 1970 (file times can be anything; a backup's times come from the clock).
pub fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    // Beyond chrono's range (year 262143) a time can only be garbage; it saturates.
    let utc = i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, since_epoch.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    utc.to_rfc3339_opts(if nanos { SecondsFormat::Nanos } else { SecondsFormat::Secs }, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_walg() {
        let t = UNIX_EPOCH + Duration::new(1_795_268_569, 141_259_849);
        assert_eq!(rfc3339(t, true), "2026-11-21T13:42:49.141259849Z");
        assert_eq!(rfc3339(t, false), "2026-11-21T13:42:49Z");
        assert_eq!(rfc3339(UNIX_EPOCH, false), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400), false), "2000-02-29T00:00:00Z");
    }
}
