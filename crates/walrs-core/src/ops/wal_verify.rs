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

use super::{blocking, with_decoded, MAX_SEGMENT};
use crate::backup::BackupInfo;
use crate::body::ReadStages;
use crate::compress::Compression;
use crate::layout::WAL_DIR;
use crate::retention::{infer_segment_size, SegmentPos, Snapshot, WalObject};
use crate::storage::Storage;
use crate::timeline::{parse_history, HistoryEntry, MAX_HISTORY_BYTES};
use crate::wal::{is_valid_segment_size, WalFileKind};
use crate::Result;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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
    let method = method_of(w);
    let bytes = storage
        .get(&w.key)
        .await?
        .ok_or_else(|| crate::Error::not_found(format!("{} vanished while it was read", w.key)))?;
    let key = w.key.clone();
    let stages = ReadStages::new(method, key).limit(MAX_HISTORY_BYTES);
    let (text, _) = blocking(move || stages.decode(&bytes)).await?;
    let text = String::from_utf8_lossy(&text);
    parse_history(&text, w.name.timeline(), &w.key)
}

/// The compression of a WAL object, from its key's suffix.
pub(crate) fn method_of(w: &WalObject) -> Compression {
    let ext = w.key.strip_prefix(&format!("{WAL_DIR}/{}", w.name)).unwrap_or("").trim_start_matches('.');
    Compression::from_extension(ext).unwrap_or(Compression::None)
}

/// The WAL segment size: the length of a stored segment, decompressed; else inferred from the
/// backups (see [`infer_segment_size`]), with a note saying so.
pub(crate) async fn segment_size(storage: &Storage, snap: &Snapshot) -> (u64, Option<String>) {
    let inferred = infer_segment_size(&snap.backups);
    let Some(sample) = snap.wal.iter().rev().find(|w| w.name.kind() == WalFileKind::Segment) else {
        return (inferred, None);
    };
    let counted = with_decoded(storage, ReadStages::new(method_of(sample), &sample.key), |decoded| {
        std::io::copy(&mut std::io::Read::take(decoded, MAX_SEGMENT + 1), &mut std::io::sink())
            .map_err(|e| crate::Error::corrupt(format!("cannot read a WAL segment: {e}")))
    })
    .await;
    match counted {
        Ok(Some(len)) if is_valid_segment_size(len) => (len, None),
        Ok(Some(len)) => (inferred, Some(format!("{} holds {len} bytes, not a segment size", sample.key))),
        Ok(None) => (inferred, None),
        Err(e) => (inferred, Some(format!("segment size inferred from the backups; measuring one failed: {e}"))),
    }
}

/// What is stored at one segment position of a timeline.
#[derive(Debug, Clone, Copy)]
struct Stored {
    modified: DateTime<Utc>,
    partial: bool,
}

/// Segment numbers counted from the start of the WAL (`lsn / segment_size`), and names.
struct Segments {
    per_log: u64,
}

impl Segments {
    fn of_pos(&self, p: SegmentPos) -> Option<u64> {
        (u64::from(p.pos.1) < self.per_log).then(|| u64::from(p.pos.0) * self.per_log + u64::from(p.pos.1))
    }

    fn name(&self, timeline: u32, n: u64) -> String {
        format!("{timeline:08X}{:08X}{:08X}", n / self.per_log, n % self.per_log)
    }
}

/// Check `snap`'s WAL for gaps as the module comment describes. `histories` holds the parsed
/// history file of each timeline that has one.
pub fn verify_chain(
    snap: &Snapshot,
    histories: &BTreeMap<u32, Vec<HistoryEntry>>,
    segment_size: u64,
    now: DateTime<Utc>,
) -> WalReport {
    let seg = Segments { per_log: 0x1_0000_0000 / segment_size };
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

    let mut stored: BTreeMap<u32, BTreeMap<u64, Stored>> = BTreeMap::new();
    let mut history_files = BTreeSet::new();
    let mut newest: Option<&WalObject> = None;
    for w in &snap.wal {
        let partial = match w.name.kind() {
            WalFileKind::History => {
                history_files.insert(w.name.timeline());
                continue;
            }
            WalFileKind::BackupHistory => continue,
            WalFileKind::Segment => false,
            WalFileKind::Partial => true,
        };
        let pos = SegmentPos::of_wal(&w.name).expect("segments have a position");
        let Some(n) = seg.of_pos(pos) else {
            report.problems.push(format!("{} does not fit {} MiB segments", w.name, segment_size >> 20));
            continue;
        };
        if !partial && newest.is_none_or(|b| (w.modified, w.name.as_str()) > (b.modified, b.name.as_str())) {
            newest = Some(w);
        }
        let slot = stored.entry(pos.timeline).or_default().entry(n).or_insert(Stored { modified: w.modified, partial });
        // A full copy beats a partial one; the latest store time is when it became available.
        if slot.partial && !partial {
            *slot = Stored { modified: w.modified, partial };
        } else if slot.partial == partial && w.modified > slot.modified {
            slot.modified = w.modified;
        }
    }
    report.newest_segment = newest.map(|w| w.name.to_string());
    report.newest_stored_at = newest.map(|w| w.modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));

    let mut backups: Vec<&BackupInfo> = snap.backups.iter().collect();
    backups.sort_by_key(|b| b.order_key());
    let mut timelines: BTreeSet<u32> = stored.keys().copied().collect();
    timelines.extend(histories.keys());
    timelines.extend(&history_files);
    timelines.extend(backups.iter().map(|b| b.timeline()));
    timelines.extend(histories.values().flatten().map(|e| e.parent));

    // The first segment of each branched timeline, and where each parent's children begin.
    let parent_of = |t: u32| histories.get(&t).and_then(|h| h.last());
    let mut children: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
    for &t in &timelines {
        if let Some(e) = parent_of(t) {
            children.entry(e.parent).or_default().push((t, e.switchpoint.0 / segment_size));
        }
    }
    let lowest_used =
        timelines.iter().copied().find(|t| stored.contains_key(t) || backups.iter().any(|b| b.timeline() == *t));
    for &t in &timelines {
        if parent_of(t).is_none() && !history_files.contains(&t) && lowest_used.is_some_and(|low| low < t) {
            report.problems.push(format!(
                "timeline {t} has no history file ({t:08X}.history) in the repository: recovery cannot follow it"
            ));
        }
    }

    let epochs = epochs(&backups, segment_size);
    if epochs.is_empty() {
        report.notes.push("no complete backups: no WAL is needed yet, so nothing was checked".into());
    } else if let Some(&(lo, _)) = epochs.first() {
        let older: u64 = stored.values().map(|s| s.range(..lo).count() as u64).sum();
        if older > 0 {
            report.notes.push(format!("{older} segments are older than the oldest backup and not needed"));
        }
    }

    for &t in &timelines {
        let empty = BTreeMap::new();
        let on_t = stored.get(&t).unwrap_or(&empty);
        let begins = parent_of(t).map(|e| e.switchpoint.0 / segment_size);
        let mut tl = TimelineReport {
            timeline: t,
            parent: parent_of(t).cloned(),
            switches: children
                .get(&t)
                .into_iter()
                .flatten()
                .map(|&(c, _)| Switch {
                    timeline: c,
                    switchpoint: parent_of(c).map(|e| e.switchpoint.to_string()).unwrap_or_default(),
                })
                .collect(),
            first: on_t.keys().next().map(|&n| seg.name(t, n)),
            last: on_t.keys().next_back().map(|&n| seg.name(t, n)),
            segments: on_t.len() as u64,
            partial: on_t.iter().rev().find(|(_, s)| s.partial).map(|(&n, _)| seg.name(t, n) + ".partial"),
            checked: vec![],
            gaps: vec![],
            backups: backups.iter().filter(|b| b.timeline() == t).map(|b| b.name.to_string()).collect(),
        };
        for &(lo, hi) in &epochs {
            let from = lo.max(begins.unwrap_or(0));
            let child_end = children
                .get(&t)
                .into_iter()
                .flatten()
                .filter(|&&(_, b)| b >= 1 && (lo..hi).contains(&(b - 1)))
                .map(|&(_, b)| b - 1)
                .max();
            let Some(end) = on_t.range(lo..hi).next_back().map(|(&n, _)| n).max(child_end) else { continue };
            if end < from {
                continue;
            }
            tl.checked.push(SegmentRange { first: seg.name(t, from), last: seg.name(t, end), count: end - from + 1 });
            report.checked_segments += end - from + 1;
            for (a, z) in holes(on_t, from, end) {
                let status = gap_status(on_t, z, hi, children.get(&t), &stored, now);
                match status {
                    GapStatus::Lost => report.lost_segments += z - a + 1,
                    GapStatus::Uploading => report.uploading_segments += z - a + 1,
                }
                tl.gaps.push(Gap { first: seg.name(t, a), last: seg.name(t, z), count: z - a + 1, status });
            }
        }
        report.timelines.push(tl);
    }
    report
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
