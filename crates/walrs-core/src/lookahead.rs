//! Look-ahead archiving: which WAL segments to start uploading before PostgreSQL asks for them.
//!
//! PostgreSQL's archiver hands the archive module one file at a time and waits for each. When
//! a backlog builds up, the next files are already known: each has a `.ready` marker in
//! `pg_wal/archive_status`. The archive module starts uploading some of them in the background
//! and, when PostgreSQL asks for one of them, waits for that upload's result instead of
//! starting over. This module holds the decision, as a pure function, and the directory read.
//!
//! Rules (see [`plan`]):
//! - only whole segments are uploaded ahead, never `.history`, `.backup` or `.partial` files:
//!   those are rare, and PostgreSQL orders history files first anyway;
//! - only segments of the requested segment's timeline that come after it, oldest first: the
//!   ones PostgreSQL asks for next;
//! - at most `limit` uploads at once, the requested one included.
//!
//! A segment is never reported archived before its own upload has finished: look-ahead only
//! starts work early, the adapter still waits for the result when PostgreSQL asks.

use crate::wal::{WalFileKind, WalFileName};
use std::collections::BTreeSet;
use std::path::Path;

/// The segments to start uploading now, oldest first.
///
/// `requested` is the file PostgreSQL asked for; `ready` the names with a `.ready` marker (any
/// order, without the suffix; names that are not WAL files are ignored); `in_flight` the
/// uploads already running (the requested one counts if it is among them); `limit` the most
/// uploads to run at once, the requested one included.
pub fn plan<'a, I>(requested: &WalFileName, ready: I, in_flight: &BTreeSet<String>, limit: usize) -> Vec<WalFileName>
where
    I: IntoIterator<Item = &'a str>,
{
    if requested.kind() != WalFileKind::Segment {
        return Vec::new();
    }
    let busy = in_flight.len() + usize::from(!in_flight.contains(requested.as_str()));
    let room = limit.saturating_sub(busy);
    if room == 0 {
        return Vec::new();
    }
    let timeline = &requested.as_str()[..8];
    let candidates: BTreeSet<&str> = ready
        .into_iter()
        .filter(|n| n.len() == 24 && n.starts_with(timeline) && *n > requested.as_str())
        .filter(|n| !in_flight.contains(*n))
        .collect();
    candidates
        .into_iter()
        .filter_map(|n| WalFileName::parse(n).ok())
        .filter(|n| n.kind() == WalFileKind::Segment)
        .take(room)
        .collect()
}

/// The uploads started ahead under settings other than `current` (a reload changed the
/// repository, its credentials or the compression): the adapter waits for them before it
/// pushes anything, because pushing their segment now could store it a second time under
/// another compression suffix while the first upload is still running. `in_flight` pairs each
/// upload's file name with the settings it was started with.
pub fn started_with_other_settings<'a, S: PartialEq + 'a>(
    in_flight: impl IntoIterator<Item = (&'a String, &'a S)>,
    current: &S,
) -> Vec<String> {
    in_flight.into_iter().filter(|(_, started)| *started != current).map(|(name, _)| name.clone()).collect()
}

/// The names of the files marked `.ready` in `pg_wal/archive_status` (suffix removed).
pub fn ready_files(pg_wal: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(pg_wal.join("archive_status"))? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str().and_then(|n| n.strip_suffix(".ready")) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(n: u32) -> String {
        format!("00000001000000000000{n:04X}")
    }

    fn names(v: &[WalFileName]) -> Vec<&str> {
        v.iter().map(|n| n.as_str()).collect()
    }

    fn flying(v: &[String]) -> BTreeSet<String> {
        v.iter().cloned().collect()
    }

    #[test]
    fn next_segments_oldest_first_up_to_the_limit() {
        let req = WalFileName::parse(&seg(10)).unwrap();
        let ready = [seg(14), seg(12), seg(11), seg(13), seg(10), seg(15)];
        let got = plan(&req, ready.iter().map(String::as_str), &BTreeSet::new(), 4);
        assert_eq!(names(&got), [seg(11), seg(12), seg(13)]);
    }

    #[test]
    fn in_flight_uploads_count_and_are_not_started_twice() {
        let req = WalFileName::parse(&seg(10)).unwrap();
        let ready = [seg(10), seg(11), seg(12), seg(13), seg(14)];
        // 10 (requested) and 11 are running: two more fit in four.
        let got = plan(&req, ready.iter().map(String::as_str), &flying(&[seg(10), seg(11)]), 4);
        assert_eq!(names(&got), [seg(12), seg(13)]);
        // 11 and 12 running, 10 not yet: 10 will be the third, so one more.
        let got = plan(&req, ready.iter().map(String::as_str), &flying(&[seg(11), seg(12)]), 4);
        assert_eq!(names(&got), [seg(13)]);
        // Full.
        let got = plan(&req, ready.iter().map(String::as_str), &flying(&[seg(11), seg(12), seg(13)]), 4);
        assert!(got.is_empty());
    }

    #[test]
    fn limit_one_means_no_look_ahead() {
        let req = WalFileName::parse(&seg(1)).unwrap();
        let ready = [seg(2), seg(3)];
        assert!(plan(&req, ready.iter().map(String::as_str), &BTreeSet::new(), 1).is_empty());
        assert!(plan(&req, ready.iter().map(String::as_str), &BTreeSet::new(), 0).is_empty());
    }

    #[test]
    fn only_later_segments_of_the_same_timeline() {
        let req = WalFileName::parse("000000020000000000000010").unwrap();
        let ready = [
            "000000010000000000000011", // older timeline
            "000000030000000000000011", // newer timeline
            "00000002000000000000000F", // before the requested one
            "000000020000000000000012",
            "000000020000000000000011.partial",
            "000000020000000000000011.00000028.backup",
            "00000002.history",
            "000000020000000000000013",
            "not a wal file",
            "0000000200000000000000ZZ",
        ];
        let got = plan(&req, ready, &BTreeSet::new(), 8);
        assert_eq!(names(&got), ["000000020000000000000012", "000000020000000000000013"]);
    }

    #[test]
    fn no_look_ahead_from_other_kinds() {
        let ready = [seg(2), seg(3)];
        for name in ["00000001.history", "000000010000000000000001.partial", "000000010000000000000001.00000028.backup"]
        {
            let req = WalFileName::parse(name).unwrap();
            assert!(plan(&req, ready.iter().map(String::as_str), &BTreeSet::new(), 8).is_empty(), "{name}");
        }
    }

    #[test]
    fn crossing_a_log_file_boundary_keeps_name_order() {
        let req = WalFileName::parse("0000000100000000000000FE").unwrap();
        let ready = ["000000010000000100000000", "0000000100000000000000FF", "000000010000000100000001"];
        let got = plan(&req, ready, &BTreeSet::new(), 3);
        assert_eq!(names(&got), ["0000000100000000000000FF", "000000010000000100000000"]);
    }

    #[test]
    fn ready_files_reads_markers_only() {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("archive_status");
        std::fs::create_dir(&status).unwrap();
        for f in [format!("{}.ready", seg(1)), format!("{}.done", seg(2)), "00000001.history.ready".into()] {
            std::fs::write(status.join(f), b"").unwrap();
        }
        let mut got = ready_files(dir.path()).unwrap();
        got.sort();
        assert_eq!(got, ["00000001.history".to_string(), seg(1)]);
    }

    #[test]
    fn uploads_under_settings_a_reload_replaced_are_awaited() {
        let in_flight: std::collections::BTreeMap<String, &str> = [
            ("000000010000000000000004".to_string(), "lz4 to file:///a"),
            ("000000010000000000000005".to_string(), "zstd to file:///a"),
            ("000000010000000000000006".to_string(), "lz4 to file:///b"),
        ]
        .into();
        let stale = started_with_other_settings(in_flight.iter(), &"zstd to file:///a");
        assert_eq!(stale, ["000000010000000000000004", "000000010000000000000006"]);
        assert!(started_with_other_settings(in_flight.iter().take(1), &"lz4 to file:///a").is_empty());
    }
}
