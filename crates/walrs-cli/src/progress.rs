//! Progress of the long verbs (backup-fetch, backup-verify, restore-test, delete): a bar on
//! standard error when it is a terminal, and nothing when it is not, so logs and cron mail
//! never fill with redraws. With --verbose each finished object is also a line, as before.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use walrs_core::ops::Progress;

/// Bytes done / total, rate and time left when the backup recorded its size.
const BYTES: &str = "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}, {eta} left";
/// Objects done / total otherwise (delete counts items, not bytes).
const ITEMS: &str = "{prefix} [{bar:30}] {pos}/{len} {items_per_sec}, {eta} left";

/// Turns the core's progress reports into what standard error shows.
pub struct Reporter {
    bar: Option<ProgressBar>,
    lines: bool,
    what: &'static str,
}

impl Reporter {
    /// `what` names the work in the bar ("restoring", "verifying", "deleting"); `lines`: also
    /// print a line per object finished.
    pub fn new(what: &'static str, lines: bool) -> Reporter {
        // Nothing is drawn until the first report: a delete that deletes nothing shows no bar.
        let bar =
            std::io::stderr().is_terminal().then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
        Reporter { bar, lines, what }
    }

    /// One report from the core.
    pub fn report(&self, p: &Progress) {
        if let Some(bar) = &self.bar {
            let (done, total, template) = match p.bytes_total {
                Some(total) => (p.bytes_done, total, BYTES),
                None => (p.objects_done, p.objects_total, ITEMS),
            };
            if p.object.is_none() {
                bar.reset();
                let style = ProgressStyle::with_template(template).expect("the templates above parse");
                let whole_rate = |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    // A rate on a terminal; nothing to do if it cannot be written.
                    write!(w, "{:.0}/s", s.per_sec()).unwrap_or(())
                };
                bar.set_style(style.with_key("items_per_sec", whole_rate).progress_chars("=> "));
                bar.set_prefix(match &p.backup {
                    Some(backup) => format!("walrs: {} {backup}", self.what),
                    None => format!("walrs: {}", self.what),
                });
            }
            // Recorded totals are estimates (tar headers, files changed while backed up).
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
        if let (true, Some(line)) = (self.lines, p.line()) {
            self.println(&format!("walrs:   {line}"));
        }
    }

    /// A line on standard error that does not tear the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Draw the last state now (the bar redraws at most a few times a second) and leave it on
    /// screen; what is printed next goes below it. Only once: a second draw would go over the
    /// lines printed since.
    pub fn finish(&self) {
        match &self.bar {
            Some(bar) if bar.is_finished() => {}
            Some(bar) if bar.length().is_some() => bar.abandon(),
            Some(bar) => bar.finish_and_clear(),
            None => {}
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish();
    }
}
