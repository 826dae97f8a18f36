//! Chains built by hand: 16 MiB segments unless said otherwise; `now` is fixed.

use super::*;
use crate::backup::{BackupName, Sentinel};
use crate::wal::WalFileName;
use chrono::TimeZone;

const MIB16: u64 = 16 << 20;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

fn name(tli: u32, seg: u64) -> String {
    format!("{tli:08X}{:08X}{:08X}", seg >> 8, seg & 0xFF)
}

/// A backup on `tli` starting in segment `seg`, `hours_ago` before [`now`], of cluster `sysid`.
fn backup(tli: u32, seg: u64, hours_ago: i64, sysid: u64) -> BackupInfo {
    let started = now() - Duration::hours(hours_ago);
    BackupInfo {
        name: BackupName::parse(&format!("base_{}", name(tli, seg))).unwrap(),
        sentinel: Sentinel {
            lsn: (seg << 24) | 0x28,
            finish_lsn: (seg << 24) | 0x100,
            system_identifier: Some(sysid),
            start_time: Some(started.to_rfc3339()),
            ..Default::default()
        },
        sentinel_modified: Some(started),
    }
}

/// Stored objects: (file name, minutes before [`now`] it was stored).
fn wal(files: &[(String, i64)]) -> Vec<WalObject> {
    files
        .iter()
        .map(|(n, ago)| WalObject {
            name: WalFileName::parse(n).unwrap(),
            key: format!("wal_005/{n}.lz4"),
            modified: now() - Duration::minutes(*ago),
        })
        .collect()
}

/// Segments `range` of `tli`, stored an hour ago.
fn segs(tli: u32, range: std::ops::Range<u64>) -> Vec<(String, i64)> {
    range.map(|s| (name(tli, s), 60)).collect()
}

fn check(backups: Vec<BackupInfo>, files: Vec<(String, i64)>, histories: &[(u32, &str)]) -> WalReport {
    let snap = Snapshot { backups, wal: wal(&files), ..Default::default() };
    let parsed = histories.iter().map(|(t, text)| (*t, parse_history(text, *t, "h").unwrap())).collect();
    verify_chain(&snap, &parsed, MIB16, now())
}

fn gaps(r: &WalReport, tli: u32) -> Vec<(String, String, GapStatus)> {
    let t = r.timelines.iter().find(|t| t.timeline == tli).unwrap();
    t.gaps.iter().map(|g| (g.first.clone(), g.last.clone(), g.status)).collect()
}

#[test]
fn a_complete_chain_is_checked_from_the_oldest_backup() {
    let r = check(vec![backup(1, 3, 30, 7), backup(1, 5, 20, 7)], segs(1, 1..9), &[]);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(r.checked_segments, 6, "segments 3..=8");
    let t = &r.timelines[0];
    assert_eq!(t.checked, vec![SegmentRange { first: name(1, 3), last: name(1, 8), count: 6 }]);
    assert_eq!((t.first.clone(), t.last.clone(), t.segments), (Some(name(1, 1)), Some(name(1, 8)), 8));
    assert_eq!(t.backups, vec![format!("base_{}", name(1, 3)), format!("base_{}", name(1, 5))]);
    assert!(r.notes.iter().any(|n| n.contains("2 segments are older")), "{:?}", r.notes);
    assert_eq!(r.newest_segment.as_deref(), Some(name(1, 8).as_str()));
}

#[test]
fn an_old_gap_is_lost() {
    let mut files = segs(1, 3..10);
    files.retain(|(n, _)| *n != name(1, 5) && *n != name(1, 6));
    let r = check(vec![backup(1, 3, 30, 7)], files, &[]);
    assert!(!r.is_ok());
    assert_eq!(r.lost_segments, 2);
    assert_eq!(gaps(&r, 1), vec![(name(1, 5), name(1, 6), GapStatus::Lost)]);
}

#[test]
fn a_gap_just_below_fresh_segments_is_uploading() {
    // 7 is missing; 8 and 9 were stored two minutes ago: 7 is most likely still on its way.
    let mut files = segs(1, 3..7);
    files.extend([(name(1, 8), 2), (name(1, 9), 1)]);
    let r = check(vec![backup(1, 3, 30, 7)], files.clone(), &[]);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!((r.uploading_segments, r.lost_segments), (1, 0));
    assert_eq!(gaps(&r, 1), vec![(name(1, 7), name(1, 7), GapStatus::Uploading)]);
    // Once a later segment has been there longer than the window, the gap is lost.
    files.push((name(1, 10), IN_FLIGHT_MINUTES + 1));
    files.retain(|(n, _)| *n != name(1, 9));
    files.push((name(1, 9), IN_FLIGHT_MINUTES + 2));
    let r = check(vec![backup(1, 3, 30, 7)], files, &[]);
    assert_eq!(gaps(&r, 1), vec![(name(1, 7), name(1, 7), GapStatus::Lost)]);
}

#[test]
fn two_timelines_follow_the_history_file() {
    // Timeline 2 branched off 1 at 0/6000060: 1 ends with 6.partial, 2 starts with its own 6.
    let mut files = segs(1, 2..6);
    files.push((format!("{}.partial", name(1, 6)), 60));
    files.push(("00000002.history".into(), 60));
    files.extend(segs(2, 6..9));
    let history = "1\t0/6000060\tno recovery target specified\n";
    let r = check(vec![backup(1, 2, 30, 7), backup(2, 7, 10, 7)], files.clone(), &[(2, history)]);
    assert!(r.is_ok(), "{r:?}");
    let t1 = &r.timelines[0];
    assert_eq!(t1.switches, vec![Switch { timeline: 2, switchpoint: "0/6000060".into() }]);
    assert_eq!(t1.partial.as_deref(), Some(format!("{}.partial", name(1, 6)).as_str()));
    assert_eq!(t1.checked[0].last, name(1, 6));
    let t2 = &r.timelines[1];
    assert_eq!(t2.parent.as_ref().map(|p| p.parent), Some(1));
    assert_eq!(t2.checked, vec![SegmentRange { first: name(2, 6), last: name(2, 8), count: 3 }]);

    // Timeline 1 stops short of the switch: the segments before it are lost, because the
    // restore of the backup on timeline 1 cannot reach timeline 2.
    files.retain(|(n, _)| !n.starts_with(&name(1, 5)) && !n.starts_with(&name(1, 6)));
    let r = check(vec![backup(1, 2, 30, 7)], files.clone(), &[(2, history)]);
    assert_eq!(gaps(&r, 1), vec![(name(1, 5), name(1, 5), GapStatus::Lost)]);

    // Without its history file, timeline 2 cannot be followed.
    files.retain(|(n, _)| n != "00000002.history");
    let r = check(vec![backup(1, 2, 30, 7)], files, &[]);
    assert!(r.problems.iter().any(|p| p.contains("00000002.history")), "{:?}", r.problems);
    assert!(!r.is_ok());
}

#[test]
fn log_ids_roll_over_after_segment_ff() {
    let files: Vec<(String, i64)> = (0xFD..0x103).map(|s| (name(1, s), 60)).collect();
    let r = check(vec![backup(1, 0xFD, 30, 7)], files, &[]);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(r.timelines[0].checked[0].last, "000000010000000100000002");
    assert_eq!(r.checked_segments, 6);
}

#[test]
fn a_cluster_restarted_with_lower_names_opens_a_new_epoch() {
    // pg_upgrade: the old cluster (7) archived 0x30..0x50; the new one (8) starts again at 2.
    let backups = vec![backup(1, 0x30, 48, 7), backup(1, 0x40, 24, 7), backup(1, 2, 1, 8)];
    let mut files = segs(1, 0x30..0x51);
    files.extend(segs(1, 1..6));
    let r = check(backups.clone(), files.clone(), &[]);
    assert!(r.is_ok(), "the jump from 5 to 0x30 is between clusters, not a gap: {r:?}");
    let checked: Vec<(String, String)> =
        r.timelines[0].checked.iter().map(|c| (c.first.clone(), c.last.clone())).collect();
    assert_eq!(checked, vec![(name(1, 2), name(1, 5)), (name(1, 0x30), name(1, 0x50))]);
    // A hole in the new cluster's WAL is still found.
    files.retain(|(n, _)| *n != name(1, 3));
    let r = check(backups.clone(), files, &[]);
    assert_eq!(gaps(&r, 1), vec![(name(1, 3), name(1, 3), GapStatus::Lost)]);
    // Without system identifiers, the start position going back opens the epoch.
    let anonymous: Vec<BackupInfo> = backups
        .into_iter()
        .map(|mut b| {
            b.sentinel.system_identifier = None;
            b
        })
        .collect();
    let mut files = segs(1, 0x30..0x51);
    files.extend(segs(1, 1..6));
    assert!(check(anonymous, files, &[]).is_ok());
}

#[test]
fn without_backups_nothing_is_needed() {
    let mut files = segs(1, 1..4);
    files.extend(segs(1, 7..9));
    let r = check(vec![], files, &[]);
    assert!(r.is_ok());
    assert_eq!(r.checked_segments, 0);
    assert_eq!(r.timelines[0].segments, 5);
}

#[test]
fn names_that_do_not_fit_the_segment_size_are_reported() {
    let mut files = segs(1, 2..4);
    files.push(("000000010000000000000100".into(), 60));
    let r = check(vec![backup(1, 2, 3, 7)], files, &[]);
    assert!(r.problems.iter().any(|p| p.contains("000000010000000000000100")), "{:?}", r.problems);
}
