//! The page's shared time axis and the little SVG the hand-drawn pictures share.
//!
//! Every picture on one time axis (the lanes here, the plots plotters draws) uses the
//! same width and the same margins, so a moment is at the same x in all of them and a
//! reader can run a finger down the page.

/// Every picture's width, in px.
pub const WIDTH_PX: u32 = 960;
/// Left of the time axis: lane names, plots' y labels, in px.
pub const LEFT_PX: u32 = 140;
/// Right of the time axis, in px.
pub const RIGHT_PX: u32 = 20;
/// A lane's height, in px.
pub const LANE_PX: u32 = 30;
/// The height of the tick labels under a set of lanes, in px.
pub const TICKS_PX: u32 = 24;
/// The time axis is ticked every this many milliseconds at most 12 times.
const TICK_STEPS_MS: [u64; 6] = [5_000, 10_000, 15_000, 30_000, 60_000, 300_000];
/// At most this many ticks on an axis.
const TICKS_MAX: u64 = 12;

/// The run's time axis: 0 to `end_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Axis {
    pub end_ms: u64,
}

impl Axis {
    /// The x of `ms`, in px.
    pub fn x(self, ms: u64) -> f64 {
        let width = f64::from(WIDTH_PX - LEFT_PX - RIGHT_PX);
        f64::from(LEFT_PX) + width * (ms.min(self.end_ms) as f64) / (self.end_ms.max(1) as f64)
    }

    /// The tick step, in ms.
    pub fn step_ms(self) -> u64 {
        TICK_STEPS_MS
            .iter()
            .copied()
            .find(|s| self.end_ms / s <= TICKS_MAX)
            .unwrap_or(600_000)
    }

    /// The ticks, in ms.
    pub fn ticks(self) -> Vec<u64> {
        (0..=self.end_ms / self.step_ms())
            .map(|k| k * self.step_ms())
            .collect()
    }

    /// The ticks as the lanes' template draws them.
    pub fn tick_marks(self) -> Vec<Tick> {
        self.ticks()
            .into_iter()
            .map(|t| Tick {
                x: px(self.x(t)),
                label: mss(t),
            })
            .collect()
    }
}

/// One tick of the time axis.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

/// A coordinate rounded to a tenth of a pixel (shorter, stable output).
pub fn px(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `m:ss` of a time in ms.
pub fn mss(ms: u64) -> String {
    crate::duration::clock_short(std::time::Duration::from_millis(ms))
}
