//! `harness run --pcap`: the capture is read by the real tshark (Wireshark's dissectors):
//! node-loss's traffic decodes with no malformed packet and no TCP analysis error on the
//! healthy connections; DNS, SMTP with AUTH PLAIN, NTP and the replica set's TCP on 27017
//! are there; with the key log tshark decrypts the users' HTTPS and shows a `POST /login`
//! and its answer; the balancer's health checks to node-2 go unanswered while it is off.
//! And two captures of one scenario and seed are byte-identical (seeded TLS included).
//!
//! tshark is required, not optional: a missing one fails the test with the command that
//! installs it (`tools/test`), so a green run always means the capture was read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// node-2's address in node-loss (the nodes are 10.0.1.11-13).
const NODE_2: &str = "10.0.1.12";

/// The run's epoch, 2026-01-01T00:00:00Z, in Unix seconds (`clock::EPOCH_UNIX_S`).
const EPOCH_S: u64 = harness::clock::EPOCH_UNIX_S;

/// node-loss: node-2 loses power at 0:30 and is restarted at 1:30.
const NODE_2_OFF_S: u64 = 30;
const NODE_2_BACK_S: u64 = 90;

fn tshark() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("tshark"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "tshark is not installed: run the project's test command `tools/test`, which \
                 installs Debian's tshark before `cargo test`"
            )
        })
}

/// A fresh, empty directory for one case.
fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capture")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("the old case directory can be removed");
    }
    std::fs::create_dir_all(&dir).expect("the target tmp dir is writable");
    dir
}

/// Runs `harness run FILE --pcap DIR/run.pcap --tls-keylog DIR/keys.log` plus `extra`;
/// the capture's and key log's paths.
fn capture(file: &str, dir: &Path, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (pcap, keys) = (dir.join("run.pcap"), dir.join("keys.log"));
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", file, "--format", "json", "--pcap"])
        .arg(&pcap)
        .arg("--tls-keylog")
        .arg(&keys)
        .args(extra)
        .output()
        .expect("the harness runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "harness run failed: {stderr}");
    assert!(stderr.contains("capture: "), "{stderr}");
    (pcap, keys)
}

/// The fields of [`Row`], as tshark names them, in order.
const FIELDS: [&str; 16] = [
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.dstport",
    "tcp.srcport",
    "dns.qry.name",
    "dns.flags.response",
    "smtp.req.command",
    "smtp.req.parameter",
    "ntp.flags.mode",
    "http.request.uri",
    "http.response_for.uri",
    "http.response.code",
    "tcp.analysis.flags",
];

/// What the tests look at in node-loss's capture: the packets that are malformed or that
/// TCP analysis flags, and those of each protocol the tests read.
const FILTER: &str = "_ws.malformed || tcp.analysis.flags || dns || smtp || ntp || http \
    || (tcp.port == 27017 && tcp.len > 0) || tcp.flags.syn == 1";

/// One packet's fields (empty when absent), whether it is malformed, and its expert
/// messages (what a failure shows).
#[derive(Debug, Clone)]
struct Row {
    f: Vec<String>,
    malformed: bool,
    analysis: String,
}

impl Row {
    fn get(&self, name: &str) -> &str {
        let i = FIELDS
            .iter()
            .position(|f| *f == name)
            .expect("a listed field");
        &self.f[i]
    }

    fn time_s(&self) -> f64 {
        self.get("frame.time_epoch").parse().expect("a time")
    }
}

/// One tshark pass over `pcap` with `keys` as the TLS key log (if any): the rows of the
/// packets `filter` selects.
fn read(pcap: &Path, keys: Option<&Path>, filter: &str) -> Vec<Row> {
    let mut cmd = Command::new(tshark());
    cmd.arg("-n").arg("-r").arg(pcap);
    if let Some(keys) = keys {
        cmd.args(["-o", &format!("tls.keylog_file:{}", keys.display())]);
    }
    cmd.args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for name in FIELDS
        .iter()
        .chain(&["_ws.malformed", "_ws.expert.message"])
    {
        cmd.args(["-e", name]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("tshark prints UTF-8")
        .lines()
        .map(|line| {
            let mut f: Vec<String> = line.split('|').map(str::to_string).collect();
            f.resize(FIELDS.len() + 2, String::new());
            let expert = f.pop().unwrap_or_default();
            let malformed = !f.pop().unwrap_or_default().is_empty();
            Row {
                f,
                malformed,
                analysis: expert,
            }
        })
        .collect()
}

/// node-loss captured once, and read once by tshark with the key log, for every test here.
fn node_loss() -> &'static Vec<Row> {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let (pcap, keys) = capture("scenarios/node-loss.toml", &workdir("node-loss"), &[]);
        read(&pcap, Some(&keys), FILTER)
    })
}

/// Proves every packet of the capture decodes: no malformed packet anywhere, and no TCP
/// analysis warning or error (lost segments, retransmissions, out-of-order, duplicate
/// ACKs, window problems) on connections other than node-2's, whose traffic its power
/// loss cuts off.
#[test]
fn node_loss_decodes_cleanly() {
    let rows = node_loss();
    assert!(
        rows.len() > 10_000,
        "a busy run: {} packets read",
        rows.len()
    );
    let malformed: Vec<_> = rows.iter().filter(|r| r.malformed).collect();
    assert!(malformed.is_empty(), "malformed: {malformed:?}");
    let flagged: Vec<_> = rows
        .iter()
        .filter(|r| r.get("tcp.analysis.flags") == "1")
        .filter(|r| r.get("ip.src") != NODE_2 && r.get("ip.dst") != NODE_2)
        .collect();
    let why: Vec<(&str, &str, &str)> = flagged
        .iter()
        .map(|r| (r.get("ip.src"), r.get("ip.dst"), r.analysis.as_str()))
        .collect();
    assert!(
        flagged.is_empty(),
        "TCP analysis on healthy connections ({} packets): {:?}",
        why.len(),
        &why[..why.len().min(20)]
    );
}

/// Proves the protocols decode: DNS queries and answers for the four names node-loss
/// resolves (the users' `login.example.com`, the nodes' update, CDN and NTP servers), the
/// SMTP dialogue with AUTH PLAIN, NTP both ways, and the replica set's traffic on 27017
/// as TCP.
#[test]
fn node_loss_protocols_decode() {
    let rows = node_loss();
    for name in [
        "login.example.com",
        "updates.auth0.com",
        "cdn.auth0.com",
        "pool.ntp.org",
    ] {
        for response in ["0", "1"] {
            assert!(
                rows.iter()
                    .any(|r| r.get("dns.qry.name") == name
                        && r.get("dns.flags.response") == response),
                "no DNS {} for {name}",
                if response == "1" { "answer" } else { "query" }
            );
        }
    }
    let smtp: Vec<&str> = rows.iter().map(|r| r.get("smtp.req.command")).collect();
    for command in ["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"] {
        assert!(smtp.contains(&command), "no SMTP {command}");
    }
    assert!(
        rows.iter().any(|r| r.get("smtp.req.command") == "AUTH"
            && r.get("smtp.req.parameter").starts_with("PLAIN ")),
        "no AUTH PLAIN"
    );
    for mode in ["3", "4"] {
        assert!(
            rows.iter().any(|r| r.get("ntp.flags.mode") == mode),
            "no NTP mode {mode}"
        );
    }
    let replica = rows
        .iter()
        .filter(|r| r.get("tcp.dstport") == "27017" || r.get("tcp.srcport") == "27017")
        .count();
    assert!(replica > 100, "replica set segments with data: {replica}");
}

/// Proves the key log decrypts the users' HTTPS: a `POST /login` and its `200`.
#[test]
fn node_loss_key_log_decrypts_a_login() {
    let rows = node_loss();
    assert!(rows.iter().any(|r| r.get("http.request.uri") == "/login"));
    assert!(
        rows.iter().any(|r| r.get("http.response.code") == "200"
            && r.get("http.response_for.uri") == "https://login.example.com/login"),
        "no decrypted answer to POST /login"
    );
}

/// Proves the health checks to node-2 go unanswered while it is off: SYNs to it after its
/// power loss and before its restart, and nothing at all from it in that time (it
/// answered SYNs before).
#[test]
fn node_loss_health_checks_to_node_2_go_unanswered() {
    let rows = node_loss();
    #[allow(clippy::cast_precision_loss)] // Unix seconds of 2026 are exact in an f64.
    let (off, back) = (
        (EPOCH_S + NODE_2_OFF_S) as f64 + 0.5,
        (EPOCH_S + NODE_2_BACK_S) as f64,
    );
    let during = |r: &&Row| r.time_s() >= off && r.time_s() < back;
    let syn = |r: &&Row| r.get("tcp.flags.syn") == "1" && r.get("tcp.flags.ack") == "0";
    let checks = rows
        .iter()
        .filter(during)
        .filter(syn)
        .filter(|r| r.get("ip.dst") == NODE_2)
        .count();
    assert!(checks > 5, "SYNs to node-2 while it is off: {checks}");
    let answers: Vec<_> = rows
        .iter()
        .filter(during)
        .filter(|r| r.get("ip.src") == NODE_2)
        .collect();
    assert!(answers.is_empty(), "node-2 answered while off: {answers:?}");
    let before = rows
        .iter()
        .filter(|r| r.time_s() < off && r.get("ip.src") == NODE_2 && r.get("tcp.flags.syn") == "1")
        .count();
    assert!(before > 0, "node-2 answered SYNs before its power loss");
}

/// Proves a capture is deterministic: the same scenario and seed give byte-identical
/// captures and key logs (seeded TLS: even the encrypted bytes); that the key log is what
/// decrypts them (without it tshark sees no HTTP request on 443); and that the size bound
/// keeps a valid file, the full capture's beginning.
#[test]
fn same_seed_same_capture() {
    // sweep-tiny (a short node loss) with TLS on, so the users' HTTPS is in it.
    let tiny = std::fs::read_to_string("tests/fixtures/sweep-tiny.toml").expect("the fixture");
    let tls_off = "[topology.tls]\nenabled = false";
    assert!(tiny.contains(tls_off));
    let tiny = tiny.replace(tls_off, "[topology.tls]\nenabled = true");
    let dir = workdir("tiny");
    let path = dir.join("tiny-tls.toml");
    std::fs::write(&path, tiny).expect("the tmp dir is writable");
    let file = path.to_str().expect("a UTF-8 path");
    let seed = ["--seed", "7"];
    let (a, ka) = capture(file, &workdir("same-a"), &seed);
    let (b, kb) = capture(file, &workdir("same-b"), &seed);
    let bytes = |p: &Path| std::fs::read(p).expect("written");
    assert!(bytes(&a).len() > 10_000);
    assert!(bytes(&a) == bytes(&b), "the two captures differ");
    assert_eq!(bytes(&ka), bytes(&kb));
    // The users' requests to the balancer (it terminates TLS and forwards plain HTTP to
    // the nodes, which the filter leaves out).
    let https = "ip.dst == 10.0.1.10 && tcp.dstport == 443 && http.request";
    assert!(
        !read(&a, Some(&ka), https).is_empty(),
        "the key log decrypts"
    );
    assert!(
        read(&a, None, https).is_empty(),
        "nothing decrypts without it"
    );
    let (c, _) = capture(
        file,
        &workdir("cut"),
        &["--seed", "7", "--pcap-max-bytes", "5000"],
    );
    let cut = bytes(&c);
    assert!(cut.len() <= 5000 && cut.len() > 1000, "{}", cut.len());
    assert_eq!(
        &cut[..],
        &bytes(&a)[..cut.len()],
        "the beginning of the full capture"
    );
    assert!(!read(&c, None, "frame").is_empty());
}

/// Proves the limits keep only what they name: with `--pcap-host node-1 --pcap-port 443
/// --pcap-from 5s --pcap-until 10s`, every packet tshark reads is from or to node-1, on
/// port 443, and stamped within the window, and there are such packets.
#[test]
fn limits_keep_only_the_host_port_and_window_named() {
    const NODE_1: &str = "10.0.1.11";
    let limits = [
        "--pcap-host",
        "node-1",
        "--pcap-port",
        "443",
        "--pcap-from",
        "5s",
        "--pcap-until",
        "10s",
    ];
    let (pcap, _) = capture(
        "tests/fixtures/sweep-tiny.toml",
        &workdir("limits"),
        &limits,
    );
    let rows = read(&pcap, None, "frame");
    assert!(rows.len() > 20, "packets kept: {}", rows.len());
    #[allow(clippy::cast_precision_loss)] // Unix seconds of 2026 are exact in an f64.
    let (from, until) = ((EPOCH_S + 5) as f64, (EPOCH_S + 10) as f64);
    for r in &rows {
        assert!(
            r.get("ip.src") == NODE_1 || r.get("ip.dst") == NODE_1,
            "{r:?}"
        );
        assert!(
            r.get("tcp.srcport") == "443" || r.get("tcp.dstport") == "443",
            "{r:?}"
        );
        assert!(r.time_s() >= from && r.time_s() < until, "{r:?}");
    }
}
