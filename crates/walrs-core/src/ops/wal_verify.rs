//! `wal-verify` and `wal-show`: is the archived WAL a chain every backup can replay to its end?
//!
//! What is checked, per timeline: the segments from the start of the oldest backup to the
//! timeline's end, which is its newest stored segment, its `.partial` segment, or the segment
//! before the one where a child timeline branched off (from the children's `.history` files),
//! whichever is latest. A missing segment in that range is a gap, unless it is still uploading:
//! - **uploading**: every segment stored after the gap on its timeline (or, for a gap at the
//!   end of a timeline, on its child timelines) was stored less than [`IN_FLIGHT_MINUTES`]
//!   before `now`. The archiver hands segments over in order and walrs uploads a few ahead, so a
//!   missing segment just below freshly stored ones may simply be on its way;
//! - **lost** otherwise: segments after it have been there for a while, so it is not coming.
//!
//! Backups are taken in epochs: a repository that outlived a `pg_upgrade` or a re-initdb
//! holds WAL of two clusters, the newer one with lower names. Backups ordered by start time
//! open a new epoch when the system identifier changes (or, when it is unknown, when the start
//! position goes back). Each epoch's WAL is checked from its oldest backup up to the next
//! epoch's start, so the jump between two clusters' WAL is not reported as a gap. Two clusters
//! whose WAL names overlap cannot be told apart: give a new cluster a new repository prefix.

use super::blocking;
use crate::backup::BackupInfo;
use crate::snapshot::{segment_size, Snapshot, WalObject};
use crate::storage::Storage;
use crate::timeline::{parse_history, HistoryEntry, MAX_HISTORY_BYTES};
use crate::wal::{is_valid_segment_size, SegmentPos, WalFileKind};
use crate::Result;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

mod summary;
pub use summary::{summary_rows, RowStatus, SummaryRow};

/// How long after the newest segments were stored a missing one before them counts as uploading.
pub const IN_FLIGHT_MINUTES: i64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalReport {
    pub segment_size: u64,
    pub timelines: Vec<TimelineReport>,
    /// The segment stored last, and when (RFC 3339).
    pub newest_segment: Option<String>,
    pub newest_stored_at: Option<String>,
    pub checked_segments: u64,
    pub lost_segments: u64,
    pub uploading_segments: u64,
    /// Failures besides gaps (a missing or unreadable history file, an unreadable sentinel).
    pub problems: Vec<String>,
    /// What the reader should know but need not act on.
    pub notes: Vec<String>,
}

impl WalReport {
    /// Is every segment a backup needs either stored or on its way?
    pub fn is_ok(&self) -> bool {
        self.lost_segments == 0 && self.problems.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineReport {
    pub timeline: u32,
    /// Where this timeline branched off its parent (the last line of its history file).
    pub parent: Option<HistoryEntry>,
    /// Timelines that branched off this one: (timeline, switchpoint).
    pub switches: Vec<Switch>,
    /// Stored segments (`.partial` included), lowest and highest name.
    pub first: Option<String>,
    pub last: Option<String>,
    pub segments: u64,
    pub partial: Option<String>,
    /// The ranges that were checked (one per epoch that uses this timeline).
    pub checked: Vec<SegmentRange>,
    pub gaps: Vec<Gap>,
    /// Backups that started on this timeline, oldest first.
    pub backups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Switch {
    pub timeline: u32,
    pub switchpoint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentRange {
    pub first: String,
    pub last: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub first: String,
    pub last: String,
    pub count: u64,
    pub status: GapStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapStatus {
    Uploading,
    Lost,
}

/// Read the repository once and check its WAL (see the module comment).
pub async fn wal_verify(storage: &Storage, now: DateTime<Utc>) -> Result<WalReport> {
    let snap = Snapshot::load(storage).await?;
    let mut problems: Vec<String> = snap.problems.iter().map(|e| format!("unreadable backup sentinel: {e}")).collect();
    let mut histories = BTreeMap::new();
    for w in snap.wal.iter().filter(|w| w.name.kind() == WalFileKind::History) {
        match read_history(storage, w).await {
            Ok(h) => {
                histories.insert(w.name.timeline(), h);
            }
            Err(e) => problems.push(e.message),
        }
    }
    let (segment_size, note) = segment_size(storage, &snap).await;
    let mut report = verify_chain(&snap, &histories, segment_size, now);
    problems.append(&mut report.problems);
    report.problems = problems;
    report.notes.extend(note);
    Ok(report)
}

async fn read_history(storage: &Storage, w: &WalObject) -> Result<Vec<HistoryEntry>> {
    let method = w.compression();
    let bytes = storage
        .get(&w.key)
        .await?
        .ok_or_else(|| crate::Error::not_found(format!("{} vanished while it was read", w.key)))?;
    let key = w.key.clone();
    let stages = storage.read_stages(method, key).limit(MAX_HISTORY_BYTES);
    let (text, _) = blocking(move || stages.decode(&bytes)).await?;
    let text = String::from_utf8_lossy(&text);
    parse_history(&text, w.name.timeline(), &w.key)
}

/// What is stored at one segment position of a timeline.
#[derive(Debug, Clone, Copy)]
struct Stored {
    modified: DateTime<Utc>,
    partial: bool,
}

/// Stored segments of each timeline by segment number (counted from the start of the WAL).
type StoredByTimeline = BTreeMap<u32, BTreeMap<u64, Stored>>;

/// The timelines that branched off each timeline, with the segment number each begins at.
type Branches = BTreeMap<u32, Vec<(u32, u64)>>;

/// Check `snap`'s WAL for gaps as the module comment describes. `histories` holds the parsed
/// history file of each timeline that has one.
pub fn verify_chain(
    snap: &Snapshot,
    histories: &BTreeMap<u32, Vec<HistoryEntry>>,
    segment_size: u64,
    now: DateTime<Utc>,
) -> WalReport {
    let mut report = WalReport {
        segment_size,
        timelines: vec![],
        newest_segment: None,
        newest_stored_at: None,
        checked_segments: 0,
        lost_segments: 0,
        uploading_segments: 0,
        problems: vec![],
        notes: vec![],
    };
    if !is_valid_segment_size(segment_size) {
        report.problems.push(format!("{segment_size} bytes is not a WAL segment size: nothing was checked"));
        return report;
    }
    let listing = Listing::index(&snap.wal, segment_size);
    report.problems.extend(listing.misfits.iter().cloned());
    report.newest_segment = listing.newest.map(|w| w.name.to_string());
    report.newest_stored_at = listing.newest.map(|w| w.modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));

    let mut backups: Vec<&BackupInfo> = snap.backups.iter().collect();
    backups.sort_by_key(|b| b.order_key());
    let timelines = timelines_to_report(&listing, histories, &backups);
    report.problems.extend(timelines_without_history(&timelines, &listing, histories, &backups));

    let epochs = epochs(&backups, segment_size);
    report.notes.extend(coverage_note(&epochs, &listing.stored));

    let chain = Chain {
        stored: &listing.stored,
        histories,
        branches: branches(&timelines, histories, segment_size),
        epochs,
        segment_size,
        now,
    };
    for &t in &timelines {
        let tl = chain.timeline_report(t, &backups);
        report.checked_segments += tl.checked.iter().map(|r| r.count).sum::<u64>();
        for g in &tl.gaps {
            match g.status {
                GapStatus::Lost => report.lost_segments += g.count,
                GapStatus::Uploading => report.uploading_segments += g.count,
            }
        }
        report.timelines.push(tl);
    }
    report
}

/// The repository's WAL listing, indexed for the checks.
struct Listing<'a> {
    stored: StoredByTimeline,
    /// Timelines whose `.history` file is stored.
    history_files: BTreeSet<u32>,
    /// The full segment stored last (by store time, then name).
    newest: Option<&'a WalObject>,
    /// A problem for each segment name that does not fit the segment size.
    misfits: Vec<String>,
}

impl<'a> Listing<'a> {
    fn index(wal: &'a [WalObject], segment_size: u64) -> Listing<'a> {
        let mut listing =
            Listing { stored: BTreeMap::new(), history_files: BTreeSet::new(), newest: None, misfits: vec![] };
        for w in wal {
            let partial = match w.name.kind() {
                WalFileKind::History => {
                    listing.history_files.insert(w.name.timeline());
                    continue;
                }
                WalFileKind::BackupHistory => continue,
                WalFileKind::Segment => false,
                WalFileKind::Partial => true,
            };
            let pos = SegmentPos::of_wal(&w.name).expect("segments have a position");
            let Some(n) = pos.number(segment_size) else {
                listing.misfits.push(format!("{} does not fit {} MiB segments", w.name, segment_size >> 20));
                continue;
            };
            if !partial && listing.newest.is_none_or(|b| (w.modified, w.name.as_str()) > (b.modified, b.name.as_str()))
            {
                listing.newest = Some(w);
            }
            let on_t = listing.stored.entry(pos.timeline).or_default();
            let slot = on_t.entry(n).or_insert(Stored { modified: w.modified, partial });
            // A full copy beats a partial one; the latest store time is when it became available.
            if slot.partial && !partial {
                *slot = Stored { modified: w.modified, partial };
            } else if slot.partial == partial && w.modified > slot.modified {
                slot.modified = w.modified;
            }
        }
        listing
    }
}

/// Every timeline anything mentions: stored WAL, history files (stored or parsed), backups, and
/// the parents the histories name.
fn timelines_to_report(
    listing: &Listing,
    histories: &BTreeMap<u32, Vec<HistoryEntry>>,
    backups: &[&BackupInfo],
) -> BTreeSet<u32> {
    let mut timelines: BTreeSet<u32> = listing.stored.keys().copied().collect();
    timelines.extend(histories.keys());
    timelines.extend(&listing.history_files);
    timelines.extend(backups.iter().map(|b| b.timeline()));
    timelines.extend(histories.values().flatten().map(|e| e.parent));
    timelines
}

/// A problem for each timeline above the lowest one in use that has no history file: recovery
/// needs it to switch onto that timeline.
fn timelines_without_history(
    timelines: &BTreeSet<u32>,
    listing: &Listing,
    histories: &BTreeMap<u32, Vec<HistoryEntry>>,
    backups: &[&BackupInfo],
) -> Vec<String> {
    let lowest_used = timelines
        .iter()
        .copied()
        .find(|t| listing.stored.contains_key(t) || backups.iter().any(|b| b.timeline() == *t));
    timelines
        .iter()
        .filter(|&&t| {
            histories.get(&t).and_then(|h| h.last()).is_none()
                && !listing.history_files.contains(&t)
                && lowest_used.is_some_and(|low| low < t)
        })
        .map(|t| {
            format!("timeline {t} has no history file ({t:08X}.history) in the repository: recovery cannot follow it")
        })
        .collect()
}

/// Where each parent's children begin: the segment holding each branched timeline's switchpoint.
fn branches(timelines: &BTreeSet<u32>, histories: &BTreeMap<u32, Vec<HistoryEntry>>, segment_size: u64) -> Branches {
    let mut branches: Branches = BTreeMap::new();
    for &t in timelines {
        if let Some(e) = histories.get(&t).and_then(|h| h.last()) {
            branches.entry(e.parent).or_default().push((t, e.switchpoint.0 / segment_size));
        }
    }
    branches
}

/// Says that nothing was checked when there are no backups, or how many stored segments are
/// older than the oldest one.
fn coverage_note(epochs: &[(u64, u64)], stored: &StoredByTimeline) -> Option<String> {
    let Some(&(lo, _)) = epochs.first() else {
        return Some("no complete backups: no WAL is needed yet, so nothing was checked".into());
    };
    let older: u64 = stored.values().map(|s| s.range(..lo).count() as u64).sum();
    (older > 0).then(|| format!("{older} segments are older than the oldest backup and not needed"))
}

/// The name of segment `number` of `timeline`.
fn segment_name(timeline: u32, number: u64, segment_size: u64) -> String {
    SegmentPos::from_number(timeline, number, segment_size)
        .expect("verify_chain checked the size, and numbers come from names and LSNs")
        .to_string()
}

/// What the per-timeline check reads: the stored segments, the histories and where timelines
/// branch, the epochs to check.
struct Chain<'a> {
    stored: &'a StoredByTimeline,
    histories: &'a BTreeMap<u32, Vec<HistoryEntry>>,
    branches: Branches,
    epochs: Vec<(u64, u64)>,
    segment_size: u64,
    now: DateTime<Utc>,
}

impl Chain<'_> {
    /// Where `t` branched off its parent: the last line of its history file.
    fn parent_of(&self, t: u32) -> Option<&HistoryEntry> {
        self.histories.get(&t).and_then(|h| h.last())
    }

    /// What is stored on `t`, the ranges checked in each epoch, and the gaps found in them.
    fn timeline_report(&self, t: u32, backups: &[&BackupInfo]) -> TimelineReport {
        let empty = BTreeMap::new();
        let on_t = self.stored.get(&t).unwrap_or(&empty);
        let name = |n: u64| segment_name(t, n, self.segment_size);
        let mut tl = TimelineReport {
            timeline: t,
            parent: self.parent_of(t).cloned(),
            switches: self
                .branches
                .get(&t)
                .into_iter()
                .flatten()
                .map(|&(c, _)| Switch {
                    timeline: c,
                    switchpoint: self.parent_of(c).map(|e| e.switchpoint.to_string()).unwrap_or_default(),
                })
                .collect(),
            first: on_t.keys().next().map(|&n| name(n)),
            last: on_t.keys().next_back().map(|&n| name(n)),
            segments: on_t.len() as u64,
            partial: on_t.iter().rev().find(|(_, s)| s.partial).map(|(&n, _)| name(n) + ".partial"),
            checked: vec![],
            gaps: vec![],
            backups: backups.iter().filter(|b| b.timeline() == t).map(|b| b.name.to_string()).collect(),
        };
        for &epoch in &self.epochs {
            let Some((from, end)) = self.range_to_check(t, on_t, epoch) else { continue };
            tl.checked.push(SegmentRange { first: name(from), last: name(end), count: end - from + 1 });
            for (a, z) in holes(on_t, from, end) {
                let status = gap_status(on_t, z, epoch.1, self.branches.get(&t), self.stored, self.now);
                tl.gaps.push(Gap { first: name(a), last: name(z), count: z - a + 1, status });
            }
        }
        tl
    }

    /// The segments of `t` that epoch `(lo, hi)` needs, as (first, last): from the epoch's start
    /// (or where `t` begins, if later) to the newest stored segment of the epoch or the segment
    /// before a child timeline branched off, whichever is latest. None when `t` has nothing there.
    fn range_to_check(&self, t: u32, on_t: &BTreeMap<u64, Stored>, (lo, hi): (u64, u64)) -> Option<(u64, u64)> {
        let begins = self.parent_of(t).map(|e| e.switchpoint.0 / self.segment_size);
        let from = lo.max(begins.unwrap_or(0));
        let child_end = self
            .branches
            .get(&t)
            .into_iter()
            .flatten()
            .filter(|&&(_, b)| b >= 1 && (lo..hi).contains(&(b - 1)))
            .map(|&(_, b)| b - 1)
            .max();
        let end = on_t.range(lo..hi).next_back().map(|(&n, _)| n).max(child_end)?;
        (end >= from).then_some((from, end))
    }
}

/// Epochs as half-open ranges of segment numbers, lowest first (see the module comment).
fn epochs(backups: &[&BackupInfo], segment_size: u64) -> Vec<(u64, u64)> {
    let mut starts: Vec<u64> = Vec::new();
    let mut prev: Option<&BackupInfo> = None;
    for b in backups {
        let start = b.sentinel.lsn / segment_size;
        let new_epoch = match prev {
            None => true,
            Some(p) => match (p.sentinel.system_identifier, b.sentinel.system_identifier) {
                (Some(a), Some(c)) => a != c,
                _ => start < p.sentinel.lsn / segment_size,
            },
        };
        match starts.last_mut() {
            Some(last) if !new_epoch => *last = (*last).min(start),
            _ => starts.push(start),
        }
        prev = Some(b);
    }
    starts.sort_unstable();
    starts.dedup();
    starts.iter().enumerate().map(|(i, &lo)| (lo, starts.get(i + 1).copied().unwrap_or(u64::MAX))).collect()
}

/// Runs of segment numbers in `from..=end` with nothing stored, as (first, last).
fn holes(on_t: &BTreeMap<u64, Stored>, from: u64, end: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut expect = from;
    for &n in on_t.range(from..=end).map(|(n, _)| n) {
        if n > expect {
            out.push((expect, n - 1));
        }
        expect = n + 1;
    }
    if expect <= end {
        out.push((expect, end));
    }
    out
}

/// Uploading when everything stored after the gap is recent; lost otherwise (or when nothing is).
fn gap_status(
    on_t: &BTreeMap<u64, Stored>,
    last: u64,
    hi: u64,
    children: Option<&Vec<(u32, u64)>>,
    stored: &BTreeMap<u32, BTreeMap<u64, Stored>>,
    now: DateTime<Utc>,
) -> GapStatus {
    let mut after: Vec<DateTime<Utc>> = on_t.range(last + 1..hi).map(|(_, s)| s.modified).collect();
    if after.is_empty() {
        let on_children = children.into_iter().flatten().filter_map(|(c, _)| stored.get(c)).flat_map(|s| s.values());
        after.extend(on_children.map(|s| s.modified));
    }
    let cutoff = now - Duration::minutes(IN_FLIGHT_MINUTES);
    match after.iter().min() {
        Some(&oldest) if oldest >= cutoff => GapStatus::Uploading,
        _ => GapStatus::Lost,
    }
}

#[cfg(test)]
mod tests;
