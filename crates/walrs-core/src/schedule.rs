//! Backup schedules: standard 5-field cron expressions (`0 3 * * *`), evaluated in the server's
//! local time zone by the caller. Time is an argument, so tests are exact.

use crate::{Error, Result};
use chrono::TimeZone;
pub use chrono::{DateTime, Local};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    expr: String,
}

impl Schedule {
    /// Parse `expr`; `setting` names it in errors.
    pub fn parse(expr: &str, setting: &str) -> Result<Schedule> {
        let expr = expr.trim();
        if expr.split_whitespace().count() != 5 {
            return Err(Error::config(format!("{setting} = '{expr}' is not a 5-field cron expression"))
                .with_hint("minute hour day-of-month month day-of-week, for example '0 3 * * *' for 03:00 every day"));
        }
        let cron = croner::Cron::from_str(expr).map_err(|e| {
            Error::config(format!("{setting} = '{expr}' is not a valid cron expression: {e}"))
                .with_hint("for example '0 3 * * *'")
        })?;
        Ok(Schedule { cron, expr: expr.to_string() })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first due time strictly after `after`.
    pub fn next_after<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>>
    where
        DateTime<Tz>: croner::CronDateTime,
    {
        self.cron.find_next_occurrence(after, false).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_due_times() {
        let daily = Schedule::parse("0 3 * * *", "walrs.backup_schedule").unwrap();
        assert_eq!(daily.next_after(&at("2026-11-21T02:59:59Z")), Some(at("2026-11-21T03:00:00Z")));
        assert_eq!(daily.next_after(&at("2026-11-21T03:00:00Z")), Some(at("2026-11-22T03:00:00Z")));
        let every_minute = Schedule::parse("* * * * *", "x").unwrap();
        assert_eq!(every_minute.next_after(&at("2026-11-21T10:15:30Z")), Some(at("2026-11-21T10:16:00Z")));
        let sundays = Schedule::parse("30 1 * * 0", "x").unwrap();
        assert_eq!(sundays.next_after(&at("2026-11-21T00:00:00Z")), Some(at("2026-11-22T01:30:00Z")));
    }

    #[test]
    fn bad_expressions_name_the_setting() {
        for bad in ["", "* * * *", "* * * * * *", "61 * * * *", "x y z w v", "0 3 * * 8"] {
            let err = Schedule::parse(bad, "walrs.backup_schedule").expect_err(bad);
            assert_eq!(err.kind, crate::ErrorKind::Config);
            assert!(err.message.contains("walrs.backup_schedule"), "{}", err.message);
        }
    }
}
