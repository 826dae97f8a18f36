//! A [`WalReport`] as rows: one per timeline, then one per problem. This is what
//! `walrs_wal_verify()` returns, so a monitoring query can count what `walrs wal-verify`
//! would fail for.

use super::{GapStatus, TimelineReport, WalReport};

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// None for a problem that is not about one timeline's stored segments.
    pub timeline: Option<u32>,
    pub status: RowStatus,
    /// Lowest and highest stored segment name on the timeline.
    pub first_segment: Option<String>,
    pub last_segment: Option<String>,
    pub checked_segments: u64,
    pub lost_segments: u64,
    /// Each run of lost segments, as `first` or `first..last`.
    pub lost: Vec<String>,
    pub uploading_segments: u64,
    /// The problem, for a problem row.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// Every segment in the checked range is stored.
    Ok,
    /// Nothing is missing but segments that may still be uploading.
    Uploading,
    /// A segment a backup needs is missing and not coming.
    Lost,
    /// Nothing was checked on this timeline (no backup needs its WAL).
    Unchecked,
    /// A problem besides gaps: `walrs wal-verify` fails for it.
    Problem,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Ok => "ok",
            RowStatus::Uploading => "uploading",
            RowStatus::Lost => "lost",
            RowStatus::Unchecked => "unchecked",
            RowStatus::Problem => "problem",
        }
    }
}

/// The rows for `report`: its timelines in order, then its problems.
pub fn summary_rows(report: &WalReport) -> Vec<SummaryRow> {
    let mut rows: Vec<SummaryRow> = report.timelines.iter().map(timeline_row).collect();
    rows.extend(report.problems.iter().map(|p| SummaryRow {
        timeline: None,
        status: RowStatus::Problem,
        first_segment: None,
        last_segment: None,
        checked_segments: 0,
        lost_segments: 0,
        lost: vec![],
        uploading_segments: 0,
        problem: Some(p.clone()),
    }));
    rows
}

fn timeline_row(t: &TimelineReport) -> SummaryRow {
    let count = |status| t.gaps.iter().filter(|g| g.status == status).map(|g| g.count).sum::<u64>();
    let (lost_segments, uploading_segments) = (count(GapStatus::Lost), count(GapStatus::Uploading));
    let status = if lost_segments > 0 {
        RowStatus::Lost
    } else if uploading_segments > 0 {
        RowStatus::Uploading
    } else if t.checked.is_empty() {
        RowStatus::Unchecked
    } else {
        RowStatus::Ok
    };
    let lost = t
        .gaps
        .iter()
        .filter(|g| g.status == GapStatus::Lost)
        .map(|g| if g.count == 1 { g.first.clone() } else { format!("{}..{}", g.first, g.last) })
        .collect();
    SummaryRow {
        timeline: Some(t.timeline),
        status,
        first_segment: t.first.clone(),
        last_segment: t.last.clone(),
        checked_segments: t.checked.iter().map(|c| c.count).sum(),
        lost_segments,
        lost,
        uploading_segments,
        problem: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Gap, SegmentRange};
    use super::*;

    fn timeline(t: u32, checked: bool, gaps: Vec<Gap>) -> TimelineReport {
        TimelineReport {
            timeline: t,
            parent: None,
            switches: vec![],
            first: Some(format!("{t:08X}0000000000000001")),
            last: Some(format!("{t:08X}0000000000000009")),
            segments: 9,
            partial: None,
            checked: if checked {
                vec![SegmentRange { first: "a".into(), last: "b".into(), count: 9 }]
            } else {
                vec![]
            },
            gaps,
            backups: vec![],
        }
    }

    fn gap(first: &str, last: &str, count: u64, status: GapStatus) -> Gap {
        Gap { first: first.into(), last: last.into(), count, status }
    }

    fn report(timelines: Vec<TimelineReport>, problems: Vec<String>) -> WalReport {
        WalReport {
            segment_size: 16 << 20,
            timelines,
            newest_segment: None,
            newest_stored_at: None,
            checked_segments: 0,
            lost_segments: 0,
            uploading_segments: 0,
            problems,
            notes: vec![],
        }
    }

    #[test]
    fn each_timeline_gets_its_status_and_lost_runs() {
        let r = report(
            vec![
                timeline(1, true, vec![]),
                timeline(2, true, vec![gap("X3", "X3", 1, GapStatus::Lost), gap("X5", "X7", 3, GapStatus::Lost)]),
                timeline(3, true, vec![gap("Y8", "Y9", 2, GapStatus::Uploading)]),
                timeline(4, false, vec![]),
            ],
            vec![],
        );
        let rows = summary_rows(&r);
        let got: Vec<(Option<u32>, &str, u64, u64)> =
            rows.iter().map(|r| (r.timeline, r.status.as_str(), r.lost_segments, r.uploading_segments)).collect();
        assert_eq!(
            got,
            [
                (Some(1), "ok", 0, 0),
                (Some(2), "lost", 4, 0),
                (Some(3), "uploading", 0, 2),
                (Some(4), "unchecked", 0, 0)
            ]
        );
        assert_eq!(rows[1].lost, ["X3", "X5..X7"]);
        assert_eq!(rows[0].checked_segments, 9);
        assert_eq!(rows[0].first_segment.as_deref(), Some("000000010000000000000001"));
    }

    #[test]
    fn a_lost_run_outweighs_an_uploading_one() {
        let gaps = vec![gap("A", "A", 1, GapStatus::Lost), gap("B", "B", 1, GapStatus::Uploading)];
        let rows = summary_rows(&report(vec![timeline(1, true, gaps)], vec![]));
        assert_eq!((rows[0].status, rows[0].lost_segments, rows[0].uploading_segments), (RowStatus::Lost, 1, 1));
    }

    #[test]
    fn problems_come_after_the_timelines_as_rows_of_their_own() {
        let r = report(vec![timeline(1, true, vec![])], vec!["timeline 2 has no history file".into()]);
        let rows = summary_rows(&r);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].timeline, rows[1].status), (None, RowStatus::Problem));
        assert_eq!(rows[1].problem.as_deref(), Some("timeline 2 has no history file"));
    }
}
