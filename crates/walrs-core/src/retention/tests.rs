//! Planner cases, each on a small repository built by hand. Segments are 16 MiB; backup `k`
//! starts in segment `k` and finishes in segment `k + 1`.

use super::*;
use crate::backup::Sentinel;
use crate::snapshot::WalObject;
use crate::wal::WalFileName;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// A backup on `tli` starting in segment `seg`, `hours_ago` before [`now`].
fn backup(tli: u32, seg: u64, hours_ago: i64) -> BackupInfo {
    let name = BackupName::parse(&format!("base_{tli:08X}{:08X}{:08X}", seg >> 8, seg & 0xFF)).unwrap();
    let started = now() - Duration::hours(hours_ago);
    BackupInfo {
        name,
        sentinel: Sentinel {
            lsn: (seg << 24) | 0x28,
            finish_lsn: ((seg + 1) << 24) | 0x100,
            start_time: Some(started.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
            ..Default::default()
        },
        sentinel_modified: Some(started),
    }
}

fn permanent(mut b: BackupInfo) -> BackupInfo {
    b.sentinel.is_permanent = true;
    b
}

fn wal(names: &[String]) -> Vec<WalObject> {
    names
        .iter()
        .map(|n| WalObject { name: WalFileName::parse(n).unwrap(), key: format!("wal_005/{n}.lz4"), modified: now() })
        .collect()
}

fn segments(tli: u32, range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|s| format!("{tli:08X}{:08X}{:08X}", s >> 8, s & 0xFF)).collect()
}

fn snapshot(backups: Vec<BackupInfo>, wal_names: Vec<String>) -> Snapshot {
    let backup_objects = backups.iter().map(|b| (b.name.clone(), vec![crate::layout::metadata_key(&b.name)])).collect();
    Snapshot { backups, backup_objects, wal: wal(&wal_names), ..Default::default() }
}

fn deleted(plan: &Plan, kind: ItemKind) -> Vec<String> {
    plan.delete.iter().filter(|d| d.kind == kind).map(|d| d.name.clone()).collect()
}

fn kept(plan: &Plan, kind: ItemKind) -> Vec<String> {
    plan.keep.iter().filter(|d| d.kind == kind).map(|d| d.name.clone()).collect()
}

/// The repository after `plan` ran.
fn apply(snap: &Snapshot, plan: &Plan) -> Snapshot {
    let gone = |name: &str| plan.delete.iter().any(|d| d.name == name);
    let mut after = snap.clone();
    after.backups.retain(|b| !gone(b.name.as_str()));
    after.partial.retain(|p| !gone(p.name.as_str()));
    after.wal.retain(|w| !gone(w.name.as_str()));
    after
}

#[test]
fn retain_more_than_there_are_keeps_every_backup() {
    let snap = snapshot(vec![backup(1, 3, 30), backup(1, 5, 20)], segments(1, 1..8));
    let plan = plan(&snap, &Policy::RetainFull(5), now()).unwrap();
    assert!(deleted(&plan, ItemKind::Backup).is_empty());
    // WAL before the oldest backup has no use.
    assert_eq!(deleted(&plan, ItemKind::Wal), segments(1, 1..3));
}

#[test]
fn a_permanent_backup_in_the_middle_keeps_itself_and_its_own_wal() {
    let b = [backup(1, 2, 40), permanent(backup(1, 5, 30)), backup(1, 9, 20), backup(1, 12, 10)];
    let snap = snapshot(b.to_vec(), segments(1, 1..15));
    let plan = plan(&snap, &Policy::RetainFull(2), now()).unwrap();
    assert_eq!(deleted(&plan, ItemKind::Backup), vec![b[0].name.to_string()]);
    assert_eq!(kept(&plan, ItemKind::Backup), [&b[1], &b[2], &b[3]].map(|b| b.name.to_string()).to_vec());
    let reasons: Vec<&str> =
        plan.keep.iter().filter(|d| d.kind == ItemKind::Backup).map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons[0], "permanent");
    // Gone: before the permanent one (1..5) and between its finish (segment 6) and the 3rd (9).
    let expected: Vec<String> = segments(1, 1..5).into_iter().chain(segments(1, 7..9)).collect();
    assert_eq!(deleted(&plan, ItemKind::Wal), expected);
    assert!(kept(&plan, ItemKind::Wal).contains(&segments(1, 5..6)[0]));
    assert!(kept(&plan, ItemKind::Wal).contains(&segments(1, 6..7)[0]));
}

#[test]
fn two_timelines_keep_history_and_the_newer_timeline() {
    // Promotion at segment 6: timeline 1 ends there (.partial), timeline 2 continues.
    let mut names = segments(1, 1..6);
    names.push("000000010000000000000006.partial".into());
    names.push("00000002.history".into());
    names.extend(segments(2, 6..12));
    let b = [backup(1, 2, 30), backup(2, 8, 10)];
    let snap = snapshot(b.to_vec(), names);

    let one = plan(&snap, &Policy::RetainFull(1), now()).unwrap();
    assert_eq!(deleted(&one, ItemKind::Backup), vec![b[0].name.to_string()]);
    let mut expected = segments(1, 1..6);
    expected.push("000000010000000000000006.partial".into());
    expected.extend(segments(2, 6..8));
    assert_eq!(deleted(&one, ItemKind::Wal), expected);
    assert!(kept(&one, ItemKind::Wal).contains(&"00000002.history".to_string()));

    // Both kept: everything from the first backup's start stays, on both timelines.
    let two = plan(&snap, &Policy::RetainFull(2), now()).unwrap();
    assert_eq!(deleted(&two, ItemKind::Wal), segments(1, 1..2));
}

#[test]
fn a_reinitialised_cluster_with_lower_names_is_the_newest() {
    // After pg_upgrade the new cluster starts over at low segment names; its backup is newest.
    let old = [backup(1, 0x50, 50), backup(1, 0x60, 40)];
    let new = backup(1, 0x03, 10);
    let mut names = segments(1, 0x01..0x08);
    names.extend(segments(1, 0x4E..0x62));
    let snap = snapshot(vec![old[0].clone(), old[1].clone(), new.clone()], names);
    let plan = plan(&snap, &Policy::RetainFull(1), now()).unwrap();
    assert_eq!(kept(&plan, ItemKind::Backup), vec![new.name.to_string()]);
    assert_eq!(deleted(&plan, ItemKind::Backup), old.iter().map(|b| b.name.to_string()).collect::<Vec<_>>());
    assert_eq!(deleted(&plan, ItemKind::Wal), segments(1, 1..3));
}

#[test]
fn keep_within_a_window_and_always_the_newest() {
    let b = [backup(1, 2, 24 * 10), backup(1, 4, 24 * 8), backup(1, 6, 24 * 2)];
    let snap = snapshot(b.to_vec(), segments(1, 1..8));
    let week = plan(&snap, &Policy::KeepWithin(Duration::days(7)), now()).unwrap();
    assert_eq!(deleted(&week, ItemKind::Backup), vec![b[0].name.to_string(), b[1].name.to_string()]);
    let day = plan(&snap, &Policy::KeepWithin(Duration::days(1)), now()).unwrap();
    assert_eq!(kept(&day, ItemKind::Backup), vec![b[2].name.to_string()]);
    assert!(plan(&snap, &Policy::KeepWithin(Duration::zero()), now()).is_err());
}

#[test]
fn a_backup_in_progress_is_left_alone_and_pins_its_wal() {
    let done = backup(1, 2, 30);
    let partial = |hours_ago| PartialBackup {
        name: BackupName::parse("base_000000010000000000000006").unwrap(),
        keys: vec!["basebackups_005/base_000000010000000000000006/tar_partitions/part_1.tar.lz4".into()],
        last_write: now() - Duration::hours(hours_ago),
    };
    let mut snap = snapshot(vec![done], segments(1, 1..8));
    snap.partial = vec![partial(1)];
    let recent = plan(&snap, &Policy::Garbage, now()).unwrap();
    assert!(deleted(&recent, ItemKind::PartialBackup).is_empty());
    assert!(plan(&snap, &Policy::Target(snap.partial[0].name.clone()), now()).is_err());
    snap.partial = vec![partial(IN_PROGRESS_GRACE_HOURS + 1)];
    let stale = plan(&snap, &Policy::Garbage, now()).unwrap();
    assert_eq!(deleted(&stale, ItemKind::PartialBackup), vec!["base_000000010000000000000006".to_string()]);
    // When the caller knows no backup runs, a recent one is a leftover too.
    snap.partial = vec![partial(1)];
    snap.backup_running = Some(false);
    let known = plan(&snap, &Policy::Garbage, now()).unwrap();
    assert_eq!(deleted(&known, ItemKind::PartialBackup).len(), 1);
    snap.partial = vec![partial(IN_PROGRESS_GRACE_HOURS + 1)];
    snap.backup_running = None;
    // Other policies never remove partial backups.
    assert!(deleted(&plan(&snap, &Policy::RetainFull(1), now()).unwrap(), ItemKind::PartialBackup).is_empty());
}

#[test]
fn a_second_run_deletes_nothing() {
    let b = [backup(1, 2, 40), permanent(backup(1, 5, 30)), backup(1, 9, 20), backup(1, 12, 10)];
    let snap = snapshot(b.to_vec(), segments(1, 1..15));
    for policy in [Policy::RetainFull(2), Policy::Garbage, Policy::KeepWithin(Duration::hours(25))] {
        let first = plan(&snap, &policy, now()).unwrap();
        assert!(!first.delete.is_empty(), "{policy:?}");
        let second = plan(&apply(&snap, &first), &policy, now()).unwrap();
        assert!(second.delete.is_empty(), "{policy:?}: {:?}", second.delete);
    }
}

#[test]
fn garbage_removes_only_what_no_backup_needs() {
    let b = [backup(1, 4, 30), backup(1, 8, 10)];
    let mut names = segments(1, 1..10);
    names.push("000000010000000000000004.00000028.backup".into());
    names.push("000000010000000000000002.00000028.backup".into());
    let plan = plan(&snapshot(b.to_vec(), names), &Policy::Garbage, now()).unwrap();
    assert!(deleted(&plan, ItemKind::Backup).is_empty());
    let mut expected = segments(1, 1..4);
    expected.push("000000010000000000000002.00000028.backup".into());
    assert_eq!(deleted(&plan, ItemKind::Wal), expected);
}

#[test]
fn only_permanent_backups_still_pin_wal_to_the_present() {
    let snap = snapshot(vec![permanent(backup(1, 3, 10))], segments(1, 1..9));
    let plan = plan(&snap, &Policy::Garbage, now()).unwrap();
    assert_eq!(deleted(&plan, ItemKind::Wal), segments(1, 1..3));
}

#[test]
fn before_a_time_or_a_backup() {
    let b = [backup(1, 2, 30), backup(1, 5, 20), backup(1, 8, 10)];
    let snap = snapshot(b.to_vec(), segments(1, 1..10));
    let by_time = plan(&snap, &Policy::BeforeTime(now() - Duration::hours(25)), now()).unwrap();
    assert_eq!(deleted(&by_time, ItemKind::Backup), vec![b[0].name.to_string()]);
    let by_name = plan(&snap, &Policy::BeforeBackup(b[2].name.clone()), now()).unwrap();
    assert_eq!(deleted(&by_name, ItemKind::Backup), vec![b[0].name.to_string(), b[1].name.to_string()]);
    assert_eq!(deleted(&by_name, ItemKind::Wal), segments(1, 1..8));
}

#[test]
fn target_deletes_one_backup_and_no_wal() {
    let b = [backup(1, 2, 30), permanent(backup(1, 5, 20)), backup(1, 8, 10)];
    let snap = snapshot(b.to_vec(), segments(1, 1..10));
    let one = plan(&snap, &Policy::Target(b[0].name.clone()), now()).unwrap();
    assert_eq!(one.delete.len(), 1);
    assert_eq!(
        one.delete[0].keys,
        vec![crate::layout::sentinel_key(&b[0].name), crate::layout::metadata_key(&b[0].name)],
        "the sentinel goes first"
    );
    assert_eq!(plan(&snap, &Policy::Target(b[1].name.clone()), now()).unwrap_err().kind, ErrorKind::Conflict);
    let unknown = BackupName::parse("base_000000010000000000000099").unwrap();
    assert_eq!(plan(&snap, &Policy::Target(unknown), now()).unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn everything_needs_force_past_permanent_backups() {
    let mut names = segments(1, 1..4);
    names.push("00000002.history".into());
    let snap = snapshot(vec![backup(1, 2, 30), permanent(backup(1, 3, 20))], names);
    assert_eq!(plan(&snap, &Policy::Everything { force: false }, now()).unwrap_err().kind, ErrorKind::Conflict);
    let all = plan(&snap, &Policy::Everything { force: true }, now()).unwrap();
    assert!(all.keep.is_empty(), "{:?}", all.keep);
    assert_eq!(all.delete.len(), 2 + 4);
}

#[test]
fn bad_arguments_and_unreadable_sentinels_are_refused() {
    let snap = snapshot(vec![backup(1, 2, 30)], segments(1, 1..4));
    assert_eq!(plan(&snap, &Policy::RetainFull(0), now()).unwrap_err().kind, ErrorKind::InvalidInput);
    let future = plan(&snap, &Policy::BeforeTime(now() + Duration::hours(1)), now()).unwrap_err();
    assert!(future.message.contains("future"), "{}", future.message);
    let all = plan(&snap, &Policy::BeforeTime(now() - Duration::hours(1)), now()).unwrap_err();
    assert!(all.message.contains("delete all"), "{}", all.message);
    let mut broken = snap.clone();
    broken.problems.push(Error::corrupt("basebackups_005/x_backup_stop_sentinel.json is not valid"));
    assert_eq!(plan(&broken, &Policy::Garbage, now()).unwrap_err().kind, ErrorKind::Corrupt);
}

#[test]
fn ordering_is_by_start_time_not_name() {
    // Listed in name order; the lower name started last.
    let snap = snapshot(vec![backup(1, 0x03, 5), backup(1, 0x40, 50)], segments(1, 1..5));
    let plan = plan(&snap, &Policy::RetainFull(1), now()).unwrap();
    assert_eq!(deleted(&plan, ItemKind::Backup), vec!["base_000000010000000000000040".to_string()]);
}
