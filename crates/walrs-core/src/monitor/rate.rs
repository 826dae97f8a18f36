//! "How much in the last minute", from one slot per second: fixed size, so it fits in shared
//! memory, and exact to the second.

/// Seconds remembered; the window is the 60 seconds ending with the current one.
const SECONDS: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    /// The Unix second this slot counts, or i64::MIN when it never counted one.
    second: i64,
    events: u64,
    bytes: u64,
}

const UNUSED: Slot = Slot { second: i64::MIN, events: 0, bytes: 0 };

/// Events and bytes per second over the last minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastMinute {
    slots: [Slot; SECONDS],
}

impl Default for LastMinute {
    fn default() -> Self {
        LastMinute { slots: [UNUSED; SECONDS] }
    }
}

impl LastMinute {
    /// Count one event of `bytes` at Unix second `now`. A slot last used a minute or more ago
    /// starts again from zero.
    pub fn record(&mut self, now: i64, bytes: u64) {
        let slot = &mut self.slots[now.rem_euclid(SECONDS as i64) as usize];
        if slot.second != now {
            *slot = Slot { second: now, events: 0, bytes: 0 };
        }
        slot.events += 1;
        slot.bytes = slot.bytes.saturating_add(bytes);
    }

    /// (events, bytes) in the 60 seconds ending with second `now`.
    pub fn total(&self, now: i64) -> (u64, u64) {
        self.slots
            .iter()
            .filter(|s| s.second != i64::MIN && s.second <= now && s.second > now - SECONDS as i64)
            .fold((0, 0), |(e, b), s| (e + s.events, b.saturating_add(s.bytes)))
    }

    /// Bytes per second, averaged over the 60 seconds ending with second `now`.
    pub fn bytes_per_second(&self, now: i64) -> f64 {
        self.total(now).1 as f64 / SECONDS as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_the_last_sixty_seconds_count() {
        let mut m = LastMinute::default();
        assert_eq!(m.total(1_000), (0, 0));
        m.record(1_000, 10);
        m.record(1_000, 20);
        m.record(1_030, 30);
        assert_eq!(m.total(1_030), (3, 60));
        assert_eq!(m.total(1_059), (3, 60));
        // 1000 is 60 seconds before 1060: out of the window.
        assert_eq!(m.total(1_060), (1, 30));
        assert_eq!(m.total(1_090), (0, 0));
        assert_eq!(m.bytes_per_second(1_030), 1.0);
    }

    #[test]
    fn a_slot_reused_a_minute_later_starts_from_zero() {
        let mut m = LastMinute::default();
        m.record(5, 100);
        m.record(65, 1); // same slot as second 5
        assert_eq!(m.total(65), (1, 1));
    }

    #[test]
    fn a_clock_that_went_back_does_not_count_the_future() {
        let mut m = LastMinute::default();
        m.record(2_000, 7);
        assert_eq!(m.total(1_990), (0, 0));
        // Negative seconds (before 1970) still land in a slot.
        m.record(-1, 1);
        assert_eq!(m.total(-1), (1, 1));
    }
}
