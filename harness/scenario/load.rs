//! Loading a scenario file with errors that point at the file, line, column and key.
//!
//! Four passes, each of which can fail with one [`ScenarioError`]:
//! 1. TOML syntax (toml_edit, which keeps the position of every key and value), then
//!    `format_version`: a file without it, or of another version than
//!    [`FORMAT_VERSION`], is refused before its keys are read;
//! 2. the shape of the document (serde with `deny_unknown_fields`; serde_path_to_error
//!    names the key, toml gives the position);
//! 3. meaning: bounds, node names, step order, times within the run. These checks name a
//!    key path, and the position is looked up in the parsed document;
//! 4. the certificate files `[topology.tls]` names ([`crate::topology::certs`]), relative to the
//!    scenario file, their errors placed at the setting that names the file.
//!
//! The file is read first, bounded: a regular file of at most [`MAX_SCENARIO_BYTES`]
//! ([`read`]), and decoded as UTF-8 with the position of the first invalid byte
//! ([`decode`]); every file a scenario names is read the same way ([`crate::files::read_bounded`]).
//!
//! The loader stops at the first error: a scenario file is short, and one precise error is
//! easier to act on than a cascade.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_path_to_error::Segment;
use toml_edit::{ImDocument, Item};

use super::invalid::{Invalid, Seg, key};
use super::spec::{
    Action, Expectations, FORMAT_VERSION, NemesisSpec, Scenario, ScenarioSpec, Step,
};
use crate::files::{Refusal, read_bounded};
use crate::topology::{LoadSettings, Topology, TopologySpec};

/// The longest run a scenario may ask for.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The finest and the coarsest tick; a tick is also a whole number of milliseconds.
/// Finer, or between whole milliseconds: tokio's timers have a 1 ms resolution, so each
/// tick moves every host's clock and the network to the next whole millisecond while the
/// harness's clock moves one tick (at 100us, ten times slower than the run). Coarser: a
/// message is delivered a tick after it is sent at the earliest, so a 1 ms LAN hop takes a
/// tick, and the models slow below their verdicts: at 3 ms the mail queue of smtp-outage
/// no longer drains within `converge_within`, at 5 ms node-loss's falls behind the
/// signups (README, "Choosing a tick"; `tests/ticks.rs` runs every shipped scenario at
/// the coarsest tick).
pub const TICK_RANGE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(2));
/// The highest arrival rate: keeps in-flight requests (rate x timeout) bounded.
pub const MAX_RATE_PER_S: f64 = 2000.0;
/// The most arrivals one tick may carry on average. Each opens a connection to the
/// balancer, and the connections of one tick all reach it before it runs: turmoil's
/// accept queue holds 64, and refuses the connections beyond (vendor/README.md, patch 1),
/// which a real balancer, accepting as they come, would not. 16 leaves room for bursts (a
/// Poisson tick with mean 16 exceeds 40 with probability below 1e-7) and health checks.
/// The highest rate at the coarsest tick carries 4: the assertion below keeps it so, and
/// no scenario file can exceed it.
pub const MAX_ARRIVALS_PER_TICK: f64 = 16.0;
const _: () = assert!(MAX_RATE_PER_S * TICK_RANGE.1.as_secs_f64() <= MAX_ARRIVALS_PER_TICK);
/// The largest scenario file read (1 MiB): the shipped ones are under 5 KB. Reading stops
/// one byte past it.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// The longest request timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a scenario cannot run, and where in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: PathBuf,
    /// 1-based; 0 when the file could not be read at all.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// 0-based byte offset of the same position (0 when the file could not be read).
    pub offset: usize,
    /// The key path, such as `steps[1].crash.node`; empty for syntax errors.
    pub key: String,
    /// What is wrong and what was expected, on one line: what the error prints.
    pub message: String,
    /// The clause of `message` that says what was expected there, from its first
    /// `expected` outside quotes to the end (`expected a duration above 0s and at most
    /// 1h`); empty when the message has none.
    pub expected: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ScenarioError {
    /// A file that could not be read at all: no position.
    pub fn unreadable(path: &Path, message: String) -> Self {
        Self {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            offset: 0,
            key: String::new(),
            expected: expected_clause(&message).unwrap_or_default().to_string(),
            message,
        }
    }
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = read(path)?;
    parse(path, decode(path, &bytes)?)
}

/// The bytes of a scenario file: a regular file of at most [`MAX_SCENARIO_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>, ScenarioError> {
    let expected = format!(
        "expected a scenario file: a regular file of at most {MAX_SCENARIO_BYTES} bytes (1 MiB)"
    );
    let message = match read_bounded(path, MAX_SCENARIO_BYTES) {
        Ok(bytes) => return Ok(bytes),
        Err(Refusal::Io(e)) => format!("cannot read the scenario: {e}"),
        Err(Refusal::NotAFile(kind)) => format!("{} is {kind}; {expected}", path.display()),
        Err(Refusal::TooLarge) => format!(
            "{} is larger than {MAX_SCENARIO_BYTES} bytes; {expected}",
            path.display()
        ),
    };
    Err(ScenarioError::unreadable(path, message))
}

/// A scenario file's bytes as text: TOML files are UTF-8, and a file that is not is refused
/// at its first invalid byte (line, column and byte offset).
pub fn decode<'b>(path: &Path, bytes: &'b [u8]) -> Result<&'b str, ScenarioError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let valid = std::str::from_utf8(&bytes[..offset]).expect("valid up to the error");
        let (line, column) = position(valid, offset);
        let found = match e.error_len() {
            Some(_) => format!("byte 0x{:02X}, which is not UTF-8,", bytes[offset]),
            None => "the end of the file inside a UTF-8 sequence".to_string(),
        };
        let message = format!(
            "found {found} at byte offset {offset}; expected a UTF-8 file, as TOML requires (save it as UTF-8, not Latin-1 or UTF-16)"
        );
        ScenarioError {
            file: path.to_path_buf(),
            line,
            column,
            offset,
            key: String::new(),
            expected: expected_clause(&message).unwrap_or_default().to_string(),
            message,
        }
    })
}

/// Checks scenario text; `path` names the file in errors, and relative certificate paths
/// in `[topology.tls]` are read from its directory.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source::new(path, text)?;
    let spec: ScenarioSpec = source.deserialize()?;
    let mut scenario = source.check(spec)?;
    source.read_certificates(&mut scenario.topology)?;
    Ok(scenario)
}

/// A scenario file's text, parsed as TOML, for the passes that follow. `harness check`
/// runs the passes one by one (it reads topology-only files too, and judges what a run
/// would refuse); [`parse`] runs them all.
pub struct Source<'a> {
    path: &'a Path,
    text: &'a str,
    doc: ImDocument<&'a str>,
}

impl<'a> Source<'a> {
    /// Pass 1: TOML syntax, then the format's version ([`FORMAT_VERSION`]).
    pub fn new(path: &'a Path, text: &'a str) -> Result<Self, ScenarioError> {
        match ImDocument::parse(text) {
            Ok(doc) => {
                let source = Self { path, text, doc };
                source.format_version()?;
                Ok(source)
            }
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                let message = syntax_message(text, offset, &one_line(e.message()));
                Err(at(path, text, e.span(), String::new(), message))
            }
        }
    }

    /// `format_version = 1` at the top level, or an error at the key (at the top of the file
    /// when it is missing) saying what was found and what was expected.
    fn format_version(&self) -> Result<(), ScenarioError> {
        const KEY: &str = "format_version";
        let item = self.doc.as_table().get(KEY);
        let found = match item.and_then(Item::as_value) {
            Some(toml_edit::Value::Integer(v)) if *v.value() == FORMAT_VERSION => return Ok(()),
            Some(toml_edit::Value::Integer(v)) => format!(
                "found version {}; expected {FORMAT_VERSION}, the only version of the scenario format this harness reads (the file was written for another version of the harness)",
                v.value()
            ),
            Some(toml_edit::Value::String(s)) => format!(
                "found the string {:?}; expected the integer {FORMAT_VERSION}, without quotes (`{KEY} = {FORMAT_VERSION}`)",
                s.value()
            ),
            Some(v) => format!(
                "found {}; expected the integer {FORMAT_VERSION} (`{KEY} = {FORMAT_VERSION}`)",
                v.type_name()
            ),
            None if item.is_some() => format!(
                "found a table; expected the integer {FORMAT_VERSION} (`{KEY} = {FORMAT_VERSION}`)"
            ),
            None => format!(
                "missing; expected `{KEY} = {FORMAT_VERSION}` at the top of the file, before any [table] (the version of the scenario format; it has no default)"
            ),
        };
        let span = item.and_then(Item::span).or(Some(0..0));
        Err(at(self.path, self.text, span, KEY.to_string(), found))
    }

    /// The top-level keys of the document, in file order.
    pub fn root_keys(&self) -> Vec<String> {
        self.doc
            .as_table()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// Pass 2: the shape of the document, as `T` (a [`ScenarioSpec`], or any serde type
    /// whose keys follow the same layout).
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        serde_path_to_error::deserialize(toml::Deserializer::new(self.text)).map_err(|e| {
            let mut path = segments(e.path());
            let inner = e.into_inner();
            let message = shape_message(one_line(inner.message()), path.is_empty());
            // serde_path_to_error usually ends the path with the unknown key already; make
            // sure it does, so the key is always named. (A missing key's path is the table
            // that lacks it, and the message names the key.)
            if let Some(field) = unknown_field(&message)
                && path.last() != Some(&Seg::Key(field.clone()))
            {
                path.push(Seg::Key(field));
            }
            let span = inner.span().or_else(|| locate(&self.doc, &path));
            at(self.path, self.text, span, render(&path), message)
        })
    }

    /// Pass 3: meaning, all but the certificate files (see [`Source::read_certificates`]).
    pub fn check(&self, spec: ScenarioSpec) -> Result<Scenario, ScenarioError> {
        check(self.path, spec).map_err(|(path, message)| self.invalid(&path, message))
    }

    /// Pass 3 for a `[topology]` table alone.
    pub fn topology(&self, spec: &TopologySpec) -> Result<Topology, ScenarioError> {
        resolve_topology(spec).map_err(|(path, message)| self.invalid(&path, message))
    }

    /// Reads the certificate files `[topology.tls]` names into `topology.tls_material`;
    /// relative paths are relative to the scenario file's directory.
    pub fn read_certificates(&self, topology: &mut Topology) -> Result<(), ScenarioError> {
        let material = crate::topology::certs::load_files(&topology.tls, &self.base())
            .map_err(|e| self.error(&format!("topology.{}", e.key), e.message))?;
        topology.tls_material = material.map(std::sync::Arc::new);
        Ok(())
    }

    /// The directory relative paths in the file are read from.
    pub fn base(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// An error at a dotted key (`topology.egress.allow[1]`), placed at that key or, when
    /// the file does not hold it, at the nearest table that would.
    pub fn error(&self, dotted: &str, message: String) -> ScenarioError {
        self.invalid(&parse_key(dotted), message)
    }

    /// The 1-based line and column of a dotted key's value, when the file holds that key.
    pub fn position_of(&self, dotted: &str) -> Option<(usize, usize)> {
        let path = parse_key(dotted);
        let mut item: &Item = self.doc.as_item();
        for seg in &path {
            item = match seg {
                Seg::Key(k) => item.get(k.as_str())?,
                Seg::Index(i) => item.get(*i)?,
            };
        }
        locate(&self.doc, &path).map(|span| position(self.text, span.start))
    }

    fn invalid(&self, path: &[Seg], message: String) -> ScenarioError {
        at(
            self.path,
            self.text,
            locate(&self.doc, path),
            render(path),
            message,
        )
    }
}

fn at(
    path: &Path,
    text: &str,
    span: Option<Range<usize>>,
    key: String,
    message: String,
) -> ScenarioError {
    let offset = span.map_or(0, |s| s.start);
    let (line, column) = position(text, offset);
    ScenarioError {
        file: path.to_path_buf(),
        line,
        column,
        offset,
        key,
        expected: expected_clause(&message).unwrap_or_default().to_string(),
        message,
    }
}

/// The clause of a message that says what was expected: from the first word `expected`
/// outside a quoted value (`"..."` or `` `...` ``) to the end. Quotes are skipped so that a
/// value the file holds ("found \"expected x\"") is never taken for the loader's words;
/// when the quotes do not balance (a backtick the file wrote into a key), the first word
/// `expected` anywhere.
fn expected_clause(message: &str) -> Option<&str> {
    clause_from(message, true).or_else(|| clause_from(message, false))
}

/// [`expected_clause`], skipping quoted values or not.
fn clause_from(message: &str, skip_quoted: bool) -> Option<&str> {
    const WORD: &str = "expected ";
    let mut quote = None;
    let mut escaped = false;
    let mut previous = ' ';
    for (i, c) in message.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if skip_quoted && (c == '"' || c == '`') => quote = Some(c),
            None if (previous.is_whitespace() || previous == '(')
                && message[i..].starts_with(WORD) =>
            {
                return Some(&message[i..]);
            }
            None => {}
        }
        previous = c;
    }
    None
}

/// A dotted key with list indexes in brackets (`"egress.allow[1]"`) as a key path. A part
/// that is not `name[number]` is one key as written: the file's own key names (a host in
/// `topology.addresses`) may hold brackets and dots, and [`locate`] matches them whole.
fn parse_key(dotted: &str) -> Vec<Seg> {
    let mut path = Vec::new();
    for part in dotted.split('.') {
        let indexed = part
            .strip_suffix(']')
            .and_then(|p| p.split_once('['))
            .and_then(|(name, index)| Some((name, index.parse::<usize>().ok()?)));
        match indexed {
            Some((name, i)) => {
                path.push(Seg::Key(name.to_string()));
                path.push(Seg::Index(i));
            }
            None => path.push(Seg::Key(part.to_string())),
        }
    }
    path
}

/// A TOML syntax error's message, completed where the parser's own words fall short: it
/// has none at all for a bare CR, only "duplicate key" for a duplicate, and never names an
/// invisible character. Then the message says what is at `offset` and, when the parser
/// did not, what TOML expects there.
fn syntax_message(text: &str, offset: usize, parser: &str) -> String {
    let rest = text.get(offset..).unwrap_or_default();
    let (found, expected) = found_and_expected(rest, parser);
    let invisible = rest.chars().next().is_none_or(char::is_control);
    match (expected_clause(parser).is_some(), parser.is_empty()) {
        (true, _) if invisible => format!("found {found}: {parser}"),
        (true, _) => parser.to_string(),
        (false, true) => format!("found {found}; expected {expected}"),
        // The parser names the duplicate key itself; its first character says nothing more.
        (false, false) if parser.starts_with("duplicate key") && !invisible => {
            format!("{parser}; expected {expected}")
        }
        (false, false) => format!("{parser}: found {found}; expected {expected}"),
    }
}

/// What starts `rest` (the text from an error's position), and what TOML expects there.
fn found_and_expected(rest: &str, parser: &str) -> (String, &'static str) {
    match rest.chars().next() {
        None => (
            "the end of the file".to_string(),
            "the rest of the value or table header this line began",
        ),
        Some('\r') if !rest.starts_with("\r\n") => (
            "a carriage return (CR) not followed by a line feed".to_string(),
            "lines ending in LF or CR LF, and no CR elsewhere outside strings",
        ),
        Some(c) if c.is_control() => (
            format!("the control character U+{:04X}", u32::from(c)),
            "no control characters but tab outside strings, and inside strings only escaped (\\u0000)",
        ),
        Some(c) if parser.starts_with("duplicate key") => (
            format!("{c:?}"),
            "each key at most once in a table, and each [table] header once",
        ),
        Some(c) => (
            format!("{c:?}"),
            "TOML: a `key = value` line, a `[table]` header, a `# comment` or a blank line",
        ),
    }
}

/// Parser messages may span lines ("invalid array\nexpected `]`"); an error is one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// serde names an unknown key only in its message: "unknown field `x`, expected ...".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// serde names a missing key only in its message: "missing field `x`".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// What was expected, for the shape errors serde, toml and the standard library word
/// without it, by how their message starts.
const SHAPE_EXPECTED: &[(&str, &str)] = &[
    (
        "wanted string or table",
        "expected a string naming one of the key's values, as scenarios/node-loss.toml shows",
    ),
    (
        "wanted exactly 1 element",
        "expected a string naming one of the key's values, as scenarios/node-loss.toml shows",
    ),
    (
        "invalid IPv4 address syntax",
        "expected an IPv4 address such as \"10.0.1.25\"",
    ),
];

/// A shape error's message, with what was expected when serde's or toml's words lack it;
/// `top` when the error is about the top level of the file, not a table in it.
fn shape_message(message: String, top: bool) -> String {
    if expected_clause(&message).is_some() {
        return message;
    }
    if let Some(field) = missing_field(&message) {
        let place = if top {
            "at the top of the file"
        } else {
            "in this table"
        };
        return format!("{message}; expected `{field}` {place} (it has no default)");
    }
    match SHAPE_EXPECTED
        .iter()
        .find(|(start, _)| message.starts_with(start))
    {
        Some((_, expected)) => format!("{message}; {expected}"),
        None => message,
    }
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The span of the deepest part of `path` the document has (a missing key points at the
/// table that should hold it). A key the file writes with dots or brackets in its name
/// (`"a.b[1]" = 1`) is found as the rest of the path written out.
fn locate(doc: &ImDocument<&str>, path: &[Seg]) -> Option<Range<usize>> {
    let mut item: &Item = doc.as_item();
    let mut span = None;
    for (depth, seg) in path.iter().enumerate() {
        let rest = render(&path[depth..]);
        let (key, next) = match seg {
            Seg::Key(k) => match item.get(k.as_str()) {
                Some(next) => (Some(k.as_str()), Some(next)),
                None => (Some(rest.as_str()), item.get(rest.as_str())),
            },
            Seg::Index(i) => (None, item.get(*i)),
        };
        let Some(next) = next else { break };
        let key_span = match (key, item) {
            (Some(k), Item::Table(t)) => t.key(k).and_then(|k| k.span()),
            _ => None,
        };
        span = next.span().or(key_span).or(span);
        item = next;
        if key == Some(rest.as_str()) && path.len() > depth + 1 {
            break;
        }
    }
    span
}

/// 1-based line and character column of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn check(path: &Path, spec: ScenarioSpec) -> Result<Scenario, Invalid> {
    if spec.name.trim().is_empty() {
        return Err((key(&["name"]), "expected a non-empty name".to_string()));
    }
    if spec.duration.is_zero() || spec.duration > MAX_DURATION {
        return Err((
            key(&["duration"]),
            format!(
                "expected a duration above 0s and at most {}",
                crate::duration::span(MAX_DURATION)
            ),
        ));
    }
    let (fine, coarse) = TICK_RANGE;
    let whole_ms = spec.tick.subsec_nanos().is_multiple_of(1_000_000);
    if spec.tick < fine || spec.tick > coarse || !whole_ms {
        return Err((
            key(&["tick"]),
            format!(
                "expected a whole number of milliseconds from {} to {} \
                 (README, \"Choosing a tick\", says why)",
                crate::duration::span(fine),
                crate::duration::span(coarse)
            ),
        ));
    }
    check_load(&spec.load)?;
    let topology = resolve_topology(&spec.topology)?;
    let steps = super::steps::check(&spec, &topology)?;
    let update = super::update::check(&spec, &topology)?;
    if let Some(nemesis) = &spec.nemesis {
        super::nemesis::check(nemesis, &spec, &topology)?;
    }
    check_expectations(&spec.expect, &steps, spec.nemesis.as_ref())?;
    Ok(Scenario {
        path: path.to_path_buf(),
        name: spec.name,
        description: spec.description.trim().to_string(),
        seed: spec.seed,
        duration: spec.duration,
        tick: spec.tick,
        load: spec.load,
        topology,
        steps,
        nemesis: spec.nemesis,
        expect: spec.expect,
        update,
    })
}

/// The deployment a `[topology]` table describes, its errors under `topology.`.
fn resolve_topology(spec: &TopologySpec) -> Result<Topology, Invalid> {
    Topology::from_spec(spec).map_err(|e| {
        let mut path = key(&["topology"]);
        path.extend(parse_key(&e.key));
        (path, e.message)
    })
}

fn check_load(load: &LoadSettings) -> Result<(), Invalid> {
    if !(load.rate_per_s > 0.0 && load.rate_per_s <= MAX_RATE_PER_S) {
        return Err((
            key(&["load", "rate_per_s"]),
            format!("expected a rate above 0 and at most {MAX_RATE_PER_S} per second"),
        ));
    }
    for (name, share) in [
        ("signup_share", load.signup_share),
        ("userinfo_share", load.userinfo_share),
        ("social_share", load.social_share),
        ("dashboard_share", load.dashboard_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err((
                key(&["load", name]),
                "expected a share from 0 to 1".to_string(),
            ));
        }
    }
    if load.signup_share + load.userinfo_share + load.social_share + load.dashboard_share > 1.0 {
        return Err((
            key(&["load", "signup_share"]),
            "expected signup_share + userinfo_share + social_share + dashboard_share at most 1"
                .to_string(),
        ));
    }
    if !(0.0..=1.0).contains(&load.userinfo_share) {
        return Err((
            key(&["load", "userinfo_share"]),
            "expected a share from 0 to 1".to_string(),
        ));
    }
    if load.timeout.is_zero() || load.timeout > MAX_TIMEOUT {
        return Err((
            key(&["load", "timeout"]),
            "expected a timeout above 0s and at most 60s".to_string(),
        ));
    }
    Ok(())
}

fn check_expectations(
    expect: &Expectations,
    steps: &[Step],
    nemesis: Option<&NemesisSpec>,
) -> Result<(), Invalid> {
    if let Some(pct) = expect.availability_pct_min
        && !(0.0..=100.0).contains(&pct)
    {
        return Err((
            key(&["expect", "availability_pct_min"]),
            "expected a percentage from 0 to 100".to_string(),
        ));
    }
    for (name, bound) in [
        ("failure_window_max", expect.failure_window_max),
        ("failover_max", expect.failover_max),
        ("detection_max", expect.detection_max),
        ("recovery_max", expect.recovery_max),
    ] {
        if bound.is_some_and(|b| b > MAX_DURATION) {
            return Err((
                key(&["expect", name]),
                "expected a bound of at most 1h".to_string(),
            ));
        }
    }
    // Bounded above too: the judge adds the gap to a window's end.
    if expect
        .failure_gap
        .is_some_and(|g| g.is_zero() || g > MAX_DURATION)
    {
        return Err((
            key(&["expect", "failure_gap"]),
            "expected a gap above 0s and at most 1h".to_string(),
        ));
    }
    if expect
        .converge_within
        .is_some_and(|c| c.is_zero() || c > MAX_DURATION)
    {
        return Err((
            key(&["expect", "converge_within"]),
            "expected a bound above 0s and at most 1h".to_string(),
        ));
    }
    check_latency_expectations(expect)?;
    // A nemesis that may crash nodes may crash and restart them.
    let crashes = nemesis.is_some_and(super::nemesis::crashes);
    let has = |f: fn(&Action) -> bool| crashes || steps.iter().any(|s| f(&s.action));
    if expect.detection_max.is_some() && !has(|a| matches!(a, Action::Crash { .. })) {
        return Err((
            key(&["expect", "detection_max"]),
            "expected a crash step for it to measure".to_string(),
        ));
    }
    if expect.recovery_max.is_some() && !has(|a| matches!(a, Action::Restart { .. })) {
        return Err((
            key(&["expect", "recovery_max"]),
            "expected a restart step for it to measure".to_string(),
        ));
    }
    Ok(())
}

/// The most failed requests `failed_per_fault_max` may allow: more than an hour's run
/// at the highest rate sends, so a larger bound could only be a typo.
pub const FAILED_PER_FAULT_MAX: u64 = 1_000_000;

/// `p99_max` above 0s and at most 1h; `failed_per_fault_max` at most
/// [`FAILED_PER_FAULT_MAX`].
fn check_latency_expectations(expect: &Expectations) -> Result<(), Invalid> {
    if expect
        .p99_max
        .is_some_and(|p| p.is_zero() || p > MAX_DURATION)
    {
        return Err((
            key(&["expect", "p99_max"]),
            "expected a bound above 0s and at most 1h".to_string(),
        ));
    }
    if expect
        .failed_per_fault_max
        .is_some_and(|n| n > FAILED_PER_FAULT_MAX)
    {
        return Err((
            key(&["expect", "failed_per_fault_max"]),
            format!("expected a count from 0 to {FAILED_PER_FAULT_MAX}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"format_version = 1
name = "t"
seed = 1
duration = "60s"

[[steps]]
at = "10s"
crash = { node = "node-2" }

[[steps]]
at = "20s"
restart = { node = "node-2" }
"#;

    fn err(text: &str) -> ScenarioError {
        parse(Path::new("s.toml"), text).unwrap_err()
    }

    /// Proves a well-formed scenario loads with its defaults and ordered steps.
    #[test]
    fn loads_good() {
        let s = parse(Path::new("s.toml"), GOOD).unwrap();
        assert_eq!(s.topology.name, "ha-3");
        assert_eq!(s.tick, Duration::from_millis(1));
        assert_eq!(s.steps.len(), 2);
        assert_eq!(
            s.steps[0].action,
            Action::Crash {
                node: "node-2".into(),
                mode: crate::faults::CrashMode::PowerOff
            }
        );
    }

    /// Proves each kind of mistake is reported once, at its line and column, with its key.
    #[test]
    fn precise_errors() {
        let e = err(&GOOD.replace("seed = 1", "seed = 1\nsped = 2"));
        assert_eq!((e.line, e.column, e.key.as_str()), (4, 1, "sped"), "{e}");
        assert!(e.message.contains("unknown field `sped`"), "{e}");

        let e = err(&GOOD.replace("seed = 1", "seed = \"one\""));
        assert_eq!((e.line, e.column, e.key.as_str()), (3, 8, "seed"), "{e}");
        assert!(e.message.contains("expected u64"), "{e}");

        let e = err(&GOOD.replace("at = \"20s\"", "at = \"2m\""));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (11, 6, "steps[1].at"),
            "{e}"
        );
        assert!(e.message.contains("past the run's end"), "{e}");

        let e = err(&GOOD.replace(
            "crash = { node = \"node-2\" }",
            "crash = { node = \"node-9\" }",
        ));
        assert_eq!((e.line, e.key.as_str()), (8, "steps[0].crash.node"), "{e}");
        assert!(
            e.message.contains(
                "unknown host \"node-9\"; expected one of dns, lb, node-1, node-2, node-3, smtp"
            ),
            "{e}"
        );

        let e = err(&GOOD.replace("duration = \"60s\"", "duration = \"60 parsecs\""));
        assert_eq!((e.line, e.key.as_str()), (4, "duration"), "{e}");
        assert!(e.message.contains("expected a duration string"), "{e}");

        // An unclosed array is found where the input ends.
        let e = err("name = \"t\"\nseed = [1\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("expected `]`"), "{e}");
        assert_eq!(e.to_string().lines().count(), 1, "{e}");
    }

    /// Proves the expected clause is found after the problem, never inside a quoted value
    /// the file holds, and that the error carries it with the byte offset of its position.
    #[test]
    fn expected_clause_outside_quotes() {
        let clause = |m: &str| expected_clause(m).map(str::to_string);
        assert_eq!(
            clause("invalid type: string \"one\", expected u64").as_deref(),
            Some("expected u64")
        );
        assert_eq!(
            clause("unknown host \"expected \\\" x\"; expected one of a, b").as_deref(),
            Some("expected one of a, b")
        );
        assert_eq!(clause("field `expected x` is missing"), None);
        assert_eq!(clause("unexpected `x`"), None);
        assert_eq!(
            clause("expected a name").as_deref(),
            Some("expected a name")
        );

        let e = err(&GOOD.replace("seed = 1", "seed = \"one\""));
        assert_eq!(e.expected, "expected u64", "{e}");
        assert_eq!(
            e.offset,
            GOOD.find("seed").unwrap() + "seed = ".len(),
            "{e}"
        );
    }

    /// Proves a syntax error the TOML parser gives no words for (a bare carriage return,
    /// issue 12: `error: cr.toml:1:1: ` and nothing after it) still says what is wrong and
    /// what was expected, at the line and column of the offending byte.
    #[test]
    fn bare_cr_says_what_is_wrong() {
        for (text, line, column) in [
            ("\r", 1, 1),
            ("name = \"t\"\r", 1, 11),
            ("name = \"t\"\n\rseed = 1\n", 2, 1),
            ("name = \"t\" # note\rseed = 1\n", 1, 18),
        ] {
            let e = err(text);
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
            assert!(e.message.contains("carriage return"), "{text:?}: {e}");
            assert!(!e.expected.is_empty(), "{text:?}: {e}");
            assert_eq!(e.to_string().lines().count(), 1, "{e}");
        }
    }

    /// A file in the system's temporary directory holding `bytes`, unique to this test
    /// process.
    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("the temporary directory is writable");
        path
    }

    /// Proves a file that is not UTF-8 is refused at the line, column and byte offset of
    /// its first invalid byte, saying that the file must be UTF-8 (issue 12 item 5: it
    /// gave no position), by the loader and by `harness check` alike.
    #[test]
    fn invalid_utf8_has_a_position() {
        let mut bytes = b"name = \"t\"\n# caf\xc3\xa9 ".to_vec();
        bytes.extend_from_slice(b"\xff\xfe\nseed = 1\n");
        let path = temp_file("latin1.toml", &bytes);
        let loaded = load(&path).unwrap_err();
        let checked = crate::check::check_file(&path).unwrap_err();
        std::fs::remove_file(&path).expect("the file was just written");
        for e in [loaded, checked] {
            assert_eq!((e.line, e.column, e.offset), (2, 8, 19), "{e}");
            assert!(e.message.contains("0xFF"), "{e}");
            assert!(e.expected.contains("UTF-8"), "{e}");
        }
    }

    /// Proves a topology key whose name holds brackets or dots (an address or a priority
    /// for a host that does not exist) is an error at its line, not a panic (found by
    /// tests/loader_fuzz.rs: "keys are written with numeric indexes").
    #[test]
    fn odd_key_names_are_errors() {
        for (table, name, line) in [
            ("addresses", "\"node[x\" = [\"10.0.1.99\"]", 15),
            ("addresses", "\"node-9[1]\" = [\"10.0.1.99\"]", 15),
            ("replica_set.priority", "\"a.b[c]\" = 1", 15),
            ("replica_set.priority", "\"x]\" = 1", 15),
        ] {
            let text = format!("{GOOD}\n[topology.{table}]\n{name}\n");
            let e = err(&text);
            assert_eq!(e.line, line, "{name}: {e}");
            assert!(e.key.starts_with(&format!("topology.{table}")), "{e}");
            assert!(e.message.contains("unknown"), "{e}");
        }
    }

    /// Proves the expected clause is found in a message whose quotes do not balance: a
    /// backtick the file wrote into a variant or a key (found by tests/loader_fuzz.rs:
    /// "unknown variant ``rocess`, expected ..." had no clause).
    #[test]
    fn expected_clause_with_unbalanced_quotes() {
        let e = err(&GOOD.replace(
            "\"node-2\" }\n\n[[steps]]",
            "\"node-2\", mode = \"`rocess\" }\n\n[[steps]]",
        ));
        assert_eq!(e.expected, "expected `power-off` or `process`", "{e}");
        let e = err(&GOOD.replace("seed = 1", "se`ed = 1"));
        assert!(e.expected.starts_with("expected "), "{e}");
        let e = err(&GOOD.replace("seed = 1", "seed = \"1"));
        assert!(e.expected.starts_with("expected "), "{e}");
    }

    /// Proves the shape errors serde and toml word without an expectation say what was
    /// expected: a missing key (at the table that lacks it, which the key names), a value
    /// that should name a variant, an address that does not parse (found by
    /// tests/loader_fuzz.rs).
    #[test]
    fn shape_errors_say_what_was_expected() {
        let crash = "crash = { node = \"node-2\" }";
        let cases = [
            (GOOD.replace("at = \"10s\"\n", ""), "steps[0]", 6),
            (GOOD.replace("name = \"t\"\n", ""), "", 1),
            (
                GOOD.replace(crash, "crash = { node = \"node-2\", mode = 5 }"),
                "steps[0].crash.mode",
                8,
            ),
            (
                GOOD.replace(crash, "crash = { node = \"node-2\", mode = {} }"),
                "steps[0].crash.mode",
                8,
            ),
            (
                format!("{GOOD}[topology.dev]\nsmtp_relay = \"10.0.1\"\n"),
                "topology.dev.smtp_relay",
                14,
            ),
        ];
        for (text, key, line) in cases {
            let e = err(&text);
            assert_eq!((e.key.as_str(), e.line), (key, line), "{e}");
            assert!(e.expected.starts_with("expected "), "{e}");
        }
    }

    /// Proves every error about the meaning of steps and addresses says what was expected,
    /// not only what is wrong (found by tests/loader_fuzz.rs: "no partition to heal at that
    /// time").
    #[test]
    fn meaning_errors_say_what_was_expected() {
        let step = |s: &str| format!("{GOOD}\n[[steps]]\nat = \"30s\"\n{s}\n");
        let block =
            "block = { id = \"db\", from = [\"node-1\"], to = [\"node-2\"], action = \"drop\" }";
        let cases = [
            (step("heal = {}"), "steps[2].heal"),
            (GOOD.replace("restart = {", "crash = {"), "steps[1].crash"),
            (
                step(&format!("{block}\n\n[[steps]]\nat = \"40s\"\n{block}")),
                "steps[3].block",
            ),
            (
                step("clock = { node = \"node-1\", offset = \"1s\", period = \"1s\" }"),
                "steps[2].clock.period",
            ),
            (
                format!("{GOOD}\n[topology.addresses]\nnode-2 = [\"10.0.1.11\"]\n"),
                "topology.addresses.node-2",
            ),
        ];
        for (text, key) in cases {
            let e = err(&text);
            assert_eq!(e.key, key, "{e}");
            assert!(e.expected.starts_with("expected "), "{e}");
        }
    }

    /// Proves every error about a certificate, key or trust file says what was expected:
    /// a file that is not there, a wrong PFX password, a certificate that is not X.509, a
    /// key that does not decode (found by tests/loader_fuzz.rs on the check fixtures).
    #[test]
    fn certificate_errors_say_what_was_expected() {
        let certs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certs");
        let at = |name: &str| format!("{:?}", certs.join(name).display().to_string());
        let pem = |kind: &str| format!("-----BEGIN {kind}-----\nAAAA\n-----END {kind}-----\n");
        let not_x509 = temp_file("not-x509.pem", pem("CERTIFICATE").as_bytes());
        let not_a_key = temp_file("not-a-key.key", pem("RSA PRIVATE KEY").as_bytes());
        let quoted = |p: &Path| format!("{:?}", p.display().to_string());
        let tls = |certificate: String, second: String| {
            format!(
                "{GOOD}\n[topology.tls]\ncertificate = {certificate}\n{second}\ntrust = {}\n",
                at("trust.pem")
            )
        };
        let cases = [
            (
                tls(at("none.pem"), format!("key = {}", at("good.key"))),
                "topology.tls.certificate",
            ),
            (
                tls(at("good.pfx"), "password = \"wrong\"".to_string()),
                "topology.tls.password",
            ),
            (
                tls(quoted(&not_x509), format!("key = {}", at("good.key"))),
                "topology.tls.certificate",
            ),
            (
                tls(at("good.pem"), format!("key = {}", quoted(&not_a_key))),
                "topology.tls.key",
            ),
        ];
        for (text, key) in cases {
            let e = err(&text);
            assert_eq!(e.key, key, "{e}");
            assert!(e.expected.starts_with("expected "), "{e}");
        }
        std::fs::remove_file(not_x509).expect("written above");
        std::fs::remove_file(not_a_key).expect("written above");
    }

    /// Proves the steps a file expands to are bounded in all: ten strobes of 10,000 steps
    /// each (9,999 flips and the return) load, and an eleventh (every one within its own
    /// bounds) is refused at the one that passes the bound. Without it, a 1 MiB file of
    /// strobes expands to about 126 million steps: 200 strobes already take 447 MB to load.
    #[test]
    fn steps_are_bounded_in_all() {
        let strobe = "[[steps]]\nat = \"0s\"\nclock = { node = \"dns\", strobe = [\"0s\", \"1s\"], period = \"100ms\", for = \"999900ms\" }\n";
        let head = "format_version = 1\nname = \"bomb\"\nseed = 1\nduration = \"1h\"\n";
        let ten = format!("{head}{}", strobe.repeat(10));
        let loaded = parse(Path::new("s.toml"), &ten).expect("within the bound");
        assert_eq!(loaded.steps.len(), super::super::steps::MAX_STEPS);
        let eleven = parse(Path::new("s.toml"), &format!("{ten}{strobe}"));
        let e = eleven.map_or_else(|e| e, |s| panic!("{} steps loaded", s.steps.len()));
        assert_eq!((e.key.as_str(), e.line), ("steps[10].clock.for", 37), "{e}");
        assert!(e.message.contains("100000"), "{e}");
        assert!(e.expected.starts_with("expected "), "{e}");
    }

    /// Proves the step sequence is checked: no restart of a node that is up.
    #[test]
    fn sequence_errors() {
        let e = err(&GOOD.replace("at = \"10s\"", "at = \"30s\""));
        assert_eq!(e.key, "steps[1].restart", "{e}");
        assert!(e.message.contains("not down"), "{e}");
    }

    /// Proves a file without `format_version` is refused at the top of the file, naming
    /// the key and the line it must add.
    #[test]
    fn format_version_missing() {
        let e = err(&GOOD.replace("format_version = 1\n", "\n"));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (1, 1, "format_version"),
            "{e}"
        );
        assert!(
            e.message
                .starts_with("missing; expected `format_version = 1`"),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!("s.toml:1:1: format_version: {}", e.message)
        );
    }

    /// Proves a file of another version (2, 0) or with the version as a string ("1") is
    /// refused at the value, saying what was found and that 1 is expected.
    #[test]
    fn format_version_other_values() {
        let cases = [
            ("2", "found version 2; expected 1,"),
            ("0", "found version 0; expected 1,"),
            (
                "\"1\"",
                "found the string \"1\"; expected the integer 1, without quotes",
            ),
            ("1.0", "found float; expected the integer 1"),
            (
                "{ major = 1 }",
                "found inline table; expected the integer 1",
            ),
        ];
        for (value, message) in cases {
            let e = err(&GOOD.replace("format_version = 1", &format!("format_version = {value}")));
            assert_eq!(
                (e.line, e.column, e.key.as_str()),
                (1, 18, "format_version"),
                "{value}: {e}"
            );
            assert!(e.message.starts_with(message), "{value}: {e}");
            assert!(e.expected.starts_with("expected "), "{value}: {e}");
        }
        // A table of that name is no version either.
        let e = err(&format!(
            "{}\n[format_version]\nmajor = 1\n",
            GOOD.replace("format_version = 1\n", "")
        ));
        assert_eq!(e.key, "format_version", "{e}");
        assert!(
            e.message
                .starts_with("found a table; expected the integer 1"),
            "{e}"
        );
    }
}
