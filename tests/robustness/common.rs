//! Processes for the robustness tests: a [`Proc`] that is killed when dropped, a served
//! service with the addresses its `listening:` lines report, and a forged datagram.
//!
//! Bounds: a service gets [`START`] to bind its ports; every client wait has its own
//! deadline in the module that waits.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a service may take to bind its ports.
pub const START: Duration = Duration::from_secs(30);

/// The scenario every test serves: tests/fixtures/serve/https.toml (the zone of
/// example.com, the balancer at 10.0.1.10, TTL 60 s).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve/https.toml")
}

/// A process a test started, its output read line by line (stdout and stderr both, so a
/// full pipe never stalls it). Dropping it kills and reaps it.
pub struct Proc {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        fn pump(from: impl Read + Send + 'static, prefix: &'static str, tx: mpsc::Sender<String>) {
            std::thread::spawn(move || {
                for line in BufReader::new(from).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(format!("{prefix}{line}")).is_err() {
                        break;
                    }
                }
            });
        }
        pump(child.stdout.take().expect("piped"), "out: ", tx.clone());
        pump(child.stderr.take().expect("piped"), "err: ", tx);
        Self {
            name: name.to_string(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Everything it printed so far.
    pub fn output(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// The first stderr line not yet read that starts with `prefix`, waiting up to
    /// `within`; the rest of the line after the prefix.
    pub fn wait_for(&mut self, within: Duration, prefix: &str) -> String {
        let wanted = format!("err: {prefix}");
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(&wanted) {
                        return rest.to_string();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let output = self.output();
                    panic!(
                        "{}: no `{prefix}` within {within:?}; its output:\n{output}",
                        self.name
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    let output = self.output();
                    panic!(
                        "{}: exited ({status:?}) before `{prefix}`; its output:\n{output}",
                        self.name
                    )
                }
            }
        }
    }

    /// Fails the test, with the process's output, if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let output = self.output();
            panic!("{}: exited ({status}); its output:\n{output}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && let Err(e) = self.child.kill()
        {
            eprintln!("{}: cannot kill: {e}", self.name);
        }
        if let Err(e) = self.child.wait() {
            eprintln!("{}: cannot reap: {e}", self.name);
        }
    }
}

/// A `harness serve` process and where its service port was bound.
pub struct Served {
    pub proc: Proc,
    /// The service's UDP address, when it has one.
    pub udp: Option<SocketAddr>,
    /// The service's TCP address, when it has one.
    pub tcp: Option<SocketAddr>,
}

/// Starts `harness serve SERVICE tests/fixtures/serve/https.toml --listen 127.0.0.1:0`
/// (any free port, the service's own included: NTP needs no port 123 here) and waits for
/// a `listening:` line for each of `protocols` (`"udp"`, `"tcp"`) on `port`.
pub fn serve(service: &str, port: u16, protocols: &[&str]) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command
        .args(["serve", service])
        .arg(fixture())
        .args(["--listen", "127.0.0.1:0"]);
    let mut proc = Proc::spawn(&format!("harness serve {service}"), command);
    let mut served = |protocol: &str| {
        protocols.contains(&protocol).then(|| {
            let prefix = format!("listening: {protocol}/{port} on ");
            let addr = proc.wait_for(START, &prefix);
            addr.parse()
                .unwrap_or_else(|e| panic!("{service}: `{prefix}{addr}`: {e}"))
        })
    };
    let (udp, tcp) = (served("udp"), served("tcp"));
    Served { proc, udp, tcp }
}

/// Sends `payload` to `to` in a UDP datagram from source port 0: legal on the wire, but
/// a reply to it fails (`sendto` returns EINVAL on Linux). Forged with a raw socket by
/// Debian's `/usr/bin/python3`, which needs root or CAP_NET_RAW.
pub fn send_from_port_zero(to: SocketAddr, payload: &[u8]) {
    const SCRIPT: &str = r#"
import socket, struct, sys
ip, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
# Source port 0, destination port, length, checksum 0 (none, allowed over IPv4).
raw.sendto(struct.pack("!HHHH", 0, port, 8 + len(payload), 0) + payload, (ip, 0))
"#;
    let python = Path::new("/usr/bin/python3");
    assert!(
        python.exists(),
        "/usr/bin/python3 is missing: run the tests with tools/test, which installs it"
    );
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let output = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(to.ip().to_string())
        .arg(to.port().to_string())
        .arg(hex)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "cannot forge a datagram from port 0 (a raw socket needs root or CAP_NET_RAW): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `len` bytes of deterministic garbage from `seed` (xorshift64): the same bytes on every
/// run, so a failure reproduces.
pub fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_be_bytes()[0]
        })
        .collect()
}
