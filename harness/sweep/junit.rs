//! JUnit XML for CI systems (quick-junit): one test case per scenario and seed, in a test
//! suite named for the scenario file.
//!
//! A seed with a failed verdict is a `failure` whose message names the failed verdicts'
//! keys and whose text gives each one's expectation and observation, then the command
//! that replays the seed. A seed whose simulation failed is an `error`. A seed that
//! failed nothing but has a check not judged or vacuous is `skipped`, with the reasons,
//! unless `strict`, where it is a `failure` as its exit is. No wall time or timestamp is
//! written: the file is a function of the records, so a merge writes the same bytes as
//! the unsharded sweep.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::record::{SeedRecord, Status};

/// The report's name, on its root element.
const REPORT_NAME: &str = "harness";

/// The JUnit XML of `records`, all seeds of the scenario file `scenario`.
pub fn render(scenario: &str, records: &[SeedRecord], strict: bool) -> String {
    let mut suite = TestSuite::new(scenario);
    suite.add_test_cases(records.iter().map(|r| case(scenario, r, strict)));
    let mut report = Report::new(REPORT_NAME);
    report.add_test_suite(suite);
    report.to_string().expect("plain strings serialize as XML")
}

/// One seed's test case.
fn case(scenario: &str, r: &SeedRecord, strict: bool) -> TestCase {
    let status = if let Some(error) = &r.error {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_message(format!("the simulation failed: {error}"));
        s.set_description(format!("reproduce: {}\n", r.reproduce));
        s
    } else if !r.passed {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(format!("FAIL: {}", r.failed_keys().join(", ")));
        s.set_description(details(r, |v| v == Status::Fail));
        s
    } else if r.unpassed().next().is_some() {
        let unpassed = |v: Status| matches!(v, Status::NotJudged | Status::Vacuous);
        let words: Vec<String> = r
            .unpassed()
            .map(|v| format!("{} {}", v.key, v.status.word()))
            .collect();
        let mut s = if strict {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("strict: {}", words.join(", ")));
            s
        } else {
            let mut s = TestCaseStatus::skipped();
            s.set_message(words.join(", "));
            s
        };
        s.set_description(details(r, unpassed));
        s
    } else {
        TestCaseStatus::success()
    };
    let mut case = TestCase::new(format!("seed {}", r.seed), status);
    case.set_classname(scenario);
    case
}

/// The verdicts `which` selects, one line each, then the reproduce command.
fn details(r: &SeedRecord, which: impl Fn(Status) -> bool) -> String {
    let mut text = String::new();
    for v in r.verdicts.iter().filter(|v| which(v.status)) {
        text.push_str(&format!(
            "{} {} ({}): {}\n",
            v.status.word(),
            v.expectation,
            v.key,
            v.observed
        ));
    }
    text.push_str(&format!("reproduce: {}\n", r.reproduce));
    text
}
