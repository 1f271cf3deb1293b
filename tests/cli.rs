//! The `harness` binary: exit codes, output formats, and one clear error per bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// `harness ARGS…`, killed (and the test failed) if it is still running after 30 s: a
/// `harness serve` that accepted what it should refuse would otherwise serve forever.
fn harness_within(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child
        .try_wait()
        .expect("a child can be waited for")
        .is_none()
    {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("harness {args:?} still running after 30s: it accepted bad input");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().expect("the output can be read")
}

/// What `harness --version` names after "harness ": the version reproduce lines carry.
fn harness_version() -> String {
    let out = harness(&["--version"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .trim_end()
        .strip_prefix("harness ")
        .unwrap_or_else(|| panic!("--version prints \"harness VERSION\": {stdout:?}"))
        .to_string()
}

/// Proves the version is the crate version and, when the tests run in a git checkout, the
/// commit the binary was built from (build.rs): the tests are built from the checkout's
/// HEAD, so the two agree.
#[test]
fn version_names_crate_and_commit() {
    let version = harness_version();
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = match head {
        Some(commit) => format!("{}, commit {}", env!("CARGO_PKG_VERSION"), &commit[..12]),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    assert_eq!(version, expected);
}

/// Writes `text` to `name` in a directory of the calling test's own (libtest names each
/// test's thread after the test), so that tests running in parallel never write, or run,
/// one another's files of the same name.
fn write(name: &str, text: &str) -> PathBuf {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unnamed").replace("::", "-");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(test);
    std::fs::create_dir_all(&dir).expect("the target tmp dir is writable");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the target tmp dir is writable");
    path
}

const SHORT: &str = r#"name = "short"
seed = 5
duration = "20s"
format_version = 1
[[steps]]
at = "5s"
crash = { node = "node-3" }

[expect]
detection_max = "10s"
"#;

/// Proves a bad scenario gets exactly one error line naming file:line:column and key,
/// exit code 2, and no panic, for each kind of mistake the issue lists.
#[test]
fn bad_input_is_one_clear_error() {
    let cases = [
        (
            "unknown-key.toml",
            SHORT.replace("seed = 5", "seed = 5\ncolour = \"red\""),
            ":3:1: colour: unknown field `colour`",
        ),
        (
            "wrong-type.toml",
            SHORT.replace("seed = 5", "seed = \"five\""),
            ":2:8: seed: invalid type: string \"five\", expected u64",
        ),
        (
            "past-end.toml",
            SHORT.replace("at = \"5s\"", "at = \"25s\""),
            ":6:6: steps[0].at: 25s is at or past the run's end",
        ),
        (
            "unknown-node.toml",
            SHORT.replace("node-3", "node-4"),
            ":7:18: steps[0].crash.node: unknown host \"node-4\"",
        ),
        (
            "syntax.toml",
            SHORT.replace("seed = 5", "seed = = 5"),
            ":2:8: ",
        ),
        (
            "bad-lb.toml",
            format!("{SHORT}\n[topology.lb]\nfall = 0\n"),
            ":13:8: topology.lb.fall: expected at least 1",
        ),
    ];
    for (name, text, expected) in cases {
        assert_bad(name, &text, expected);
    }
    let out = harness(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no/such/file.toml: cannot read the scenario")
    );
}

/// Runs a bad scenario and checks it gets exactly one error line, exit 2, no output.
fn assert_bad(name: &str, text: &str, expected: &str) {
    let path = write(name, text);
    let out = harness(&["run", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{name}: nothing half-written to stdout"
    );
    assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {}", path.display())),
        "{name}: {stderr}"
    );
    assert!(
        stderr.contains(expected),
        "{name}: {stderr:?} lacks {expected:?}"
    );
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
}

/// The first lines of [`SHORT`]: a scenario's name, seed, duration and format version.
const HEAD: &str = "name = \"short\"\nseed = 5\nduration = \"20s\"\nformat_version = 1\n";

/// What follows [`HEAD`] in a bad scenario.
enum Body {
    /// `[[steps]]` on line 5, `at = "5s"` on 6, then this action on 7.
    Step(&'static str),
    /// These lines as they are, from line 5.
    Lines(&'static str),
    /// `[topology.tls]` on line 5, `enabled = true` on 6, this certificate file on 7, then
    /// the key file or password on 8, then this trust file if any (fixture files, see
    /// [`certs`]).
    Tls(&'static str, Secret, Option<&'static str>),
}

/// The line after a [`Body::Tls`]'s certificate.
enum Secret {
    /// `key = ` this fixture file.
    Key(&'static str),
    /// `password = ` this password.
    Password(&'static str),
    /// No line: neither a key nor a password.
    Neither,
}

use Body::{Lines, Step, Tls};
use Secret::{Key, Neither, Password};

impl Body {
    /// The whole scenario, [`HEAD`] included.
    fn text(&self) -> String {
        match self {
            Step(action) => format!("{HEAD}[[steps]]\nat = \"5s\"\n{action}\n"),
            Lines(lines) => format!("{HEAD}{lines}"),
            Tls(certificate, secret, trust) => {
                let secret = match secret {
                    Key(file) => format!("key = {}\n", cert(file)),
                    Password(password) => format!("password = \"{password}\"\n"),
                    Neither => String::new(),
                };
                let trust = trust.map_or(String::new(), |t| format!("trust = {}\n", cert(t)));
                format!(
                    "{HEAD}[topology.tls]\nenabled = true\ncertificate = {}\n{secret}{trust}",
                    cert(certificate)
                )
            }
        }
    }
}

/// The fixture certificates' directory (the files are made by its make.sh).
fn certs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certs")
}

/// The path of the fixture file `name`, as a TOML string.
fn cert(name: &str) -> String {
    format!("{:?}", certs().join(name).display().to_string())
}

/// Checks every `(file name, scenario, expected error)` case with [`assert_bad`];
/// `{certs}` in an expected error stands for [`certs`].
fn assert_all_bad(cases: &[(&str, Body, &str)]) {
    let certs = certs().display().to_string();
    for (name, body, expected) in cases {
        assert_bad(name, &body.text(), &expected.replace("{certs}", &certs));
    }
}

/// Bad partition, firewall, replica-set, clock, egress, NTP and load settings, and the
/// error each gets.
const BAD_STEPS: &[(&str, Body, &str)] = &[
    (
        "mode.toml",
        Step("isolate = { node = \"node-1\", mode = \"silent\" }"),
        ":7:37: steps[0].isolate.mode: unknown variant `silent`, expected `reject` or `drop`",
    ),
    (
        "no-mode.toml",
        Step("isolate = { node = \"node-1\" }"),
        ":7:11: steps[0].isolate: missing field `mode`",
    ),
    (
        "host.toml",
        Step("split = { groups = [[\"node-1\"], [\"nodex\"]], mode = \"drop\" }"),
        ":7:20: steps[0].split.groups: unknown host \"nodex\"",
    ),
    (
        "overlap.toml",
        Step("split = { groups = [[\"node-1\"], [\"node-1\"]], mode = \"drop\" }"),
        "steps[0].split.groups: node-1 is on both sides",
    ),
    (
        "unblock.toml",
        Step("unblock = { id = \"db\" }"),
        ":7:11: steps[0].unblock: no rules \"db\" in place",
    ),
    (
        "heal.toml",
        Step("heal = {}"),
        ":7:8: steps[0].heal: no partition to heal",
    ),
    (
        "two.toml",
        Step("heal = {}\ncrash = { node = \"node-1\" }"),
        ":5:1: steps[0]: expected exactly one action",
    ),
    (
        "port.toml",
        Step(
            "block = { id = \"db\", from = [\"node-1\"], to = [\"node-2\"], ports = [70000], action = \"drop\" }",
        ),
        "steps[0].block.ports[0]: invalid value: integer `70000`, expected u16",
    ),
    (
        "priority.toml",
        Lines("[topology.replica_set]\npriority = { node-9 = 2 }\n"),
        ":6:23: topology.replica_set.priority.node-9: unknown node",
    ),
    (
        "converge.toml",
        Lines("[expect]\nconverge_within = \"0s\"\n"),
        ":6:19: expect.converge_within: expected a bound above 0s",
    ),
    (
        "one-way.toml",
        Step("one_way = { from = [\"node-1\"], to = [\"dbx\"], mode = \"drop\" }"),
        "steps[0].one_way.to: unknown host \"dbx\"",
    ),
    (
        "bridge.toml",
        Lines(
            "[topology]\nnodes = 2\n\n[[steps]]\nat = \"5s\"\nbridge = { node = \"node-1\", mode = \"drop\" }\n",
        ),
        "steps[0].bridge.node: expected at least three nodes",
    ),
    (
        "block-id.toml",
        Step("block = { id = \"\", from = [\"node-1\"], to = [\"node-2\"], action = \"drop\" }"),
        "steps[0].block.id: expected a non-empty id",
    ),
    (
        "block-from.toml",
        Step("block = { id = \"x\", from = [], to = [\"node-2\"], action = \"drop\" }"),
        "steps[0].block.from: expected at least one host",
    ),
    (
        "reserved.toml",
        Step(
            "block = { id = \"partition\", from = [\"node-1\"], to = [\"node-2\"], action = \"drop\" }",
        ),
        "steps[0].block.id: expected a non-empty id other than \"partition\"",
    ),
    (
        "heartbeat.toml",
        Lines("[topology.replica_set]\nheartbeat = \"10s\"\n"),
        "topology.replica_set.heartbeat: expected a heartbeat shorter than",
    ),
    (
        "jitter-high.toml",
        Lines("[topology.replica_set]\nelection_jitter = 1.5\n"),
        ":6:19: topology.replica_set.election_jitter: expected a share of the election timeout from 0 to 1 (1 is Raft's [T, 2T]), found 1.5",
    ),
    (
        "jitter-negative.toml",
        Lines("[topology.replica_set]\nelection_jitter = -0.1\n"),
        "topology.replica_set.election_jitter: expected a share of the election timeout from 0 to 1",
    ),
    (
        "jitter-nan.toml",
        Lines("[topology.replica_set]\nelection_jitter = nan\n"),
        "topology.replica_set.election_jitter: expected a share of the election timeout from 0 to 1",
    ),
    (
        "spread.toml",
        Lines("[topology.lb]\nspread_checks_pct = 51\n"),
        "topology.lb.spread_checks_pct: expected 0 to 50 percent (HAProxy's spread-checks range)",
    ),
    (
        "fastinter.toml",
        Lines("[topology.lb]\nfastinter = \"0s\"\n"),
        "topology.lb.fastinter: expected a duration above 0s and at most 1h",
    ),
    (
        "write.toml",
        Lines("[topology.replica_set]\nwrite_timeout = \"4s\"\n"),
        "topology.replica_set.write_timeout: expected a write timeout at least 2s shorter than lb.response_timeout",
    ),
    (
        "shares.toml",
        Lines("[load]\nsignup_share = 0.9\n"),
        ":6:16: load.signup_share: expected signup_share + userinfo_share + social_share + dashboard_share at most 1",
    ),
    (
        "failover.toml",
        Lines("[expect]\nfailover_max = \"2h\"\n"),
        ":6:16: expect.failover_max: expected a bound of at most 1h",
    ),
    (
        "clock-both.toml",
        Step("clock = { node = \"node-3\", offset = \"1m\", jump = \"1m\" }"),
        ":7:9: steps[0].clock: expected exactly one of offset, jump, drift and strobe",
    ),
    (
        "egress-mode.toml",
        Lines("[topology.egress]\nmode = \"socks\"\n"),
        ":6:8: topology.egress.mode: unknown variant `socks`, expected `proxy` or `nat`",
    ),
    (
        "egress-allow.toml",
        Lines("[topology.egress]\nallow = [\"facebook.com\", \"not a name\"]\n"),
        ":6:26: topology.egress.allow[1]: expected a domain such as \"facebook.com\", found \"not a name\"",
    ),
    (
        "egress-udp.toml",
        Lines("[topology.egress]\nudp_ports = [123, 0]\n"),
        "topology.egress.udp_ports: expected ports from 1 to 65535",
    ),
    (
        "egress-key.toml",
        Lines("[topology.egress]\nallowlist = []\n"),
        ":6:1: topology.egress.allowlist: unknown field `allowlist`",
    ),
    (
        "egress-idle.toml",
        Lines("[topology.egress]\nudp_idle = \"0s\"\n"),
        "topology.egress.udp_idle: expected a duration above 0s and at most 1h",
    ),
    (
        "ntp-timeout.toml",
        Lines("[topology.ntp]\npoll = \"2s\"\ntimeout = \"2s\"\n"),
        "topology.ntp.timeout: expected a timeout shorter than ntp.poll",
    ),
    (
        "ntp-server.toml",
        Lines("[topology.ntp]\nserver = \"pool ntp org\"\n"),
        "topology.ntp.server: expected a DNS name such as \"pool.ntp.org\"",
    ),
    (
        "consent-purpose.toml",
        Lines("[topology.consent]\npurposes = [\"cdn\", \"facebook\"]\n"),
        "topology.consent.purposes[1]: unknown variant `facebook`, expected one of `social-login`, `cdn`, `update-check`, `ntp`",
    ),
    (
        "consent-twice.toml",
        Lines("[topology.consent]\npurposes = [\"cdn\", \"ntp\", \"cdn\"]\n"),
        "topology.consent.purposes[2]: expected each purpose once; \"cdn\" is listed twice",
    ),
    (
        "consent-key.toml",
        Lines("[topology.consent]\npurpose = [\"cdn\"]\n"),
        "topology.consent.purpose: unknown field `purpose`, expected `purposes`",
    ),
    (
        "updates-notify.toml",
        Lines("[topology.updates]\nnotify = \"yes\"\n"),
        "topology.updates.notify: invalid type: string \"yes\", expected a boolean",
    ),
    (
        "ntp-enabled.toml",
        Lines("[topology.ntp]\nenabled = \"yes\"\n"),
        "topology.ntp.enabled: invalid type: string \"yes\", expected a boolean",
    ),
    (
        "social-timeout.toml",
        Lines("[topology.node]\nsocial_timeout = \"5s\"\n"),
        "topology.node.social_timeout: expected a social login timeout at least 1s shorter than lb.response_timeout",
    ),
    (
        "update-interval.toml",
        Lines("[topology.node]\nupdate_interval = \"0s\"\n"),
        "topology.node.update_interval: expected a duration above 0s and at most 1h",
    ),
    (
        "social-share.toml",
        Lines("[load]\nsocial_share = 1.5\n"),
        "load.social_share: expected a share from 0 to 1",
    ),
    (
        "clock-drift.toml",
        Step("clock = { node = \"node-2\", drift = \"200 parts\" }"),
        "steps[0].clock.drift: \"200 parts\": expected parts per million such as \"200ppm\"",
    ),
    (
        "clock-drift-big.toml",
        Step("clock = { node = \"node-2\", drift = \"-200000ppm\" }"),
        "steps[0].clock.drift: \"-200000ppm\": expected at most 100000ppm either way",
    ),
    (
        "clock-period-alone.toml",
        Step("clock = { node = \"node-2\", jump = \"1s\", period = \"1s\" }"),
        "steps[0].clock.period: period goes with strobe only",
    ),
    (
        "clock-strobe-three.toml",
        Step(
            "clock = { node = \"node-2\", strobe = [\"0s\", \"1m\", \"2m\"], period = \"1s\", for = \"10s\" }",
        ),
        "steps[0].clock.strobe: expected two offsets to alternate between, found 3",
    ),
    (
        "clock-strobe-no-period.toml",
        Step("clock = { node = \"node-2\", strobe = [\"0s\", \"1m\"], for = \"10s\" }"),
        "steps[0].clock.period: expected a period with strobe",
    ),
    (
        "clock-strobe-fast.toml",
        Step(
            "clock = { node = \"node-2\", strobe = [\"0s\", \"1m\"], period = \"10ms\", for = \"10s\" }",
        ),
        "steps[0].clock.period: expected at least 100ms",
    ),
    (
        "clock-strobe-long.toml",
        Step(
            "clock = { node = \"node-2\", strobe = [\"0s\", \"1m\"], period = \"1s\", for = \"1h\" }",
        ),
        "steps[0].clock.for: the strobe ends at 3605s, at or past the run's end",
    ),
    (
        "clock-strobe-huge.toml",
        Step(
            "clock = { node = \"node-2\", strobe = [\"0s\", \"1m\"], period = \"1s\", for = \"18446744073709551615s\" }",
        ),
        "steps[0].clock.for: the strobe ends beyond any run, at or past the run's end",
    ),
    (
        "clock-strobe-short.toml",
        Step(
            "clock = { node = \"node-2\", strobe = [\"0s\", \"1m\"], period = \"2s\", for = \"1s\" }",
        ),
        "steps[0].clock.for: expected at least one period (2s)",
    ),
    (
        "clock-strobe-for.toml",
        Step("clock = { node = \"node-2\", strobe = [\"0s\", \"1m\"], period = \"1s\" }"),
        "steps[0].clock.for: expected how long the strobe lasts (for)",
    ),
    (
        "clock-strobe-offset.toml",
        Step(
            "clock = { node = \"node-2\", strobe = [\"0s\", \"2d\"], period = \"1s\", for = \"5s\" }",
        ),
        "steps[0].clock.strobe: expected at most a day either way",
    ),
    (
        "clock-bad.toml",
        Step("clock = { node = \"node-3\", jump = \"ten minutes\" }"),
        "steps[0].clock.jump: invalid duration \"ten minutes\"",
    ),
    (
        "clock-host.toml",
        Step("clock = { node = \"node-9\", jump = \"1m\" }"),
        "steps[0].clock.node: unknown host \"node-9\"",
    ),
];

/// Proves the partition, firewall and replica-set keys follow the same rules: one error
/// line with file:line:column and key, exit 2.
#[test]
fn bad_partition_and_firewall_steps() {
    assert_all_bad(BAD_STEPS);
}

/// Bad steps on a service (the DNS server's and the SMTP relay's answers, the load
/// balancer's operator), bad latency expectations, and the error each gets.
const BAD_SERVICE_STEPS: &[(&str, Body, &str)] = &[
    (
        "dns-answer.toml",
        Step("dns = { answer = \"refused\" }"),
        ":7:18: steps[0].dns.answer: unknown variant `refused`, expected one of `normal`, `servfail`, `nxdomain`, `silence`, `wrong-address`",
    ),
    (
        "dns-no-address.toml",
        Step("dns = { answer = \"wrong-address\" }"),
        "steps[0].dns.address: expected an address with \"wrong-address\"",
    ),
    (
        "dns-address.toml",
        Step("dns = { answer = \"servfail\", address = \"10.0.1.99\" }"),
        "steps[0].dns.address: address goes with \"wrong-address\" only",
    ),
    (
        "dns-normal.toml",
        Step("dns = { answer = \"normal\" }"),
        "steps[0].dns: dns normal at a time when no dns is in force",
    ),
    (
        "smtp-answer.toml",
        Step("smtp = { answer = \"down\" }"),
        ":7:19: steps[0].smtp.answer: unknown variant `down`, expected one of `normal`, `auth-rejected`, `temporary`, `slow`",
    ),
    (
        "smtp-no-delay.toml",
        Step("smtp = { answer = \"slow\" }"),
        "steps[0].smtp.delay: expected a delay above 0s and at most 1h with \"slow\"",
    ),
    (
        "smtp-delay.toml",
        Step("smtp = { answer = \"temporary\", delay = \"2s\" }"),
        "steps[0].smtp.delay: delay goes with \"slow\" only",
    ),
    (
        "smtp-bad-delay.toml",
        Step("smtp = { answer = \"slow\", delay = \"soon\" }"),
        "steps[0].smtp.delay: invalid duration \"soon\"",
    ),
    (
        "smtp-for-normal.toml",
        Lines("[[steps]]\nat = \"5s\"\nfor = \"5s\"\nsmtp = { answer = \"normal\" }\n"),
        "steps[0].for: for goes with a fault that a later step can undo",
    ),
    (
        "lb-node.toml",
        Step("lb = { drain = \"node-9\" }"),
        "steps[0].lb.drain: unknown node \"node-9\"; expected one of node-1, node-2, node-3",
    ),
    (
        "lb-both.toml",
        Step("lb = { drain = \"node-1\", ready = \"node-1\" }"),
        "steps[0].lb: expected exactly one of drain and ready",
    ),
    (
        "lb-ready.toml",
        Step("lb = { ready = \"node-2\" }"),
        "steps[0].lb: ready node-2 at a time when no drain node-2 is in force",
    ),
    (
        "lb-mixed.toml",
        Step("lb = { drain = \"node-1\", fall = 2 }"),
        "steps[0].lb: expected a drain, a ready, or a change of interval, rise and fall, each in its own step",
    ),
    (
        "lb-interval.toml",
        Step("lb = { interval = \"500ms\" }"),
        "steps[0].lb.interval: expected an interval from 2s (lb.connect_timeout + lb.timeout",
    ),
    (
        "lb-fall.toml",
        Step("lb = { fall = 0 }"),
        "steps[0].lb.fall: expected 1 to 100 checks",
    ),
    (
        "lb-checks-for.toml",
        Lines("[[steps]]\nat = \"5s\"\nfor = \"5s\"\nlb = { rise = 3 }\n"),
        "steps[0].for: for goes with a fault that a later step can undo",
    ),
    (
        "egress-empty.toml",
        Step("egress = {}"),
        "steps[0].egress: expected allow, exception or both",
    ),
    (
        "egress-domain.toml",
        Step("egress = { allow = [\"\"] }"),
        "steps[0].egress.allow: expected domain names such as \"cdn.auth0.com\", found \"\"",
    ),
    (
        "egress-nat.toml",
        Lines(
            "[topology.egress]\nmode = \"nat\"\n\n[[steps]]\nat = \"5s\"\negress = { exception = false }\n",
        ),
        "steps[0].egress: expected topology.egress.mode = \"proxy\"",
    ),
    (
        "egress-key.toml",
        Step("egress = { except = false }"),
        ":7:12: steps[0].egress.except: unknown field `except`, expected `allow` or `exception`",
    ),
    (
        "p99.toml",
        Lines("[expect]\np99_max = \"0s\"\n"),
        "expect.p99_max: expected a bound above 0s and at most 1h",
    ),
    (
        "failed-per-fault.toml",
        Lines("[expect]\nfailed_per_fault_max = 2000000\n"),
        "expect.failed_per_fault_max: expected a count from 0 to 1000000",
    ),
    (
        "mail-backoff.toml",
        Lines("[expect]\nmail_backoff = \"yes\"\n"),
        ":6:16: expect.mail_backoff: invalid type: string \"yes\", expected a boolean",
    ),
];

/// Proves the service steps and latency expectations follow the same rules: one error
/// line with file:line:column and key, exit 2.
#[test]
fn bad_service_steps() {
    assert_all_bad(BAD_SERVICE_STEPS);
}

/// Bad rolling updates (`update = { ... }`), and the error each gets.
const BAD_UPDATES: &[(&str, Body, &str)] = &[
    (
        "update-node.toml",
        Step("update = { order = [\"node-1\", \"node-9\"] }"),
        "steps[0].update.order: unknown node \"node-9\"; expected one of node-1, node-2, node-3",
    ),
    (
        "update-twice.toml",
        Step("update = { order = [\"node-1\", \"node-1\"] }"),
        "steps[0].update.order: node-1 is listed twice; expected each node once",
    ),
    (
        "update-empty.toml",
        Step("update = { order = [] }"),
        "steps[0].update.order: expected at least one node",
    ),
    (
        "update-install.toml",
        Step("update = { install = \"0s\" }"),
        "steps[0].update.install: expected above 0s and at most 10m",
    ),
    (
        "update-wait.toml",
        Step("update = { wait_max = \"11m\" }"),
        "steps[0].update.wait_max: expected above 0s and at most 10m",
    ),
    (
        "update-broken.toml",
        Step("update = { order = [\"node-1\"], broken = \"node-2\" }"),
        "steps[0].update.broken: \"node-2\" is not a node the update reaches",
    ),
    (
        "update-downtime.toml",
        Step("update = { downtime_max = \"0s\" }"),
        "steps[0].update.downtime_max: expected a duration above 0s",
    ),
    (
        "update-key.toml",
        Step("update = { drian = true }"),
        "steps[0].update.drian: unknown field `drian`, expected one of `order`",
    ),
    (
        "update-with-crash.toml",
        Step("update = {}\ncrash = { node = \"node-1\" }"),
        "steps[0]: expected exactly one action beside update",
    ),
    (
        "update-with-pause.toml",
        Step("update = {}\npause = { node = \"node-1\" }"),
        "steps[0]: expected exactly one action beside update",
    ),
    (
        "update-for.toml",
        Step("update = {}\nfor = \"10s\""),
        "steps[0].for: for goes with a fault; an update ends when its last node is back",
    ),
    (
        "update-range.toml",
        Lines("[[steps]]\nat = \"5s..8s\"\nupdate = {}\n"),
        "steps[0].at: expected one time before the run's end (duration 20s), not 5s..8s",
    ),
    (
        "update-second.toml",
        Lines("[[steps]]\nat = \"5s\"\nupdate = {}\n[[steps]]\nat = \"6s\"\nupdate = {}\n"),
        "steps[1].update: a second update; expected at most one per scenario",
    ),
];

/// Proves a bad rolling update is one clear error naming file, line, key and what was
/// expected, exit 2.
#[test]
fn bad_rolling_updates() {
    assert_all_bad(BAD_UPDATES);
}

/// `[topology.access]` deploying remote access with one window, then `[[steps]]` at 5s
/// with this `ssh` action.
macro_rules! access_step {
    ($action:literal) => {
        concat!(
            "[topology.access]\njumphost = true\nwindows = [{ start = \"2s\", end = \"10s\" }]\n[[steps]]\nat = \"5s\"\n",
            $action,
            "\n"
        )
    };
}

/// Bad remote access settings and `ssh` steps, and the error each gets.
const BAD_ACCESS: &[(&str, Body, &str)] = &[
    (
        "access-window-end.toml",
        Lines(
            "[topology.access]\njumphost = true\nwindows = [{ start = \"5s\", end = \"18446744073709551615s\" }]\n",
        ),
        ":7:34: topology.access.windows[0].end: expected a time at most 2h",
    ),
    (
        "ssh-off.toml",
        Step("ssh = { from = \"users\", to = \"node-1\", duration = \"5s\" }"),
        ":7:7: steps[0].ssh: expected [topology.access] jumphost = true",
    ),
    (
        "ssh-from.toml",
        Lines(access_step!(
            "ssh = { from = \"lb\", to = \"node-1\", duration = \"5s\" }"
        )),
        "steps[0].ssh.from: unknown SSH client host \"lb\"; expected one of users, jumphost",
    ),
    (
        "ssh-to.toml",
        Lines(access_step!(
            "ssh = { from = \"jumphost\", to = \"primary\", duration = \"5s\" }"
        )),
        "steps[0].ssh.to: unknown node \"primary\"; expected a node's name: node-1, node-2, node-3",
    ),
    (
        "ssh-duration.toml",
        Lines(access_step!(
            "ssh = { from = \"jumphost\", to = \"node-1\", duration = \"2h\" }"
        )),
        "steps[0].ssh.duration: expected a session length in whole milliseconds, above 0s and at most 1h",
    ),
    (
        "ssh-key.toml",
        Lines(access_step!(
            "ssh = { form = \"jumphost\", to = \"node-1\", duration = \"5s\" }"
        )),
        "steps[0].ssh.form: unknown field `form`",
    ),
    (
        "ssh-for.toml",
        Lines(access_step!(
            "ssh = { from = \"jumphost\", to = \"node-1\", duration = \"5s\" }\nfor = \"3s\""
        )),
        "steps[0].for: for goes with a fault",
    ),
    (
        "access-windows-off.toml",
        Lines("[topology.access]\nwindows = [{ start = \"2s\", end = \"10s\" }]\n"),
        "topology.access.windows: expected access.jumphost = true with maintenance windows",
    ),
    (
        "access-window-end.toml",
        Lines(
            "[topology.access]\njumphost = true\nwindows = [{ start = \"10s\", end = \"2s\" }]\n",
        ),
        "topology.access.windows[0].end: expected an end after the window's start",
    ),
    (
        "access-window-overlap.toml",
        Lines(
            "[topology.access]\njumphost = true\nwindows = [{ start = \"2s\", end = \"10s\" }, { start = \"5s\", end = \"12s\" }]\n",
        ),
        "topology.access.windows[1].start: expected the window to start at or after the previous one's end",
    ),
    (
        "access-from.toml",
        Lines("[topology.access]\njumphost = true\nssh_from = [\"jumphost\", \"vpn\"]\n"),
        "topology.access.ssh_from[1]: unknown host \"vpn\"; expected one of dns, lb",
    ),
];

/// Proves bad remote access settings and a bad `ssh` step are one clear error naming
/// file, line, key and what was expected, exit 2.
#[test]
fn bad_remote_access() {
    assert_all_bad(BAD_ACCESS);
}

/// Proves exit 0 when every expectation holds, exit 1 with the seed and the reproducing
/// command when one fails, and that --seed, --format json (its schema version, hosts as
/// objects, typed timeline events) and --signups are honoured.
#[test]
fn exit_codes_seed_and_json() {
    let pass = write("pass.toml", SHORT);
    let out = harness(&["run", pass.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let fail = write(
        "fail.toml",
        &SHORT.replace("detection_max = \"10s\"", "detection_max = \"1s\""),
    );
    let out = harness(&["run", fail.to_str().unwrap(), "--seed", "9"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("result: FAIL (1 FAIL, 8 pass of 9) with seed 9"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "reproduce: cargo run -- run {} --seed 9  # harness {}",
            fail.display(),
            harness_version()
        )),
        "{stdout}"
    );

    let out = harness(&[
        "run",
        pass.to_str().unwrap(),
        "--format",
        "json",
        "--seed",
        "6",
    ]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--format json prints JSON");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["run"]["seed"], 6);
    assert_eq!(json["passed"], true);
    assert!(json["totals"]["sent"].as_u64().unwrap() > 100);
    assert_eq!(json["hosts"][0]["name"], "dns", "{json}");
    let crash = json["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "crashed"))
        .unwrap_or_else(|| panic!("a typed crash event: {json}"));
    assert_eq!(crash["host"], "scenario");
    assert!(
        crash["text"]
            .as_str()
            .is_some_and(|t| t.contains("crashed"))
    );
    let member = &json["members"][0];
    assert!(member["signup_count"].as_u64().is_some(), "{member}");
    assert!(
        member.get("signups").is_none(),
        "signups only on request: {member}"
    );
    let out = harness(&[
        "run",
        pass.to_str().unwrap(),
        "--format",
        "json",
        "--signups",
    ]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--format json --signups prints JSON");
    assert!(json["members"][0]["signups"].is_array(), "{json}");
}

/// Proves `run --strict` exits 1 on a vacuous check (a failover bound where the step
/// crashes a secondary, so no primary is lost), naming it on stderr, where a plain run exits 0 with the check marked vacuous, and
/// that a run whose every check passes exits 0 under `--strict` too.
#[test]
fn strict_fails_vacuous_checks() {
    let vacuous = write(
        "vacuous.toml",
        &SHORT.replace(
            "detection_max = \"10s\"",
            "detection_max = \"10s\"\nfailover_max = \"16s\"",
        ),
    );
    let out = harness(&["run", vacuous.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("vacuous  a new primary within 16s of losing one  "),
        "{stdout}"
    );
    assert!(stdout.contains("1 vacuous of 10"), "{stdout}");
    let out = harness(&["run", vacuous.to_str().unwrap(), "--strict"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "strict: 1 expectation(s) not passed: a new primary within 16s of losing one (vacuous: no step lost the primary)"
        ),
        "{stderr}"
    );
    let pass = write("strict-pass.toml", SHORT);
    let out = harness(&["run", pass.to_str().unwrap(), "--strict"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bad certificate files and issue-5 topology fields, and the error each gets.
const BAD_CERTIFICATES_AND_FIELDS: &[(&str, Body, &str)] = &[
    (
        "cert-unreadable.toml",
        Tls("none.pem", Key("good.key"), Some("trust.pem")),
        ":7:15: topology.tls.certificate: cannot read ",
    ),
    (
        "cert-not-pem.toml",
        Tls("make.sh", Key("good.key"), Some("trust.pem")),
        "make.sh: expected PEM (\"-----BEGIN ...-----\" sections), found none",
    ),
    (
        "cert-no-certificate.toml",
        Tls("good.key", Key("good.key"), Some("trust.pem")),
        ":7:15: topology.tls.certificate: {certs}/good.key: expected at least one \"-----BEGIN CERTIFICATE-----\" section, found none",
    ),
    (
        "cert-no-key.toml",
        Tls("good.pem", Neither, Some("trust.pem")),
        ":5:1: topology.tls.key: expected the PEM private key that goes with the PEM certificate",
    ),
    (
        "cert-key-not-a-key.toml",
        Tls("good.pem", Key("good.pem"), Some("trust.pem")),
        ":8:7: topology.tls.key: {certs}/good.pem: expected exactly one private key",
    ),
    (
        "cert-key-encrypted.toml",
        Tls("good.pem", Key("encrypted.key"), Some("trust.pem")),
        "encrypted.key: the private key has a password on it; expected an unencrypted key (the security and access requirements",
    ),
    (
        "cert-key-mismatch.toml",
        Tls("good.pem", Key("other.key"), Some("trust.pem")),
        ":8:7: topology.tls.key: the private key does not match the public key of the leaf certificate (CN=good.example.com",
    ),
    (
        "cert-pfx-password.toml",
        Tls("good.pfx", Password("wrong"), Some("trust.pem")),
        ":8:12: topology.tls.password: the password does not open ",
    ),
    (
        "cert-trust-missing.toml",
        Tls("good.pem", Key("good.key"), None),
        ":5:1: topology.tls.trust: expected the PEM file of the CA the users trust",
    ),
    (
        "cert-trust-unreadable.toml",
        Tls("good.pem", Key("good.key"), Some("nope.pem")),
        ":9:9: topology.tls.trust: cannot read ",
    ),
    (
        "lb-mode.toml",
        Lines("[topology.lb]\nmode = \"udp\"\n"),
        ":6:8: topology.lb.mode: unknown variant `udp`, expected `https` or `tcp`",
    ),
    (
        "lb-proxy-https.toml",
        Lines("[topology.lb]\nproxy_protocol = \"v1\"\n"),
        ":6:18: topology.lb.proxy_protocol: expected no PROXY header in https mode",
    ),
    (
        "lb-allow.toml",
        Lines("[topology.lb]\nallow = [\"everyone\"]\n"),
        ":6:10: topology.lb.allow[0]: expected an IPv4 network such as \"198.51.100.0/24\", found \"everyone\"",
    ),
    (
        "lb-public-paths.toml",
        Lines("[topology.lb]\nfilter_endpoints = true\npublic_paths = [\"login\"]\n"),
        ":7:17: topology.lb.public_paths[0]: expected a path prefix such as \"/login\", found \"login\"",
    ),
    (
        "lb-filter-tcp.toml",
        Lines("[topology.lb]\nmode = \"tcp\"\nfilter_endpoints = true\n"),
        ":7:20: topology.lb.filter_endpoints: expected https mode",
    ),
    (
        "tls-names.toml",
        Lines("[topology.tls]\nnames = [\"not a name\"]\n"),
        ":6:10: topology.tls.names[0]: expected a DNS name such as \"login.example.com\" or \"*.example.com\", found \"not a name\"",
    ),
    (
        "dev-signups.toml",
        Lines("[topology.dev]\nsignups_per_s = 500\n"),
        ":6:17: topology.dev.signups_per_s: expected 0 to 100 signups per second, found 500",
    ),
    (
        "firewall-from.toml",
        Lines("[[topology.firewall]]\nfrom = [\"node-9\"]\nto = [\"node-1\"]\naction = \"drop\"\n"),
        ":6:8: topology.firewall[0].from: unknown host \"node-9\"; expected one of dns, lb, node-1",
    ),
    (
        "addresses-two.toml",
        Lines("[topology.addresses]\nnode-2 = [\"10.0.1.12\", \"10.0.1.42\"]\n"),
        ":6:10: topology.addresses.node-2: expected exactly one address: the appliance supports one NIC (the network requirements)",
    ),
    (
        "addresses-duplicate.toml",
        Lines("[topology.addresses]\nnode-2 = [\"10.0.1.11\"]\n"),
        ":6:10: topology.addresses.node-2: 10.0.1.11 is already node-1's address",
    ),
];

/// Proves the certificate files `[topology.tls]` names, and the issue-5 topology fields,
/// follow the same rules: one error line naming file:line:column, the key, the path and
/// what was expected; exit 2. (The fixtures are made by tests/fixtures/certs/make.sh.)
#[test]
fn bad_certificates_and_topology_fields() {
    assert_all_bad(BAD_CERTIFICATES_AND_FIELDS);
}

/// In a row of [`SERVE_REFUSED`] or [`SERVE_MALFORMED`], the path of a scenario whose
/// balancer terminates TLS.
const HTTPS: &str = "{https scenario}";
/// In a row of [`SERVE_REFUSED`], the path of a scenario whose balancer passes TLS
/// through.
const TCP: &str = "{tcp scenario}";
/// In a row of [`SERVE_REFUSED`], a `--ca-out` path that must never be written.
const CA: &str = "{ca out}";

/// `harness serve` arguments (without `--listen`, added when missing) refused before
/// anything is bound or written, and the error line each starts with.
const SERVE_REFUSED: &[(&[&str], &str)] = &[
    (
        &["serve", "node", HTTPS, "--node", "node-9"],
        "error: --node: `node-9` is not a node of the topology; expected one of node-1, node-2, node-3",
    ),
    (
        &["serve", "dns", HTTPS, "--node", "node-1"],
        "error: --node: applies to `harness serve node` only, not `dns`",
    ),
    (
        &["serve", "lb", HTTPS, "--backend", "node-4=127.0.0.1:1"],
        "error: --backend: `node-4` is not a node of the topology; expected one of node-1, node-2, node-3",
    ),
    (
        &[
            "serve",
            "lb",
            HTTPS,
            "--backend",
            "node-1=127.0.0.1:1",
            "--backend",
            "node-1=127.0.0.1:2",
        ],
        "error: --backend: `node-1` is given twice",
    ),
    (
        &["serve", "node", HTTPS, "--ca-out", CA],
        "error: --ca-out: topology.lb.mode = \"https\": the balancer terminates TLS and the nodes speak plain HTTP; serve the lb for its certificate",
    ),
    (
        &["serve", "lb", TCP, "--ca-out", CA],
        "error: --ca-out: topology.lb.mode = \"tcp\": the balancer passes TLS through; serve a node for its certificate",
    ),
    (
        &["serve", "node", TCP, "--trust-proxy", "127.0.0.1"],
        "error: --trust-proxy: topology.lb.mode = \"tcp\": the node believes the PROXY header, not X-Forwarded-For",
    ),
    (
        &["serve", "smtp", "/nonexistent/scenario.toml"],
        "error: /nonexistent/scenario.toml: cannot read the scenario",
    ),
];

/// clap's own checks: a malformed backend, offset or address, and what the error names.
const SERVE_MALFORMED: &[(&[&str], &str)] = &[
    (
        &["serve", "lb", HTTPS, "--backend", "node-1"],
        "--backend <NAME=ADDR:PORT>",
    ),
    (
        &["serve", "ntp", HTTPS, "--clock-offset", "soon"],
        "--clock-offset <DURATION>",
    ),
    (
        &["serve", "ntp", HTTPS, "--clock-offset", "2d"],
        "invalid value '2d' for '--clock-offset <DURATION>': expected at most a day either way",
    ),
    (
        &["serve", "dns", HTTPS, "--listen", "localhost"],
        "--listen <ADDR:PORT>",
    ),
];

/// Proves `harness serve` and `harness export`'s placement flags refuse bad input with
/// one error line naming the option and what was expected, exit 2, before anything is
/// bound or written; clap's own checks name the malformed flag and exit 2 too.
#[test]
fn serve_and_export_placement_refuse_bad_input() {
    let https = write("serve-https.toml", SHORT);
    let tcp = write(
        "serve-tcp.toml",
        &format!("{SHORT}\n[topology.lb]\nmode = \"tcp\"\n"),
    );
    let (https, tcp) = (https.to_str().unwrap(), tcp.to_str().unwrap());
    let listen = ["--listen", "127.0.0.1:0"];
    let ca = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("never-written-ca.pem");
    let _ = std::fs::remove_file(&ca);
    let ca = ca.to_str().unwrap();
    let fill = |args: &[&'static str]| -> Vec<&str> {
        let path = |arg| match arg {
            HTTPS => https,
            TCP => tcp,
            CA => ca,
            arg => arg,
        };
        args.iter().map(|arg| path(*arg)).collect()
    };
    for (args, expected) in SERVE_REFUSED {
        let mut args = fill(args);
        if !args.contains(&"--listen") {
            args.extend(listen);
        }
        let out = harness_within(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{args:?}:\n{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing served");
    }
    assert!(
        !std::path::Path::new(ca).exists(),
        "no --ca-out written on bad input"
    );

    // clap's own checks: a malformed backend or offset names the flag and exits 2.
    for (args, expected) in SERVE_MALFORMED {
        let args = fill(args);
        let out = harness_within(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}:\n{stderr}");
    }

    // export: --server names a node, once.
    for (server, expected) in [
        (
            "node-7=127.0.0.1:1",
            "--server: `node-7` is not a node of the topology",
        ),
        ("node-1", "--server <NAME=ADDR:PORT>"),
    ] {
        let out = harness(&["export", "haproxy", https, "--server", server]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{server}: {stderr}");
        assert!(stderr.contains(expected), "{server}:\n{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// Proves a port already taken is exit 3 naming the service and address, and that a CA
/// written for a balancer that never served is taken back.
#[test]
fn serve_on_a_taken_port_is_exit_3() {
    let https = write("serve-taken-port.toml", SHORT);
    let https = https.to_str().unwrap();
    let ca = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("taken-back-ca.pem");
    let _ = std::fs::remove_file(&ca);
    let ca = ca.to_str().unwrap();

    // A taken port: the service cannot run.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = harness_within(&["serve", "smtp", https, "--listen", &addr]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("error: smtp on {addr}: ")),
        "{stderr}"
    );
    // ... and a CA written for a balancer that never served is taken back.
    let out = harness_within(&["serve", "lb", https, "--listen", &addr, "--ca-out", ca]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("error: lb on {addr}: ")),
        "{stderr}"
    );
    assert!(
        !std::path::Path::new(ca).exists(),
        "the CA stayed behind: {stderr}"
    );
    drop(taken);
}

/// Proves the scenario file itself is read with a bound (issue 12 item 5): `harness run`
/// and `harness check` of a FIFO nobody writes to, of `/dev/zero` and of a file over the
/// limit exit 2 at once with one line naming the file and the limit, and a certificate
/// setting naming `/dev/zero` is one error at the setting's line and column.
#[test]
fn files_are_read_with_a_bound() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-bounded");
    std::fs::create_dir_all(&dir).expect("the target tmp dir is writable");
    let fifo = dir.join("fifo.toml");
    if !fifo.exists() {
        let made = Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
    }
    let big = dir.join("big.toml");
    let mut text = SHORT.to_string();
    text.push_str(&"#".repeat(1 << 20));
    std::fs::write(&big, text).expect("the target tmp dir is writable");
    let cases = [
        (
            fifo.clone(),
            "is a FIFO (named pipe); expected a scenario file: a regular file of at most 1048576 bytes (1 MiB)",
        ),
        (
            "/dev/zero".into(),
            "is a character device; expected a scenario file",
        ),
        (
            big.clone(),
            "is larger than 1048576 bytes; expected a scenario file",
        ),
    ];
    for (file, expected) in cases {
        let file = file.to_str().expect("UTF-8 path");
        for command in ["run", "check"] {
            let out = harness_within(&[command, file]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {file}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{command} {file}: {stderr}");
            assert!(
                stderr.starts_with(&format!("error: {file}: {file} {expected}")),
                "{command} {file}: {stderr:?} lacks {expected:?}"
            );
        }
    }
    let zero = format!(
        "{SHORT}\n[topology.tls]\ncertificate = \"/dev/zero\"\nkey = \"/dev/zero\"\ntrust = \"/dev/zero\"\n"
    );
    assert_bad(
        "cert-dev-zero.toml",
        &zero,
        ":13:15: topology.tls.certificate: /dev/zero is a character device; expected a certificate or key file: a regular file of at most 1048576 bytes (1 MiB)",
    );
}

/// Proves `harness serve`'s trust options refuse bad input with one error line naming the
/// option, exit 2, nothing served: `--token-secret` empty or for a service other than a
/// node.
#[test]
fn serve_trust_options_refuse_bad_input() {
    let https = write("serve-trust.toml", SHORT);
    let https = https.to_str().unwrap();
    let listen = ["--listen", "127.0.0.1:0"];
    for (args, expected) in [
        (
            vec!["serve", "node", https, "--token-secret", ""],
            "error: --token-secret: expected a non-empty secret",
        ),
        (
            vec!["serve", "lb", https, "--token-secret", "s"],
            "error: --token-secret: applies to `harness serve node` only, not `lb`",
        ),
        (
            vec!["serve", "lb", https, "--trust-proxy", "127.0.0.1"],
            "error: --trust-proxy: applies to `harness serve node` only, not `lb`",
        ),
    ] {
        let args = [&args[..], &listen[..]].concat();
        let out = harness_within(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end(), expected, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing served");
    }
}

/// Proves `harness schema` and `harness schema serve-events` print exactly the committed
/// `docs/report.schema.json` and `docs/serve-events.schema.json`.
#[test]
fn schema_command_prints_the_committed_schemas() {
    for (args, file) in [
        (&["schema"][..], "docs/report.schema.json"),
        (
            &["schema", "serve-events"][..],
            "docs/serve-events.schema.json",
        ),
    ] {
        let out = harness(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(out.stdout == committed, "{args:?} differs from {file}");
    }
}

/// Bad variation and `[nemesis]` settings: a range that runs backwards or past the run's
/// end, a `for` that ends past it or goes with a step that undoes nothing, a role no node
/// can have, a role in a restart, drawn times that could reorder a crash and its restart,
/// roles mixed with names, and a nemesis phase past the end or beside steps.
const BAD_VARIATION: &[(&str, Body, &str)] = &[
    (
        "range-backwards.toml",
        Lines("[[steps]]\nat = \"15s..5s\"\ncrash = { node = \"node-2\" }\n"),
        ":6:6: steps[0].at: the range \"15s..5s\" runs backwards; expected the earlier end first (\"5s..15s\")",
    ),
    (
        "range-past-end.toml",
        Lines("[[steps]]\nat = \"5s..25s\"\ncrash = { node = \"node-2\" }\n"),
        ":6:6: steps[0].at: 5s..25s is at or past the run's end (duration 20s); expected a time before it",
    ),
    (
        "for-past-end.toml",
        Lines("[[steps]]\nat = \"5s\"\nfor = \"10s..15s\"\ncrash = { node = \"node-2\" }\n"),
        ":7:7: steps[0].for: the fault may end at 20s, at or past the run's end (duration 20s); expected it to end before",
    ),
    (
        "for-restart.toml",
        Lines(
            "[[steps]]\nat = \"2s\"\ncrash = { node = \"node-2\" }\n\n[[steps]]\nat = \"5s\"\nfor = \"1s\"\nrestart = { node = \"node-2\" }\n",
        ),
        ":11:7: steps[1].for: for goes with a fault that a later step can undo",
    ),
    (
        "role-no-secondary.toml",
        Lines(
            "[topology]\nnodes = 1\n\n[[steps]]\nat = \"5s\"\ncrash = { node = \"a-secondary\" }\n",
        ),
        ":10:18: steps[0].crash.node: no node can be a secondary with 1 node(s); expected \"primary\", \"any\" or one of node-1",
    ),
    (
        "role-restart.toml",
        Lines(
            "[[steps]]\nat = \"5s\"\ncrash = { node = \"primary\" }\n\n[[steps]]\nat = \"9s\"\nrestart = { node = \"primary\" }\n",
        ),
        ":11:20: steps[1].restart.node: \"primary\" is a role; expected a node's name (to restart a node named by role, give its crash a `for`)",
    ),
    (
        "role-unknown.toml",
        Step("crash = { node = \"leader\" }"),
        "steps[0].crash.node: unknown host \"leader\"; expected one of dns, lb, node-1, node-2, node-3, smtp, egress, facebook.com, cdn.auth0.com, updates.auth0.com, pool.ntp.org, or a role: primary, a-secondary, any",
    ),
    (
        "range-reorders.toml",
        Lines(
            "[[steps]]\nat = \"2s..8s\"\ncrash = { node = \"node-2\" }\n\n[[steps]]\nat = \"6s\"\nrestart = { node = \"node-2\" }\n",
        ),
        ":10:6: steps[1].at: this step (at 6s) may be drawn before steps[0] (at 2s..8s), which acts on node node-2 too; expected times that keep their order in every draw",
    ),
    (
        "role-and-name.toml",
        Lines(
            "[[steps]]\nat = \"2s\"\nfor = \"2s\"\ncrash = { node = \"any\" }\n\n[[steps]]\nat = \"6s\"\ncrash = { node = \"node-2\" }\n",
        ),
        ":12:18: steps[1].crash.node: steps[0] crashes a node by role and steps[1] one by name; expected one or the other",
    ),
    (
        "nemesis-past-end.toml",
        Lines("[nemesis]\nstart = \"10s\"\nphase = \"10s\"\n"),
        ":7:9: nemesis.phase: the fault phase ends at 20s, at or past the run's end (duration 20s); expected a phase above 0s that ends before",
    ),
    (
        "nemesis-and-steps.toml",
        Lines(
            "[[steps]]\nat = \"5s\"\ncrash = { node = \"node-2\" }\n\n[nemesis]\nphase = \"5s\"\n",
        ),
        ":9:1: nemesis: a scenario with [nemesis] draws its steps; expected no [[steps]] beside it",
    ),
    (
        "nemesis-kind.toml",
        Lines("[nemesis]\nphase = \"5s\"\nfaults = [\"meteor\"]\n"),
        ":7:11: nemesis.faults[0]: unknown variant `meteor`",
    ),
    (
        "nemesis-bridge.toml",
        Lines("[topology]\nnodes = 2\n\n[nemesis]\nphase = \"5s\"\nfaults = [\"bridge\"]\n"),
        ":10:10: nemesis.faults: bridge needs three nodes or more, and there are 2; expected the other kinds only",
    ),
    (
        "nemesis-link-one-node.toml",
        Lines(
            "[topology]\nnodes = 1\n\n[nemesis]\nphase = \"5s\"\nfaults = [\"pause\", \"link-loss\"]\n",
        ),
        ":10:10: nemesis.faults: link-loss acts on the links between nodes and there is 1; expected two nodes or more, or the other kinds only",
    ),
    (
        "nemesis-link-kind.toml",
        Lines("[nemesis]\nphase = \"5s\"\nfaults = [\"link\"]\n"),
        ":7:11: nemesis.faults[0]: unknown variant `link`, expected one of `crash`, `crash-process`, `isolate`, `split`, `one-way`, `bridge`, `firewall-drop`, `firewall-reject`, `clock-jump`, `clock-strobe`, `clock-drift`, `egress-blocked`, `smtp-down`, `dns-down`, `pause`, `link-latency`, `link-loss`",
    ),
];

/// Proves each bad variation or nemesis setting gets one error line with
/// file:line:column and key, exit 2, and nothing on stdout.
#[test]
fn bad_variation_and_nemesis() {
    assert_all_bad(BAD_VARIATION);
}

/// Proves `harness shrink` refuses a run that passes (exit 1, nothing written), and a
/// bad scenario (exit 2, the loader's one error line).
#[test]
fn shrink_refuses_what_it_cannot_shrink() {
    let out_path =
        std::env::temp_dir().join(format!("harness-cli-{}-shrunk.toml", std::process::id()));
    let passing = write(
        "shrink-passes.toml",
        "format_version = 1\nname = \"p\"\nseed = 1\nduration = \"5s\"\n\n[load]\nrate_per_s = 2.0\n\n[topology.tls]\nenabled = false\n",
    );
    let out = harness(&[
        "shrink",
        passing.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("seed 1 fails no verdict; expected a failing run to shrink"),
        "{stderr}"
    );
    assert!(!out_path.exists(), "nothing written");
    let bad = write(
        "shrink-bad.toml",
        &Step("crash = { node = \"leader\" }").text(),
    );
    let out = harness(&[
        "shrink",
        bad.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("steps[0].crash.node: unknown host"),
        "{stderr}"
    );
    assert!(!out_path.exists(), "nothing written");
}

/// Proves `harness sweep` refuses bad options with one error naming the option (or the
/// variable) and exit 2, before running anything: a backwards or malformed range, a shard
/// out of range, `--shards` without `JOB_COMPLETION_INDEX` or with one out of range.
#[test]
fn sweep_refuses_bad_ranges_and_shards() {
    let tiny = "tests/fixtures/sweep-tiny.toml";
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (
            &["--seeds", "5..1"],
            None,
            "'--seeds <A..B>': the range 5..1 is backwards (empty)",
        ),
        (
            &["--seeds", "1..x"],
            None,
            "'--seeds <A..B>': \"x\" is not a seed",
        ),
        (
            &["--seeds", "1..4", "--shard", "3/2"],
            None,
            "'--shard <K/N>': shard 3 of 2 does not exist",
        ),
        (
            &["--seeds", "1..4", "--shard", "0/2"],
            None,
            "'--shard <K/N>': shard 0 of 2 does not exist",
        ),
        (
            &["--seeds", "1..4", "--shards", "2"],
            None,
            "--shards 2 takes the shard from JOB_COMPLETION_INDEX, which is not set",
        ),
        (
            &["--seeds", "1..4", "--shards", "2"],
            Some("2"),
            "JOB_COMPLETION_INDEX=2 is out of range for --shards 2",
        ),
    ];
    for (args, job_index, expected) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
        command
            .args(["sweep", tiny])
            .args(args)
            .env_remove("JOB_COMPLETION_INDEX");
        if let Some(index) = job_index {
            command.env("JOB_COMPLETION_INDEX", index);
        }
        let out = command.output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            stderr
                .lines()
                .next()
                .is_some_and(|l| l.starts_with("error: ")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing runs");
    }
}

/// Proves a sweep's every failing seed prints the command that replays it, and that
/// command (`harness run FILE --seed N`) gives the same verdicts as the sweep recorded:
/// sweep-too-tight fails every seed, and each seed's line in `--out`'s seeds.jsonl is
/// compared with `run --format json` of that seed.
#[test]
fn sweep_reproduce_commands_replay_the_same_verdicts() {
    let file = "tests/fixtures/sweep-too-tight.toml";
    let dir = std::env::temp_dir().join(format!("harness-sweep-repro-{}", std::process::id()));
    let out = harness(&[
        "sweep",
        file,
        "--seeds",
        "1..2",
        "--out",
        dir.to_str().expect("UTF-8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    let lines = std::fs::read_to_string(dir.join("seeds.jsonl")).expect("the records");
    let _ = std::fs::remove_dir_all(&dir);
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 2);
    for record in &records {
        let reproduce = record["reproduce"].as_str().expect("a reproduce command");
        assert!(
            summary.contains(reproduce),
            "the summary prints {reproduce}"
        );
        let args: Vec<&str> = reproduce
            .split("  #")
            .next()
            .and_then(|c| c.strip_prefix("cargo run -- "))
            .expect("cargo run -- run FILE --seed N")
            .split(' ')
            .collect();
        let run = harness(&[args.as_slice(), &["--format", "json"]].concat());
        assert_eq!(run.status.code(), Some(1), "the replay fails too");
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
        assert_eq!(report["reproduce"].as_str(), Some(reproduce));
        let statuses = |verdicts: &serde_json::Value| -> Vec<(String, String, String)> {
            verdicts
                .as_array()
                .expect("verdicts")
                .iter()
                .map(|v| {
                    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                    (s("key"), s("status"), s("observed"))
                })
                .collect()
        };
        assert_eq!(statuses(&report["verdicts"]), statuses(&record["verdicts"]));
    }
}

/// Proves `harness run`'s capture options refuse bad input before the run, with exit 2, an
/// error naming the option and what was expected, nothing on stdout and no file written:
/// an unknown host, a backwards time window, a size bound below a pcap header, a path in
/// a missing directory or naming a directory, a port or time that does not parse, and a
/// filter without `--pcap`.
#[test]
fn capture_options_refuse_bad_input() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-capture");
    std::fs::create_dir_all(&dir).expect("the target tmp dir is writable");
    let pcap = dir.join("x.pcap");
    let _ = std::fs::remove_file(&pcap);
    let (pcap_s, dir_s) = (pcap.to_str().unwrap(), dir.to_str().unwrap());
    let missing = dir.join("missing").join("x.pcap");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &["--pcap", pcap_s, "--pcap-host", "node-9"],
            "--pcap-host: the topology has no host named \"node-9\" (its hosts: ",
        ),
        (
            &[
                "--pcap",
                pcap_s,
                "--pcap-from",
                "40s",
                "--pcap-until",
                "30s",
            ],
            "--pcap-from (40s) must come before --pcap-until (30s)",
        ),
        (
            &["--pcap", pcap_s, "--pcap-max-bytes", "3"],
            "--pcap-max-bytes: 3 is less than a pcap file's header (24 bytes)",
        ),
        (&["--pcap", missing], "its directory does not exist"),
        (&["--pcap", dir_s], "is a directory; expected a file name"),
        (
            &["--pcap", pcap_s, "--tls-keylog", missing],
            "--tls-keylog: ",
        ),
        (
            &["--pcap", pcap_s, "--pcap-port", "70000"],
            "invalid value '70000' for '--pcap-port <PORT>'",
        ),
        (
            &["--pcap", pcap_s, "--pcap-from", "soon"],
            "invalid value 'soon' for '--pcap-from <TIME>'",
        ),
        (&["--pcap-host", "node-1"], "--pcap <PATH>"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["run", "tests/fixtures/sweep-tiny.toml"];
        all.extend_from_slice(args);
        let out = harness(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing runs");
        assert!(!pcap.exists(), "{args:?}: no capture written");
    }
}

/// Bad pause, resume and slow steps (issue 18), and the error each gets.
const BAD_HOST_STEPS: &[(&str, Body, &str)] = &[
    (
        "pause-host.toml",
        Step("pause = { node = \"node-9\" }"),
        ":7:18: steps[0].pause.node: unknown host \"node-9\"",
    ),
    (
        "pause-users.toml",
        Step("pause = { node = \"users\" }"),
        "steps[0].pause.node: unknown host \"users\"",
    ),
    (
        "pause-key.toml",
        Step("pause = { host = \"node-1\" }"),
        "steps[0].pause.host: unknown field `host`",
    ),
    (
        "resume-unpaused.toml",
        Step("resume = { node = \"node-1\" }"),
        "steps[0].resume: node-1 is not paused at that time; expected an earlier pause",
    ),
    (
        "resume-role.toml",
        Step("resume = { node = \"primary\" }"),
        "steps[0].resume.node: \"primary\" is a role; expected a host's name",
    ),
    (
        "pause-twice.toml",
        Lines(
            "[[steps]]\nat = \"5s\"\npause = { node = \"node-1\" }\n[[steps]]\nat = \"6s\"\npause = { node = \"node-1\" }\n",
        ),
        "steps[1].pause: node-1 is already paused at that time; expected a resume before it is paused again",
    ),
    (
        "pause-down.toml",
        Lines(
            "[[steps]]\nat = \"5s\"\ncrash = { node = \"node-1\" }\n[[steps]]\nat = \"6s\"\npause = { node = \"node-1\" }\n",
        ),
        "steps[1].pause: node-1 is down at that time; expected a restart before it is paused",
    ),
    (
        "resume-for.toml",
        Lines("[[steps]]\nat = \"5s\"\nfor = \"5s\"\nresume = { node = \"node-1\" }\n"),
        "steps[0].for: for goes with a fault that a later step can undo",
    ),
    (
        "pause-for-long.toml",
        Lines("[[steps]]\nat = \"5s\"\nfor = \"1m\"\npause = { node = \"node-1\" }\n"),
        "steps[0].for: the fault may end at 65s, at or past the run's end",
    ),
    (
        "slow-factor-low.toml",
        Step("slow = { node = \"node-2\", factor = 0.5 }"),
        ":7:36: steps[0].slow.factor: factor 0.5 is out of range; expected 1 to 1000",
    ),
    (
        "slow-factor-high.toml",
        Step("slow = { node = \"node-2\", factor = 5000.0 }"),
        "steps[0].slow.factor: factor 5000 is out of range; expected 1 to 1000",
    ),
    (
        "slow-factor-missing.toml",
        Step("slow = { node = \"node-2\" }"),
        "steps[0].slow: missing field `factor`",
    ),
    (
        "slow-lb.toml",
        Step("slow = { node = \"lb\", factor = 2.0 }"),
        "steps[0].slow.node: unknown node \"lb\"",
    ),
    (
        "pause-and-crash.toml",
        Step("pause = { node = \"node-1\" }\ncrash = { node = \"node-2\" }"),
        "steps[0]: expected exactly one action: crash, restart, isolate, split, one_way, bridge, heal, block, unblock, clock, pause, resume, slow",
    ),
];

/// Proves the pause, resume and slow steps refuse bad input with one error line naming
/// file:line:column and key, exit 2: unknown hosts and keys, a resume with nothing
/// paused or by role, a pause twice or of a host that is down, `for` on a resume or
/// past the run's end, a factor outside 1 to 1000 or missing, a slow of a host that is
/// not a node, two actions in one step.
#[test]
fn bad_pause_and_slow_steps() {
    assert_all_bad(BAD_HOST_STEPS);
}

/// Bad link steps (issue 18 item 3), and the error each gets: every setting at and past
/// its edges (loss 0 and 1 are accepted, below and above are not; bandwidth 1 and
/// 10000000 KB/s accepted, 0 and one more not; latency and jitter up to 1m, in whole
/// milliseconds).
const BAD_LINK_STEPS: &[(&str, Body, &str)] = &[
    (
        "link-loss-high.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], loss = 1.01 }"),
        ":7:49: steps[0].link.loss: loss 1.01 is out of range; expected a probability from 0 to 1",
    ),
    (
        "link-loss-negative.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], loss = -0.1 }"),
        "steps[0].link.loss: loss -0.1 is out of range; expected a probability from 0 to 1",
    ),
    (
        "link-bandwidth-zero.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], bandwidth_kb_per_s = 0 }"),
        "steps[0].link.bandwidth_kb_per_s: bandwidth_kb_per_s 0 is out of range; expected 1 to 10000000",
    ),
    (
        "link-bandwidth-high.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], bandwidth_kb_per_s = 10000001 }"),
        "steps[0].link.bandwidth_kb_per_s: bandwidth_kb_per_s 10000001 is out of range; expected 1 to 10000000",
    ),
    (
        "link-latency-long.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], latency = \"61s\" }"),
        "steps[0].link.latency: 61s is out of range; expected whole milliseconds from 0ms to 60s",
    ),
    (
        "link-jitter-fraction.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], jitter = \"1500us\" }"),
        "steps[0].link.jitter: 1.5ms is out of range; expected whole milliseconds from 0ms to 60s",
    ),
    (
        "link-latency-text.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], latency = \"fast\" }"),
        "steps[0].link.latency: invalid duration \"fast\"",
    ),
    (
        "link-host.toml",
        Step("link = { between = [\"node-1\"], and = [\"node-9\"], loss = 0.1 }"),
        "steps[0].link.and: unknown host \"node-9\"",
    ),
    (
        "link-role.toml",
        Step("link = { between = [\"primary\", \"node-2\"], loss = 0.1 }"),
        "steps[0].link.between: unknown host \"primary\"",
    ),
    (
        "link-one-host.toml",
        Step("link = { between = [\"node-1\"], loss = 0.1 }"),
        "steps[0].link.between: expected at least two hosts, or the other end in `and`",
    ),
    (
        "link-overlap.toml",
        Step("link = { between = [\"node-1\"], and = [\"node-1\", \"node-2\"], loss = 0.1 }"),
        "steps[0].link.and: node-1 is on both sides; expected disjoint groups",
    ),
    (
        "link-nothing.toml",
        Step("link = { between = [\"node-1\", \"node-2\"] }"),
        "steps[0].link: expected at least one of latency, jitter, loss, bandwidth_kb_per_s, or clear = true",
    ),
    (
        "link-clear-and-loss.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], loss = 0.1, clear = true }"),
        "steps[0].link.clear: clear = true restores the links; expected no latency, jitter, loss or bandwidth_kb_per_s beside it",
    ),
    (
        "link-clear-for.toml",
        Lines(
            "[[steps]]\nat = \"5s\"\nfor = \"5s\"\nlink = { between = [\"node-1\", \"node-2\"], clear = true }\n",
        ),
        "steps[0].for: for goes with a fault that a later step can undo",
    ),
    (
        "link-key.toml",
        Step("link = { between = [\"node-1\", \"node-2\"], rate = 100 }"),
        "steps[0].link.rate: unknown field `rate`",
    ),
];

/// Proves the link step refuses bad input with one error line naming file:line:column
/// and key, exit 2: loss, bandwidth, latency and jitter past their edges, a duration
/// that is not one, unknown hosts and roles, one host alone, overlapping groups, no
/// setting, `clear` beside a setting or with a `for`, an unknown key.
#[test]
fn bad_link_steps() {
    assert_all_bad(BAD_LINK_STEPS);
}

/// Proves the link step's settings at their edges load: loss 0 and 1, bandwidth 1 and
/// 10000000 KB/s, latency and jitter 0ms and 1m, a clear.
#[test]
fn link_steps_at_their_edges_load() {
    let edges = [
        "link = { between = [\"node-1\", \"node-2\"], loss = 0.0 }",
        "link = { between = [\"node-1\", \"node-2\"], loss = 1.0 }",
        "link = { between = [\"node-1\"], and = [\"node-2\", \"lb\"], bandwidth_kb_per_s = 1 }",
        "link = { between = [\"node-1\", \"node-2\"], bandwidth_kb_per_s = 10000000 }",
        "link = { between = [\"node-1\", \"node-2\"], latency = \"0ms\", jitter = \"1m\" }",
        "link = { between = [\"node-1\", \"node-2\"], latency = \"1m\" }",
        "link = { between = [\"node-1\", \"users\"], clear = true }",
    ];
    for (i, edge) in edges.iter().enumerate() {
        let path = write(&format!("link-edge-{i}.toml"), &Step(edge).text());
        let out = harness(&["check", path.to_str().expect("a UTF-8 path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(2),
            "{edge}: refused at load: {stderr}"
        );
        assert!(!stderr.contains("error"), "{edge}: {stderr}");
    }
}

/// Proves bad `[topology.monitoring]` settings are one clear error each, naming the file,
/// line, column, key and what was expected: an interval shorter than two timeouts, a
/// zero timeout, streaks of 0 or over 100 polls, an API key with a space, an unknown key.
#[test]
fn bad_cluster_ports_settings() {
    assert_all_bad(&[
        (
            "cluster-ports-fast.toml",
            Lines("[topology.cluster_ports]\ninterval = \"999ms\"\ncontact_max = \"2s\"\n"),
            ":6:12: topology.cluster_ports.interval: expected at least 1s",
        ),
        (
            "cluster-ports-interval.toml",
            Lines("[topology.cluster_ports]\nexchange = true\ninterval = \"0s\"\n"),
            ":7:12: topology.cluster_ports.interval: expected a duration above 0s and at most 1h",
        ),
        (
            "cluster-ports-contact.toml",
            Lines("[topology.cluster_ports]\ninterval = \"5s\"\ncontact_max = \"1ms\"\n"),
            ":7:15: topology.cluster_ports.contact_max: expected at least cluster_ports.interval",
        ),
        (
            "cluster-ports-exchange.toml",
            Lines("[topology.cluster_ports]\nexchange = \"yes\"\n"),
            ":6:12: topology.cluster_ports.exchange: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "cluster-ports-unknown.toml",
            Lines("[topology.cluster_ports]\nperiod = \"5s\"\n"),
            ":6:1: topology.cluster_ports.period: unknown field `period`",
        ),
    ]);
}

#[test]
fn bad_monitoring_settings() {
    assert_all_bad(&[
        (
            "monitoring-interval.toml",
            Lines("[topology.monitoring]\nenabled = true\ninterval = \"1s\"\n"),
            ":7:12: topology.monitoring.interval: expected an interval of at least twice monitoring.timeout",
        ),
        (
            "monitoring-fast.toml",
            Lines("[topology.monitoring]\nenabled = true\ninterval = \"2ms\"\ntimeout = \"1ms\"\n"),
            ":7:12: topology.monitoring.interval: expected at least 1s",
        ),
        (
            "monitoring-timeout.toml",
            Lines("[topology.monitoring]\ntimeout = \"0s\"\n"),
            ":6:11: topology.monitoring.timeout: expected a duration above 0s and at most 1h",
        ),
        (
            "monitoring-raise.toml",
            Lines("[topology.monitoring]\nraise_after = 0\n"),
            ":6:15: topology.monitoring.raise_after: expected 1 to 100 consecutive polls, found 0",
        ),
        (
            "monitoring-clear.toml",
            Lines("[topology.monitoring]\nclear_after = 101\n"),
            ":6:15: topology.monitoring.clear_after: expected 1 to 100 consecutive polls, found 101",
        ),
        (
            "monitoring-key.toml",
            Lines("[topology.monitoring]\napi_key = \"a b\"\n"),
            ":6:11: topology.monitoring.api_key: expected 1 to 128 printable ASCII characters without spaces",
        ),
        (
            "monitoring-unknown.toml",
            Lines("[topology.monitoring]\nperiod = \"5s\"\n"),
            ":6:1: topology.monitoring.period: unknown field `period`, expected one of `enabled`, `interval`",
        ),
    ]);
}
