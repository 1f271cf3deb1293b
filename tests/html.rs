//! The HTML report (`harness run FILE --html PATH`): the same run gives the same bytes; a
//! page is made for every scenario; the "what happened and why" story tells the event
//! log's figures; and a real browser (Debian's `chromium`, headless) renders the
//! node-loss and partition-minority pages with no console message, the expected elements
//! in its DOM, and a PNG (kept under target/, out of the repository).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use harness::duration::{clock, span};
use harness::events::{CheckEffect, EventKind, Log, RsEvent};
use harness::executor;
use harness::report::html::story;
use harness::report::{Outcome, html, text};
use harness::scenario;

/// The users' rate for the every-scenario test, in requests per second: a tenth of the
/// reference, so that the twenty runs stay cheap (the pages' shape does not depend on it).
const CHEAP_RATE_PER_S: f64 = 5.0;

/// One run's outcome, log, text report and page.
#[derive(Clone)]
struct Page {
    outcome: Outcome,
    log: Log,
    text: String,
    html: String,
}

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// Runs `name` with its own seed (at `rate` requests/s when given) and renders it.
fn render(name: &str, rate: Option<f64>) -> Page {
    let path = scenario_path(name);
    let mut s = scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Some(rate) = rate {
        s.load.rate_per_s = rate;
    }
    let run = executor::run(&s, s.seed).unwrap_or_else(|e| panic!("{name}: {e}"));
    let outcome = Outcome::new(&s, s.seed, &run.events);
    let reproduce = format!("cargo run -- run scenarios/{name} --seed {}", s.seed);
    let html =
        html::render(&outcome, &run.events, &reproduce).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = text::render(&outcome, &reproduce);
    Page {
        outcome,
        log: run.events,
        text,
        html,
    }
}

/// The full-rate page of `name`, made once for every test that reads it.
fn page(name: &str) -> Page {
    static PAGES: OnceLock<Mutex<BTreeMap<String, Page>>> = OnceLock::new();
    let pages = PAGES.get_or_init(Mutex::default);
    if let Some(p) = pages.lock().expect("not poisoned").get(name) {
        return p.clone();
    }
    let p = render(name, None);
    pages
        .lock()
        .expect("not poisoned")
        .entry(name.to_string())
        .or_insert(p)
        .clone()
}

/// Proves determinism: two runs of node-loss with its seed (at the cheap rate: the
/// property does not depend on it) give byte-identical pages, and the full-rate page asks the browser for nothing outside itself (no script, no link, no
/// source, no URL but the SVG namespace).
#[test]
fn same_run_same_bytes_and_self_contained() {
    let first = page("node-loss.toml").html;
    let second = render("node-loss.toml", None).html;
    assert!(
        first == second,
        "two runs of node-loss gave different pages"
    );
    for banned in ["<script", "<link", " src=", " href=", "url(", "@import"] {
        assert!(!first.contains(banned), "the page holds {banned:?}");
    }
    let urls = first.matches("http://").count() + first.matches("https://").count();
    let namespaces = first.matches("http://www.w3.org/2000/svg").count();
    assert_eq!(
        urls, namespaces,
        "the page names a URL besides the SVG namespace"
    );
}

/// Proves a page is made for every scenario in scenarios/ (at a tenth of the reference
/// rate, to stay cheap), each with its header, story, lanes and plots.
#[test]
fn a_page_for_every_scenario() {
    let mut names: Vec<String> = std::fs::read_dir(scenario_path(""))
        .expect("scenarios/ is readable")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "only {} scenarios found", names.len());
    for name in &names {
        let p = render(name, Some(CHEAP_RATE_PER_S));
        for part in [
            "id=\"verdicts\"",
            "id=\"story\"",
            "class=\"topology\"",
            "class=\"lanes fault-lanes\"",
            "id=\"plot-rate\"",
            "id=\"plot-latency\"",
            "class=\"lanes rs-lanes\"",
        ] {
            assert!(p.html.contains(part), "{name}: the page has no {part}");
        }
        assert_eq!(
            p.html.matches("<tr class=\"verdict ").count(),
            p.outcome.verdicts.len(),
            "{name}: a verdict row per verdict"
        );
    }
}

/// The story of a page, in one string.
fn told(p: &Page) -> String {
    story::story(&p.outcome)
        .iter()
        .map(|para| para.sentences.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).expect("short runs")
}

/// The time of the first event of the log `pick` accepts.
fn first(log: &Log, pick: impl Fn(&EventKind, &str) -> bool) -> u64 {
    let e = log
        .iter()
        .find(|e| pick(&e.kind, &e.host))
        .expect("the event is in the log");
    ms(e.at)
}

fn after(from: u64, to: u64) -> String {
    span(Duration::from_millis(to - from))
}

fn at(t: u64) -> String {
    clock(Duration::from_millis(t))
}

/// The text report's failure windows, as their closing lines give them: ("98 of 340",
/// "5.65s") from "98 of 340 requests failed over 5.65s".
fn failure_windows(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once("closes: "))
        .map(|(_, rest)| {
            let (counts, rest) = rest.split_once(" requests failed over ").expect("counts");
            let length = rest.split_once(' ').expect("a length").0;
            (counts.to_string(), length.to_string())
        })
        .collect()
}

/// Asserts the story tells every failure window with the text report's figures.
fn tells_failure_windows(p: &Page, story: &str) {
    let windows = failure_windows(&p.text);
    assert!(!windows.is_empty(), "the text report has a failure window");
    for (counts, length) in windows {
        let told = format!("({length}): {counts} requests failed");
        assert!(story.contains(&told), "no {told:?} in:\n{story}");
    }
}

/// Proves node-loss's story has the log's figures: the crash, the balancer taking node-2
/// out (when, and how long after the crash), the users' failure window as the text
/// report counts it, and node-2 put back after its restart.
#[test]
fn node_loss_story_has_the_logs_figures() {
    let p = page("node-loss.toml");
    let story = told(&p);
    let crashed = first(
        &p.log,
        |k, _| matches!(k, EventKind::Crashed { node, .. } if node == "node-2"),
    );
    let down = first(
        &p.log,
        |k, _| matches!(k, EventKind::Check { backend, effect: CheckEffect::WentDown { .. }, .. } if backend == "node-2"),
    );
    let restarted = first(&p.log, |k, _| matches!(k, EventKind::Restarted { .. }));
    let up = first(
        &p.log,
        |k, _| matches!(k, EventKind::Check { backend, effect: CheckEffect::WentUp { .. }, .. } if backend == "node-2"),
    );
    assert!(story.contains("node-2 crashed"), "{story}");
    let noticed = format!(
        "took node-2 out of rotation at {}, {} after the step",
        at(down),
        after(crashed, down)
    );
    assert!(story.contains(&noticed), "no {noticed:?} in:\n{story}");
    let back = format!(
        "back into rotation at {}, {} after the step",
        at(up),
        after(restarted, up)
    );
    assert!(story.contains(&back), "no {back:?} in:\n{story}");
    tells_failure_windows(&p, &story);
    assert!(story.contains(&format!(
        "{} of {} requests succeeded",
        p.outcome.totals.ok, p.outcome.totals.sent
    )));
}

/// Proves primary-loss's story has the log's figures: the primary lost, the election
/// (term, time, delay since the loss) and the failure window.
#[test]
fn primary_loss_story_has_the_logs_figures() {
    let p = page("primary-loss.toml");
    let story = told(&p);
    let lost = first(&p.log, |k, _| matches!(k, EventKind::PrimaryLost { .. }));
    let (elected, winner, term) = p
        .log
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ReplicaSet(RsEvent::Elected { term, .. }) => {
                Some((ms(e.at), e.host.clone(), *term))
            }
            _ => None,
        })
        .expect("an election");
    assert!(
        story.contains("lost the replica set's primary, node-1 of term 1"),
        "{story}"
    );
    let told_election = format!(
        "{winner} was elected primary for term {term} at {}",
        at(elected)
    );
    assert!(
        story.contains(&told_election),
        "no {told_election:?} in:\n{story}"
    );
    let delay = format!("{} after the primary was lost", after(lost, elected));
    assert!(story.contains(&delay), "no {delay:?} in:\n{story}");
    tells_failure_windows(&p, &story);
}

/// Proves partition-minority's story has the log's figures: the partition, the old
/// primary's step-down, the election, the rollback (entries as the log counts them) and
/// when the set was healthy again.
#[test]
fn partition_minority_story_has_the_logs_figures() {
    let p = page("partition-minority.toml");
    let story = told(&p);
    let (host, entries) = p
        .log
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ReplicaSet(RsEvent::RolledBack { entries, .. }) => {
                Some((e.host.clone(), *entries))
            }
            _ => None,
        })
        .expect("a rollback");
    let healed = first(&p.log, |k, _| {
        matches!(
            k,
            EventKind::Network(harness::events::NetworkChange::Healed)
        )
    });
    let converged = first(&p.log, |k, _| matches!(k, EventKind::Converged));
    assert!(
        story.contains("partition (drop: silence): node-1 | node-2, node-3"),
        "{story}"
    );
    assert!(
        story.contains("node-1 stepped down as primary of term 1"),
        "{story}"
    );
    assert!(story.contains("was elected primary for term 2"), "{story}");
    assert!(
        story.contains(&format!("{host} rolled back {entries} entries")),
        "{story}"
    );
    let healthy = format!(
        "healthy again at {} (one primary, followed by every member up), {} after the step",
        at(converged),
        after(healed, converged)
    );
    assert!(story.contains(&healthy), "no {healthy:?} in:\n{story}");
    tells_failure_windows(&p, &story);
}

/// Proves bad input is refused before the run: `--html` into a folder that does not
/// exist exits 2 with one error line naming the option and the path, and writes nothing.
#[test]
fn html_into_a_missing_folder_is_refused() {
    let dir = tempdir("missing");
    let target = dir.join("no-such-folder").join("page.html");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("run")
        .arg(scenario_path("node-loss.toml"))
        .arg("--html")
        .arg(&target)
        .output()
        .expect("the harness runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = format!(
        "error: --html: {}: no such folder {}\n",
        target.display(),
        dir.join("no-such-folder").display()
    );
    assert_eq!(stderr, expected);
    assert!(out.stdout.is_empty(), "nothing printed on stdout");
    assert!(!target.exists());
}

/// Debian's chromium; failing (not skipping) when it is missing.
fn chromium() -> PathBuf {
    let path = Path::new("/usr/bin/chromium");
    assert!(
        path.exists(),
        "chromium is not installed: run the tests with tools/test, which installs it"
    );
    path.to_path_buf()
}

/// How long one headless chromium run may take; it takes a few seconds.
const CHROMIUM_WITHIN: Duration = Duration::from_secs(120);
/// How long after [`CHROMIUM_WITHIN`]'s SIGTERM a chromium still running is killed.
const CHROMIUM_KILL_AFTER: Duration = Duration::from_secs(10);

/// Runs headless chromium on `page` with `args`; its stdout, and every console message
/// its log (stderr) carries.
fn browse(page: &Path, args: &[&str]) -> (String, Vec<String>) {
    let profile = tempdir(&format!(
        "profile-{}",
        page.file_stem().expect("a name").to_string_lossy()
    ));
    // Under coreutils' `timeout`, so that a chromium that stalls fails this test after
    // CHROMIUM_WITHIN (exit 124, or SIGKILL if still running CHROMIUM_KILL_AFTER later)
    // instead of hanging the suite.
    let out = Command::new("timeout")
        .args([
            format!("--kill-after={}s", CHROMIUM_KILL_AFTER.as_secs()),
            format!("{}s", CHROMIUM_WITHIN.as_secs()),
        ])
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed ({}; 124: still running after {CHROMIUM_WITHIN:?}): {stderr}",
        out.status
    );
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// A fresh directory under the test build's temporary directory (under target/).
fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("html")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the target directory is writable");
    dir
}

/// Proves the console check can fail: a page that logs to the console is caught.
#[test]
fn chromium_console_messages_are_caught() {
    let dir = tempdir("console");
    let bad = dir.join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><p>x</p><script>console.error('caught')</script>",
    )
    .expect("writable");
    let (_, console) = browse(&bad, &["--dump-dom"]);
    assert!(
        console.iter().any(|l| l.contains("caught")),
        "the console message was not seen: {console:?}"
    );
}

/// Renders `name`'s page in chromium: no console message, a PNG, and the DOM holds
/// each of `elements` (a class or id attribute, with how many at least).
fn in_browser(name: &str, elements: &[(&str, usize)]) {
    let p = page(&format!("{name}.toml"));
    let dir = tempdir(name);
    let file = dir.join(format!("{name}.html"));
    std::fs::write(&file, &p.html).expect("writable");
    let png = dir.join(format!("{name}.png"));
    let (_, console) = browse(
        &file,
        &[
            "--hide-scrollbars",
            "--window-size=1000,4400",
            &format!("--screenshot={}", png.display()),
        ],
    );
    assert!(console.is_empty(), "{name}: console messages: {console:?}");
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 50_000,
        "{name}: the screenshot is no picture ({} bytes)",
        bytes.len()
    );
    let (dom, console) = browse(&file, &["--dump-dom"]);
    assert!(console.is_empty(), "{name}: console messages: {console:?}");
    for (element, at_least) in elements {
        let found = dom.matches(element).count();
        assert!(
            found >= *at_least,
            "{name}: {element} {found} times in the DOM, not {at_least}"
        );
    }
}

/// The elements every page shows in the browser: the header, the lanes (a row per node
/// at least), the legends, the plots, the story and the tables.
const COMMON: &[(&str, usize)] = &[
    ("id=\"verdicts\"", 1),
    ("id=\"story\"", 1),
    ("class=\"topology\"", 1),
    ("class=\"lanes fault-lanes\"", 1),
    ("class=\"lane\"", 9),
    ("class=\"legend\"", 6),
    ("id=\"plot-rate\"", 1),
    ("id=\"plot-latency\"", 1),
    ("id=\"plot-per-node\"", 1),
    ("class=\"lanes lb-lanes\"", 1),
    ("class=\"lanes rs-lanes\"", 1),
    ("class=\"windows-table\"", 1),
];

/// Proves node-loss's page renders in a real browser with its crash shaded on node-2's
/// lane and across the plots, and the balancer's DOWN and UP marks.
#[test]
fn node_loss_in_chromium() {
    let mut elements = COMMON.to_vec();
    elements.extend([
        ("class=\"shade crash\"", 1),
        ("class=\"swatch shade crash\"", 1),
        ("class=\"mark down\"", 1),
        ("class=\"mark up\"", 1),
        ("class=\"rotation out\"", 1),
    ]);
    in_browser("node-loss", &elements);
}

/// Proves partition-minority's page renders in a real browser with the partition shaded
/// on the three nodes' lanes, the cut links on the topology, the election and rollback.
#[test]
fn partition_minority_in_chromium() {
    let mut elements = COMMON.to_vec();
    elements.extend([
        ("class=\"shade partition\"", 3),
        ("class=\"cut partition\"", 2),
        ("class=\"mark elected\"", 1),
        ("class=\"mark rolled-back\"", 1),
        ("class=\"mark stepped-down\"", 1),
    ]);
    in_browser("partition-minority", &elements);
}

/// Runs the harness with `args`; its exit code, stdout and stderr.
fn harness(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("the harness runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Proves `harness sweep --html` writes a page that counts what the printed summary
/// counts (one square per seed, by status; every verdict row), that a merge of two shards
/// writes the same bytes as the whole sweep, and that a real browser renders it with no
/// console message.
#[test]
fn sweep_page_counts_the_seeds_and_merges_to_the_same_bytes() {
    let dir = tempdir("sweep");
    let tiny = fixture("sweep-tiny.toml");
    let whole = dir.join("whole.html");
    let (code, summary, stderr) = harness(&[
        "sweep".as_ref(),
        tiny.as_os_str(),
        "--seeds=1..6".as_ref(),
        "--jobs=2".as_ref(),
        "--html".as_ref(),
        whole.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let page = std::fs::read_to_string(&whole).expect("the page is written");
    assert_eq!(page.matches("<rect class=\"square seed ").count(), 6);
    assert!(page.contains("6 of 6 seeds passed, 0 failed"));
    // failover_max is vacuous on a seed that loses no primary: the summary counts those.
    let unpassed = summary
        .lines()
        .find_map(|l| l.strip_prefix("result: PASS (6 of 6 seeds passed, 0 failed; "))
        .and_then(|rest| rest.split(' ').next())
        .map_or(0, |n| n.parse::<usize>().expect("a count"));
    assert_eq!(
        page.matches("<rect class=\"square seed unpassed\"").count(),
        unpassed
    );
    assert_eq!(
        page.matches("<rect class=\"square seed pass\"").count(),
        6 - unpassed
    );
    let verdict_rows = summary
        .lines()
        .skip_while(|l| !l.starts_with("verdicts, seeds by status"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .count();
    assert!(verdict_rows >= 5, "{summary}");
    assert_eq!(page.matches("class=\"verdict-row\"").count(), verdict_rows);
    for k in 1..=2 {
        let (code, _, stderr) = harness(&[
            "sweep".as_ref(),
            tiny.as_os_str(),
            "--seeds=1..6".as_ref(),
            format!("--shard={k}/2").as_ref(),
            "--out".as_ref(),
            dir.join(format!("shard-{k}")).as_os_str(),
        ]);
        assert_eq!(code, Some(0), "{stderr}");
    }
    let merged = dir.join("merged.html");
    let (code, _, stderr) = harness(&[
        "merge".as_ref(),
        dir.join("shard-1").as_os_str(),
        dir.join("shard-2").as_os_str(),
        "--html".as_ref(),
        merged.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(std::fs::read_to_string(&merged).expect("written"), page);
    let (dom, console) = browse(&whole, &["--dump-dom"]);
    assert!(console.is_empty(), "console messages: {console:?}");
    for element in [
        "id=\"seeds\"",
        "class=\"seed-grid\"",
        "id=\"figures\"",
        "id=\"summary\"",
    ] {
        assert!(dom.contains(element), "no {element} in the DOM");
    }
}

/// Proves a failing sweep's page shows its failing seeds as such, grouped by the verdict
/// that failed with each seed's reproduce command, and the result FAIL.
#[test]
fn sweep_page_shows_failing_seeds_and_their_commands() {
    let dir = tempdir("sweep-failing");
    let page = dir.join("page.html");
    let (code, summary, stderr) = harness(&[
        "sweep".as_ref(),
        fixture("sweep-too-tight.toml").as_os_str(),
        "--seeds=1..3".as_ref(),
        "--html".as_ref(),
        page.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    let page = std::fs::read_to_string(&page).expect("written");
    assert_eq!(page.matches("<rect class=\"square seed fail\"").count(), 3);
    assert!(page.contains("<title>seed 2: FAIL: failover_max</title>"));
    assert!(page.contains("<h3>failover_max (3 seeds)</h3>"));
    let command = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("seed 3: "))
        .expect("the summary lists seed 3's command");
    let escaped = command.replace('/', "&#x2f;");
    assert!(
        page.contains(&format!("<code>{escaped}</code>")),
        "{command}"
    );
    assert!(
        page.contains("<title>sweep of "),
        "the title names the sweep"
    );
    assert!(page.contains("FAIL</title>"));
}

/// Proves `sweep --html` into a missing folder is refused before any seed runs: exit 2,
/// one error line naming the option and the path, nothing on stdout.
#[test]
fn sweep_html_into_a_missing_folder_is_refused() {
    let dir = tempdir("sweep-missing");
    let target = dir.join("no-such-folder").join("page.html");
    let (code, stdout, stderr) = harness(&[
        "sweep".as_ref(),
        fixture("sweep-tiny.toml").as_os_str(),
        "--seeds=1..200".as_ref(),
        "--html".as_ref(),
        target.as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: --html: {}: no such folder {}\n",
            target.display(),
            dir.join("no-such-folder").display()
        )
    );
    assert!(stdout.is_empty());
}

/// The shaded windows of class `shade` on the fault timeline of `html`, as (lane, tooltip,
/// text drawn inside) read back from its SVG: each rect's lane is the row whose top is
/// 4px above it.
fn fault_shades(html: &str, shade: &str) -> Vec<(String, String, String)> {
    let start = html
        .find("class=\"lanes fault-lanes\"")
        .expect("a fault timeline");
    let svg = &html[start..start + html[start..].find("</svg>").expect("closed")];
    let between = |s: &str, a: &str, b: &str| -> String {
        let from = s.find(a).expect("opening") + a.len();
        s[from..from + s[from..].find(b).expect("closing")].to_string()
    };
    let rows: Vec<(u32, String)> = svg
        .split("<text class=\"lane-name\"")
        .skip(1)
        .map(|r| {
            let y: u32 = between(r, "y=\"", "\"").parse().expect("a row's y");
            (y - 19, between(r, ">", "</text>"))
        })
        .collect();
    svg.split(&format!("<g class=\"shade {shade}\">"))
        .skip(1)
        .map(|g| {
            let g = &g[..g.find("</g>").expect("closed group")];
            let y: f64 = between(g, " y=\"", "\"").parse().expect("a rect's y");
            let lane = rows
                .iter()
                .find(|(top, _)| f64::from(top + 4) == y)
                .map(|(_, name)| name.clone())
                .expect("the rect sits on a lane");
            let text = if g.contains("<text") {
                between(&g[g.find("<text").expect("text")..], ">", "</text>")
            } else {
                String::new()
            };
            (lane, between(g, "<title>", "</title>"), text)
        })
        .collect()
}

/// Asserts `html`'s fault legend names `shade` and its window list holds `item`.
fn lists_window(html: &str, shade: &str, item: &str) {
    let legend = &html[html.find("id=\"fault-legend\"").expect("a fault legend")..];
    let legend = &legend[..legend.find("</ul>").expect("closed")];
    assert!(
        legend.contains(&format!("class=\"swatch shade {shade}\"")),
        "no {shade} swatch in the fault legend: {legend}"
    );
    assert!(
        html.contains(&format!("<li class=\"{shade}\">{item}")),
        "no window {item:?} of class {shade} listed"
    );
    assert!(
        html.contains(&format!(".{shade} rect")),
        "the page's style has no colour for {shade}"
    );
}

/// Proves pause-primary's page shades node-1's pause, from the pause at 0:30 to the
/// resume at 0:50, on node-1's lane only, with its label, legend entry and colour.
#[test]
fn pause_primary_shades_the_paused_node() {
    let html = page("pause-primary.toml").html;
    let shades = fault_shades(&html, "pause");
    assert_eq!(shades.len(), 1, "one pause window: {shades:?}");
    let (lane, title, text) = &shades[0];
    assert_eq!(lane, "node-1");
    assert!(title.starts_with("node-1 paused (SIGSTOP"), "{title}");
    assert_eq!(text, "paused");
    lists_window(&html, "pause", "0:30–0:50: node-1 paused");
}

/// Proves replication-loss's page shades the impaired links on the lanes of the three
/// nodes at their ends, labelled with the loss set, from 0:30 until they are restored at
/// 1:10, and no other host's lane.
#[test]
fn replication_loss_shades_the_impaired_links() {
    let html = page("replication-loss.toml").html;
    let shades = fault_shades(&html, "link");
    let lanes: Vec<&str> = shades.iter().map(|(l, ..)| l.as_str()).collect();
    assert_eq!(lanes, ["node-1", "node-2", "node-3"], "{shades:?}");
    for (_, title, text) in &shades {
        assert!(
            title.starts_with("links among node-1, node-2, node-3 impaired: 20% loss"),
            "{title}"
        );
        assert_eq!(text, "20% loss");
    }
    lists_window(
        &html,
        "link",
        "0:30–1:10: links among node-1, node-2, node-3 impaired: 20% loss",
    );
}

/// Proves lb-drain's page shades the drain on the drained node-2's lane from 0:20 to its
/// return at 0:50, and dns-servfail's the SERVFAIL answers on the dns host's lane.
#[test]
fn service_faults_are_shaded_on_their_hosts_lanes() {
    let html = page("lb-drain.toml").html;
    let shades = fault_shades(&html, "service");
    assert_eq!(shades.len(), 1, "one drain window: {shades:?}");
    let (lane, title, text) = &shades[0];
    assert_eq!(lane, "node-2");
    assert!(
        title.starts_with("operator drains node-2 on the lb"),
        "{title}"
    );
    assert_eq!(text, "drained");
    lists_window(&html, "service", "0:20–0:50: operator drains node-2");

    let html = render("dns-servfail.toml", Some(CHEAP_RATE_PER_S)).html;
    let shades = fault_shades(&html, "service");
    assert_eq!(shades.len(), 1, "one dns window: {shades:?}");
    let (lane, title, text) = &shades[0];
    assert_eq!(lane, "dns");
    assert!(
        title.starts_with("dns answers SERVFAIL to every query"),
        "{title}"
    );
    assert_eq!(text, "dns servfail");
    lists_window(&html, "service", "0:20–0:50: dns answers SERVFAIL");
}

/// Proves a page with none of issue 18's faults carries none of their style or legend
/// (its bytes stay those it had before they were drawn): node-loss's.
#[test]
fn pages_without_step_faults_carry_no_step_style() {
    let html = page("node-loss.toml").html;
    assert!(html.contains(html::STYLE), "the page's style sheet");
    assert!(
        !html.contains(html::STEP_STYLE),
        "node-loss has no step fault"
    );
    assert!(!html.contains("swatch pin setting"));
}

/// Proves pause-primary's page renders in a real browser with the pause shaded on
/// node-1's lane and in the legend.
#[test]
fn pause_primary_in_chromium() {
    let mut elements = COMMON.to_vec();
    elements.extend([
        ("class=\"shade pause\"", 1),
        ("class=\"swatch shade pause\"", 1),
    ]);
    in_browser("pause-primary", &elements);
}

/// Proves slow-secondary's page shades node-2's slowing on its lane with the factor, and
/// egress-exception-withdrawn's marks its rule changes as settings, with their legend
/// entry (both at the cheap rate: the drawing does not depend on it).
#[test]
fn slowing_is_shaded_and_rule_changes_are_marked() {
    let html = render("slow-secondary.toml", Some(CHEAP_RATE_PER_S)).html;
    let shades = fault_shades(&html, "slow");
    assert_eq!(shades.len(), 1, "one slow window: {shades:?}");
    let (lane, title, text) = &shades[0];
    assert_eq!(lane, "node-2");
    assert_eq!(title, "node-2 slowed: service times x50");
    assert_eq!(text, "slow x50");
    lists_window(&html, "slow", "");

    let html = render("egress-exception-withdrawn.toml", Some(CHEAP_RATE_PER_S)).html;
    assert!(
        html.contains(
            "<g class=\"mark setting\"><title>the nodes&#x27; exception at the egress withdrawn"
        ),
        "no setting mark for the withdrawn exception"
    );
    assert!(html.contains("<span class=\"swatch pin setting\"></span>"));
    assert!(html.contains(".setting line"), "the setting mark's colour");
}
