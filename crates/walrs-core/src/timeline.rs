//! Timeline history files (`TTTTTTTT.history`): written at each promotion, one line per
//! ancestor, `parentTLI <tab> switchpoint <tab> reason`, oldest first. The last line names the
//! timeline the new one branched from and where. Parsed as PostgreSQL's `readTimeLineHistory`
//! does: blank lines and `#` comments skipped, timeline IDs increasing.

use crate::lsn::Lsn;
use crate::{Error, Result};

/// Largest history file read: one short line per promotion.
pub const MAX_HISTORY_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The timeline that ended at `switchpoint`.
    pub parent: u32,
    /// The first LSN that is no longer on `parent`.
    #[serde(serialize_with = "crate::timeline::lsn_text")]
    pub switchpoint: Lsn,
    pub reason: String,
}

pub(crate) fn lsn_text<S: serde::Serializer>(lsn: &Lsn, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&lsn.to_string())
}

/// Parse the history file of `timeline`; `what` names it in errors.
pub fn parse_history(text: &str, timeline: u32, what: &str) -> Result<Vec<HistoryEntry>> {
    let bad = |line: &str, why: &str| {
        Error::corrupt(format!("{what}: syntax error in \"{}\": {why}", line.escape_debug()))
            .with_hint("a timeline history file holds lines like \"1<TAB>0/3000060<TAB>reason\"")
    };
    let mut entries: Vec<HistoryEntry> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(3, char::is_whitespace);
        let parent = fields
            .next()
            .and_then(|f| f.parse::<u32>().ok())
            .filter(|&t| t > 0)
            .ok_or_else(|| bad(line, "expected a numeric timeline ID"))?;
        let switchpoint = fields
            .next()
            .and_then(|f| f.parse::<Lsn>().ok())
            .ok_or_else(|| bad(line, "expected a write-ahead log switchpoint location"))?;
        if entries.last().is_some_and(|e| e.parent >= parent || e.switchpoint > switchpoint) {
            return Err(bad(line, "timeline IDs and switchpoints must increase"));
        }
        let reason = fields.next().unwrap_or("").trim().to_string();
        entries.push(HistoryEntry { parent, switchpoint, reason });
    }
    if entries.last().is_some_and(|e| e.parent >= timeline) {
        return Err(Error::corrupt(format!("{what} names a parent timeline not older than timeline {timeline}")));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_postgres_writes() {
        let text =
            "1\t0/3000060\tno recovery target specified\n\n# comment\n2\t0/5000000\tbefore 2026-11-21 12:00:00+00\n";
        let h = parse_history(text, 3, "00000003.history").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(
            h[0],
            HistoryEntry { parent: 1, switchpoint: Lsn(0x300_0060), reason: "no recovery target specified".into() }
        );
        assert_eq!(h[1].parent, 2);
        assert_eq!(h[1].switchpoint.to_string(), "0/5000000");
        assert!(parse_history("", 2, "x").unwrap().is_empty());
    }

    #[test]
    fn refuses_malformed_files() {
        for bad in [
            "x\t0/1\tr",
            "1",
            "1\tnot-an-lsn",
            "2\t0/1\tr\n1\t0/2\tr",
            "1\t0/5\tr\n2\t0/4\tr",
            "0\t0/1\tr",
            "5\t0/1\tr",
        ] {
            let err = parse_history(bad, 3, "00000003.history").expect_err(bad);
            assert_eq!(err.kind, crate::ErrorKind::Corrupt, "{bad}");
            assert!(err.message.contains("00000003.history"), "{}", err.message);
        }
    }
}
