//! A sweep's progress on stderr: an indicatif bar when stderr is a terminal, and
//! otherwise (a CI log, a file) a plain line every [`PLAIN_INTERVAL`], so that a log
//! shows the sweep moving without a line per seed.
//!
//! Both say the same: seeds done of all, how many failed, seeds per wall second, the
//! time left at that rate, and simulated seconds per wall second. Wall time is read here,
//! outside every simulation, and never reaches a record.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::record::SeedRecord;

/// How often the plain progress line is printed when stderr is not a terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// How often the bar redraws at most.
const BAR_REFRESH_PER_S: u8 = 4;

/// Progress over `total` seeds.
pub struct Progress {
    total: u64,
    done: u64,
    failing: u64,
    simulated: Duration,
    started: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts the display: a bar when stderr is a terminal, plain lines otherwise.
    pub fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total),
                ProgressDrawTarget::stderr_with_hz(BAR_REFRESH_PER_S),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} seeds  {msg}  {per_sec}  ETA {eta}",
                )
                .expect("the template is valid"),
            );
            bar
        });
        let now = Instant::now();
        Self {
            total,
            done: 0,
            failing: 0,
            simulated: Duration::ZERO,
            started: now,
            last_line: now,
            bar,
        }
    }

    /// Counts one finished seed.
    pub fn seed_done(&mut self, record: &SeedRecord) {
        self.done += 1;
        self.failing += u64::from(!record.passed);
        self.simulated += Duration::from_millis(record.simulated_ms);
        let speed = self.simulated_per_wall_s();
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{} failing, {speed:.0} sim s/wall s", self.failing));
                bar.inc(1);
            }
            None if self.last_line.elapsed() >= PLAIN_INTERVAL || self.done == self.total => {
                self.last_line = Instant::now();
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    /// Ends the display (the bar is cleared; the summary follows on stdout).
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let wall = self.started.elapsed().as_secs_f64();
        eprintln!(
            "sweep: {} seeds in {wall:.1}s of wall time: {:.2} seeds per wall second, {:.1} simulated seconds per wall second",
            self.done,
            self.seeds_per_wall_s(),
            self.simulated_per_wall_s()
        );
    }

    fn seeds_per_wall_s(&self) -> f64 {
        self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    fn simulated_per_wall_s(&self) -> f64 {
        self.simulated.as_secs_f64() / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// The plain line: `sweep: 40/200 seeds, 1 failing, 2.1 seeds/s, ETA 1m16s, ...`.
    fn line(&self) -> String {
        let rate = self.seeds_per_wall_s();
        let left = self.total - self.done;
        let eta = if rate > 0.0 {
            format!("{:.0}s", left as f64 / rate)
        } else {
            "unknown".to_string()
        };
        format!(
            "sweep: {}/{} seeds, {} failing, {rate:.2} seeds/s, ETA {eta}, {:.1} simulated s per wall s",
            self.done,
            self.total,
            self.failing,
            self.simulated_per_wall_s()
        )
    }
}
