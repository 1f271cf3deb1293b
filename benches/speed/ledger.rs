//! What the benches measured, kept beside criterion's own report so that one table of
//! figures and ratios can close `cargo bench`.
//!
//! Every bench times its runs itself (criterion's `iter_custom`) and hands each sample's
//! wall time per run to the ledger as well as to criterion. A row's figure is the median
//! of those samples (criterion's warm-up run included: one more sample among ten), so it
//! matches criterion's median to within noise.

use std::cell::RefCell;
use std::time::Duration;

/// One measured bench.
#[derive(Debug, Clone)]
pub struct Row {
    /// The figure it serves (1 to 4).
    pub figure: u8,
    /// Criterion's id of the bench (`group/function`).
    pub id: String,
    /// Simulated time one run covers.
    pub simulated: Duration,
    /// Requests the users sent in one run, when the run has users.
    pub requests: Option<usize>,
    /// Wall time of one run, one entry per sample.
    pub samples: Vec<Duration>,
}

impl Row {
    /// The median wall time of one run (`None` before the first sample).
    pub fn wall(&self) -> Option<Duration> {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied()
    }

    /// Wall milliseconds per simulated second.
    pub fn wall_ms_per_simulated_s(&self) -> Option<f64> {
        let wall = self.wall()?;
        Some(wall.as_secs_f64() * 1e3 / self.simulated.as_secs_f64())
    }

    /// Simulated seconds per wall second ("x real time").
    pub fn speed(&self) -> Option<f64> {
        let wall = self.wall()?;
        Some(self.simulated.as_secs_f64() / wall.as_secs_f64())
    }
}

/// The rows, in the order the benches ran.
#[derive(Debug, Default)]
pub struct Ledger {
    rows: RefCell<Vec<Row>>,
    /// Lines the benches add to the summary (what they chose and why).
    remarks: RefCell<Vec<String>>,
}

impl Ledger {
    /// Opens a row for the bench `id`; samples go to the index returned.
    pub fn open(
        &self,
        figure: u8,
        id: &str,
        simulated: Duration,
        requests: Option<usize>,
    ) -> usize {
        let mut rows = self.rows.borrow_mut();
        rows.push(Row {
            figure,
            id: id.to_string(),
            simulated,
            requests,
            samples: Vec::new(),
        });
        rows.len() - 1
    }

    /// Adds a sample to row `index`: the wall time of one run.
    pub fn sample(&self, index: usize, wall_per_run: Duration) {
        self.rows.borrow_mut()[index].samples.push(wall_per_run);
    }

    /// Adds a line to the summary.
    pub fn remark(&self, line: String) {
        self.remarks.borrow_mut().push(line);
    }

    /// The lines the benches added, in order.
    pub fn remarks(&self) -> Vec<String> {
        self.remarks.borrow().clone()
    }

    /// The row of the bench `id`, if it ran.
    pub fn find(&self, id: &str) -> Option<Row> {
        self.rows
            .borrow()
            .iter()
            .find(|r| r.id == id && !r.samples.is_empty())
            .cloned()
    }

    /// The table of every row that has samples.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<4}{:<52}{:>11}{:>10}{:>12}{:>15}{:>10}\n",
            "fig", "bench", "simulated", "requests", "wall/run", "wall ms/sim s", "x real"
        );
        for row in self.rows.borrow().iter() {
            let (Some(wall), Some(cost), Some(speed)) =
                (row.wall(), row.wall_ms_per_simulated_s(), row.speed())
            else {
                continue;
            };
            let requests = row.requests.map_or("-".to_string(), |n| n.to_string());
            out.push_str(&format!(
                "{:<4}{:<52}{:>10.1}s{:>10}{:>11.2}s{:>15.2}{:>10.1}\n",
                row.figure,
                row.id,
                row.simulated.as_secs_f64(),
                requests,
                wall.as_secs_f64(),
                cost,
                speed
            ));
        }
        out
    }
}
