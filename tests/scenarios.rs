//! Every scenario in `scenarios/` runs, passes its own expectations, and renders the
//! report stored (and reviewed) in `snapshots/`.

use harness::report::{Outcome, text};
use harness::scenario::{self, executor};

/// Proves each scenario's report is the reviewed one and its verdict is a pass: a change
/// in the model shows up as a snapshot diff to read, and cannot sneak a failing scenario
/// in by an accepted snapshot.
#[test]
fn report() {
    insta::glob!("../scenarios", "*.toml", |path| {
        let scenario = scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        let run = executor::run(&scenario, None).unwrap_or_else(|e| panic!("{e}"));
        let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
        let file = path.file_name().expect("a scenario file").to_string_lossy();
        let reproduce = format!(
            "cargo run --release -- run scenarios/{file} --seed {}",
            scenario.seed
        );
        let report = text::render(&outcome, &reproduce);
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(report);
        });
        assert!(
            outcome.passed,
            "{file} fails its own expectations:\n{report}"
        );
    });
}
