//! Conformance: the harness's services on real sockets (`harness serve`), talked to by
//! programs nobody here wrote: dig, curl, swaks, sntp (ntpsec's ntpdig) and HAProxy
//! running the configuration `harness export haproxy` writes. `tools/test` installs them
//! (Debian 12's packages).
//!
//! Bounds: every service listens on a free loopback port (port 0, read back from its
//! `listening:` line; NTP needs port 123, see [`ntp_address`]); every wait has a deadline
//! ([`START`], [`STOP`], [`SETTLE`]) and every client its own timeout. Every process is
//! owned by a [`Proc`], which stops and reaps it when dropped, so a failed assertion
//! leaves nothing running; after a service stops, its port is bound again to prove it
//! was released.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The address curl sends from when the client must be told apart from the balancer
/// (127.0.0.1): all of 127.0.0.0/8 is loopback on Linux.
const CLIENT: &str = "127.0.0.77";
/// How long a service may take to bind its port (a generated certificate included).
const START: Duration = Duration::from_secs(30);
/// How long a process may take to exit once signalled, before it is killed.
const STOP: Duration = Duration::from_secs(5);
/// How long a balancer may take to change its mind about a backend. The scenarios check
/// every 500ms and need 2 results in a row: about a second; ten leave room for a loaded
/// machine.
const SETTLE: Duration = Duration::from_secs(10);
/// The login every test sends (an account of the node's directory).
const LOGIN: &str = r#"{"username":"user-1","password":"password-1"}"#;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// A program from Debian's packages; failing (not skipping) when it is missing.
fn program(name: &str) -> PathBuf {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: run the tests with tools/test, which installs it")
        })
}

/// A directory of the test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("harness-conformance-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// A process the test started, with its output read line by line. Dropping it stops it
/// (SIGTERM, then SIGKILL after [`STOP`]) and reaps it.
struct Proc {
    name: String,
    child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    /// Every line read so far, for failure messages.
    seen: Vec<(Stream, String)>,
}

impl Proc {
    fn spawn(name: &str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        fn pump(
            from: impl Read + Send + 'static,
            kind: Stream,
            tx: mpsc::Sender<(Stream, String)>,
        ) {
            std::thread::spawn(move || {
                for line in BufReader::new(from).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((kind, line)).is_err() {
                        break;
                    }
                }
            });
        }
        pump(child.stdout.take().expect("piped"), Stream::Out, tx.clone());
        pump(child.stderr.take().expect("piped"), Stream::Err, tx);
        Self {
            name: name.to_string(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn output(&self) -> String {
        self.seen
            .iter()
            .map(|(s, l)| format!("{}: {l}\n", if *s == Stream::Out { "out" } else { "err" }))
            .collect()
    }

    /// Reads every line printed so far, keeping them.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// The first line not yet read that `wanted` accepts, waiting up to `within`.
    fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        wanted: impl Fn(Stream, &str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => {
                    self.seen.push((stream, line.clone()));
                    if wanted(stream, &line) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{}: no {what} within {within:?}; its output:\n{}",
                    self.name,
                    self.output()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "{}: exited ({status:?}) before {what}; its output:\n{}",
                        self.name,
                        self.output()
                    )
                }
            }
        }
    }

    /// Sends `signal` (`INT`, `TERM`) and waits for the exit, killing it after [`STOP`].
    /// Sends `signal` (`STOP`, `CONT`) and returns at once.
    fn signal(&self, signal: &str) {
        let status = Command::new(program("kill"))
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}: {status}", self.name);
    }

    fn stop(&mut self, signal: &str) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        let _ = Command::new(program("kill"))
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + STOP;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("a killed child can be reaped");
        panic!(
            "{}: did not stop within {STOP:?} of SIG{signal}; killed ({status}); its output:\n{}",
            self.name,
            self.output()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + STOP;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A `harness serve` process and the address its service port was bound to.
struct Served {
    proc: Proc,
    addr: SocketAddr,
    udp: bool,
}

/// Starts `harness serve SERVICE tests/fixtures/SCENARIO --listen LISTEN ARGS…` and
/// waits for its service port to be bound.
fn serve(service: &str, scenario: &str, listen: SocketAddr, args: &[&str]) -> Served {
    let (protocol, port) = match service {
        "dns" => ("udp", 53),
        "ntp" => ("udp", 123),
        "smtp" => ("tcp", 587),
        "node" | "lb" => ("tcp", 443),
        other => panic!("no service {other}"),
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command
        .arg("serve")
        .arg(service)
        .arg(fixture(scenario))
        .arg("--listen")
        .arg(listen.to_string())
        .args(args);
    let name = format!("harness serve {service} {}", args.join(" "));
    let mut proc = Proc::spawn(&name, command);
    let prefix = format!("listening: {protocol}/{port} on ");
    let line = proc.wait_for(START, &prefix, |s, l| {
        s == Stream::Err && l.starts_with(&prefix)
    });
    let addr = line[prefix.len()..]
        .parse()
        .unwrap_or_else(|e| panic!("{name}: `{line}`: {e}"));
    Served {
        proc,
        addr,
        udp: protocol == "udp",
    }
}

impl Served {
    /// Stops it as Ctrl-C would, checks it said so and exited 0, and that its port is
    /// free again.
    fn stop(mut self) {
        let status = self.proc.stop("INT");
        assert!(
            status.success(),
            "{}: exited {status} on SIGINT; its output:\n{}",
            self.proc.name,
            self.proc.output()
        );
        self.proc
            .wait_for(STOP, "`stopped`", |s, l| s == Stream::Err && l == "stopped");
        let released = if self.udp {
            std::net::UdpSocket::bind(self.addr).map(drop)
        } else {
            std::net::TcpListener::bind(self.addr).map(drop)
        };
        assert!(
            released.is_ok(),
            "{}: {} still taken after it stopped: {released:?}",
            self.proc.name,
            self.addr
        );
    }

    /// Waits for an event (a JSON line on stdout) that contains every one of `parts`.
    fn event(&mut self, parts: &[&str]) -> String {
        self.proc
            .wait_for(SETTLE, &format!("event with {parts:?}"), |s, l| {
                s == Stream::Out && parts.iter().all(|p| l.contains(p))
            })
    }
}

fn any_port() -> SocketAddr {
    SocketAddr::new(LOOPBACK, 0)
}

/// A free TCP port on loopback, for a program that cannot report the port it bound
/// (HAProxy): bound, read and released.
fn free_tcp_port() -> SocketAddr {
    std::net::TcpListener::bind(any_port())
        .and_then(|l| l.local_addr())
        .expect("loopback has free ports")
}

/// Runs a client to completion, killing it after `within` (each client here also has a
/// timeout of its own, shorter).
fn run(mut command: Command, within: Duration) -> Output {
    let name = format!("{command:?}");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("a child can be waited for") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: still running after {within:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().expect("reader"),
        stderr: err.join().expect("reader"),
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `curl ARGS…`: the status code and the body.
fn curl(args: &[&str]) -> (u16, String) {
    let mut command = Command::new(program("curl"));
    command
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(["--write-out", "\n%{http_code}"])
        .args(args);
    let output = run(command, Duration::from_secs(15));
    let all = String::from_utf8_lossy(&output.stdout).to_string();
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", &all));
    let code = code
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl {args:?}: no status code; {}", text(&output)));
    (code, body.to_string())
}

/// Logs `user-1` in with curl over TLS at `https://login.example.com:PORT/login`
/// (resolved to `at`), verifying the certificate against `ca`, sent from [`CLIENT`];
/// returns the node that issued the token (its JWT's `iss`).
fn login(at: SocketAddr, ca: &Path) -> String {
    let url = format!("https://login.example.com:{}/login", at.port());
    let resolve = format!("login.example.com:{}:{}", at.port(), at.ip());
    let ca = ca.display().to_string();
    let (code, body) = curl(&[
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "--interface",
        CLIENT,
        "--header",
        "content-type: application/json",
        "--data",
        LOGIN,
        &url,
    ]);
    assert_eq!(code, 200, "login through {at}: {body}");
    issuer(&body)
}

/// The `iss` claim of the access token in a login's answer.
fn issuer(body: &str) -> String {
    let answer: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("`{body}`: {e}"));
    let token = answer["access_token"].as_str().expect("an access token");
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    claims["iss"].as_str().expect("an issuer").to_string()
}

/// Serves `node-1` and `node-2` of `scenario`, each on a free loopback port; in https
/// mode believing the X-Forwarded-For of the balancer on loopback ([`TRUST_LOOPBACK`]).
fn two_nodes(scenario: &str) -> [Served; 2] {
    let trust: &[&str] = if scenario == "serve/https.toml" {
        &TRUST_LOOPBACK
    } else {
        &[]
    };
    ["node-1", "node-2"].map(|name| {
        let args = [&["--node", name][..], trust].concat();
        serve("node", scenario, any_port(), &args)
    })
}

/// A served https-mode node believes no X-Forwarded-For unless told whose: here the
/// balancer's, which connects from 127.0.0.1.
const TRUST_LOOPBACK: [&str; 2] = ["--trust-proxy", "127.0.0.1"];

/// Four logins through `at` (see [`login`]) go round robin over both nodes.
fn assert_logins_round_robin(at: SocketAddr, ca: &Path) {
    let issuers: Vec<String> = (0..4).map(|_| login(at, ca)).collect();
    assert_ne!(issuers[0], issuers[1], "{issuers:?}");
    assert_eq!(issuers[0], issuers[2], "{issuers:?}");
    assert_eq!(issuers[1], issuers[3], "{issuers:?}");
    let mut both = issuers[..2].to_vec();
    both.sort();
    assert_eq!(both, ["node-1", "node-2"]);
}

/// `dig` asks the served zone for the four names and gets the balancer's address with
/// the zone's TTL, and NXDOMAIN for a name the zone does not have.
#[test]
fn dig_resolves_the_four_names_and_gets_nxdomain_for_an_unknown_one() {
    let dns = serve("dns", "serve/https.toml", any_port(), &[]);
    let dig = |name: &str| {
        let mut command = Command::new(program("dig"));
        command
            .arg(format!("@{}", dns.addr.ip()))
            .args(["-p", &dns.addr.port().to_string()])
            .args(["+time=2", "+tries=1", name, "A"]);
        let output = run(command, Duration::from_secs(10));
        assert!(output.status.success(), "dig {name}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    for name in [
        "manage.example.com",
        "config.example.com",
        "webtask.example.com",
        "login.example.com",
    ] {
        let out = dig(name);
        assert!(out.contains("status: NOERROR"), "{name}:\n{out}");
        assert!(
            out.contains("flags: qr aa"),
            "{name}: not authoritative:\n{out}"
        );
        let answers: Vec<Vec<&str>> = out
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        let expected = format!("{name}.");
        assert_eq!(
            answers,
            [vec![expected.as_str(), "60", "IN", "A", "10.0.1.10"]],
            "{name}:\n{out}"
        );
    }
    let out = dig("nosuch.example.com");
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");
    dns.stop();
}

/// curl reaches a node's `/testall` directly, then logs in four times through the
/// harness's load balancer (TLS verified against the CA it wrote with `--ca-out`) and
/// goes round robin over two nodes, each of which sees curl's own address through the
/// balancer's X-Forwarded-For.
#[test]
fn curl_logs_in_through_the_harness_lb_round_robin_with_x_forwarded_for() {
    let dir = TempDir::new("curl");
    let [mut node1, mut node2] = two_nodes("serve/https.toml");
    let (code, body) = curl(&[&format!("http://{}/testall", node1.addr)]);
    assert_eq!((code, body.as_str()), (200, "OK"));

    let ca = dir.path("ca.pem");
    let backend1 = format!("node-1={}", node1.addr);
    let backend2 = format!("node-2={}", node2.addr);
    let ca_arg = ca.display().to_string();
    let lb = serve(
        "lb",
        "serve/https.toml",
        any_port(),
        &[
            "--backend",
            &backend1,
            "--backend",
            &backend2,
            "--ca-out",
            &ca_arg,
        ],
    );
    assert_logins_round_robin(lb.addr, &ca);
    for node in [&mut node1, &mut node2] {
        node.event(&["\"client_seen\"", CLIENT, "x-forwarded-for"]);
    }
    lb.stop();
    node1.stop();
    node2.stop();
}

/// swaks delivers a message with AUTH PLAIN, and without AUTH is refused 530 at MAIL.
#[test]
fn swaks_delivers_with_auth_plain_and_is_refused_530_without() {
    let mut smtp = serve("smtp", "serve/https.toml", any_port(), &[]);
    let server = smtp.addr.to_string();
    let swaks = |auth: bool| {
        let mut command = Command::new(program("swaks"));
        command
            .args(["--server", &server])
            .args([
                "--from",
                "appliance@example.com",
                "--to",
                "user-1@example.com",
            ])
            .args(["--timeout", "10"]);
        if auth {
            command.args([
                "--auth",
                "PLAIN",
                "--auth-user",
                "appliance",
                "--auth-password",
                "smtp-secret",
            ]);
        }
        run(command, Duration::from_secs(20))
    };
    let with = swaks(true);
    let transcript = text(&with);
    assert!(with.status.success(), "{transcript}");
    assert!(transcript.contains("<-  235 "), "{transcript}");
    assert!(
        transcript.contains("<-  250 2.0.0 OK queued"),
        "{transcript}"
    );
    smtp.event(&["\"mail_accepted\"", "user-1@example.com"]);

    let without = swaks(false);
    let transcript = text(&without);
    // swaks exits 23 when the server refuses MAIL FROM.
    assert_eq!(without.status.code(), Some(23), "{transcript}");
    assert!(transcript.contains("<** 530 "), "{transcript}");
    smtp.stop();
}

/// ntpdig reads only port 123, so the NTP server gets an address of its own on
/// loopback: the first 127.0.0.N (N from 123) whose port 123 is free.
fn ntp_address() -> SocketAddr {
    (123..=250)
        .map(|n| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)), 123))
        .find(|a| std::net::UdpSocket::bind(a).is_ok())
        .expect("a loopback address with UDP port 123 free (binding it needs root or CAP_NET_BIND_SERVICE)")
}

/// sntp (ntpsec's ntpdig) reads the served time and measures the offset the server was
/// given, within a second, from a server speaking stratum 2 without a leap warning.
#[test]
fn sntp_measures_the_offset_the_ntp_server_was_given() {
    for (offset, seconds) in [("10m", 600.0), ("-90s", -90.0)] {
        let ntp = serve(
            "ntp",
            "serve/https.toml",
            ntp_address(),
            &["--clock-offset", offset],
        );
        let mut command = Command::new(program("sntp"));
        command
            .args(["-j", "-t", "2"])
            .arg(ntp.addr.ip().to_string());
        let output = run(command, Duration::from_secs(10));
        assert!(output.status.success(), "sntp: {}", text(&output));
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("sntp -j: {e}: {}", text(&output)));
        let measured = answer["offset"].as_f64().expect("an offset");
        assert!(
            (measured - seconds).abs() < 1.0,
            "{offset}: sntp measured {measured}s: {answer}"
        );
        assert_eq!(answer["stratum"], 2, "{answer}");
        assert_eq!(answer["leap"], "no-leap", "{answer}");
        ntp.stop();
    }
}

/// HAProxy running `harness export haproxy` with a stats socket added by a second file
/// (`-f`), so the exported file runs unchanged.
struct Haproxy {
    proc: Proc,
    socket: PathBuf,
    /// One HAProxy at a time ([`TIMED`]), so a timed comparison runs alone.
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl Haproxy {
    fn start(
        dir: &TempDir,
        scenario: &str,
        listen: SocketAddr,
        nodes: &[&Served],
        cert: Option<&Path>,
    ) -> Self {
        let config = dir.path("haproxy.cfg");
        let mut export = Command::new(env!("CARGO_BIN_EXE_harness"));
        export
            .args(["export", "haproxy"])
            .arg(fixture(scenario))
            .arg("-o")
            .arg(&config)
            .args(["--listen", &listen.to_string()]);
        for (i, node) in nodes.iter().enumerate() {
            export.args(["--server", &format!("node-{}={}", i + 1, node.addr)]);
        }
        if let Some(cert) = cert {
            export.arg("--cert").arg(cert);
        }
        let output = run(export, Duration::from_secs(30));
        assert!(output.status.success(), "export: {}", text(&output));
        let exported = std::fs::read_to_string(&config).expect("the export wrote the file");
        // The health check's timing is the scenario's (500ms, rise 2, fall 2).
        assert!(
            exported.contains("default-server inter 500ms rise 2 fall 2"),
            "{exported}"
        );
        let socket = dir.path("admin.sock");
        let extra = dir.path("admin.cfg");
        std::fs::write(
            &extra,
            format!(
                "global\n    stats socket {} mode 600 level admin\n",
                socket.display()
            ),
        )
        .expect("the temporary directory is writable");
        let mut command = Command::new(program("haproxy"));
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .arg("-f")
            .arg(&extra);
        let alone = TIMED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let proc = Proc::spawn("haproxy", command);
        let mut haproxy = Self {
            proc,
            socket,
            _alone: alone,
        };
        let deadline = Instant::now() + START;
        while !haproxy.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "haproxy did not open its stats socket; its output:\n{}\n{exported}",
                haproxy.drain()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        haproxy
    }

    /// Everything HAProxy printed so far.
    fn drain(&mut self) -> String {
        self.proc.drain();
        self.proc.output()
    }

    /// HAProxy's own view of a server: `show stat`'s status column (`UP`, `DOWN`,
    /// `UP 1/2` while a fall is counted…).
    fn status(&self, server: &str) -> String {
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)
            .expect("the stats socket accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a timeout can be set");
        stream
            .write_all(b"show stat\n")
            .expect("the stats socket reads");
        let mut csv = String::new();
        stream
            .read_to_string(&mut csv)
            .expect("the stats socket answers");
        let header: Vec<&str> = csv
            .lines()
            .next()
            .expect("a header")
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name).expect("a column");
        let (px, sv, status) = (column("pxname"), column("svname"), column("status"));
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.len() > status && f[px] == "nodes" && f[sv] == server)
            .map(|f| f[status].to_string())
            .unwrap_or_else(|| panic!("no server {server} in:\n{csv}"))
    }

    /// Waits (up to [`SETTLE`]) for HAProxy to call `server` exactly `wanted`.
    fn wait_status(&mut self, server: &str, wanted: &str) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let status = self.status(server);
            if status == wanted {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "haproxy still says {server} is {status}, not {wanted}, after {SETTLE:?}; its output:\n{}",
                    self.drain()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        // SIGUSR1: HAProxy's soft stop, which closes the listeners and exits 0 once idle.
        let status = self.proc.stop("USR1");
        assert!(
            status.success(),
            "haproxy exited {status}: {}",
            self.drain()
        );
    }
}

/// The real HAProxy, configured by `harness export haproxy` (https mode), in front of two
/// served nodes: its `/testall` checks find both up, logins go round robin with curl's
/// address in X-Forwarded-For; a node stopped is taken out (every login goes to the
/// other), and the node started again on the same port is put back.
#[test]
fn haproxy_from_export_checks_testall_and_takes_a_stopped_node_out_and_back() {
    let dir = TempDir::new("haproxy-https");
    let [mut node1, node2] = two_nodes("serve/https.toml");
    let listen = free_tcp_port();
    let mut haproxy = haproxy_https(&dir, listen, &[&node1, &node2]);
    haproxy.wait_status("node-1", "UP");
    haproxy.wait_status("node-2", "UP");
    let ca = fixture("certs").join("ca.pem");
    assert_logins_round_robin(listen, &ca);
    node1.event(&["\"client_seen\"", CLIENT, "x-forwarded-for"]);

    let node2_addr = node2.addr;
    node2.stop();
    haproxy.wait_status("node-2", "DOWN");
    let issuers: Vec<String> = (0..4).map(|_| login(listen, &ca)).collect();
    assert_eq!(issuers, ["node-1"; 4]);

    let node2 = serve(
        "node",
        "serve/https.toml",
        node2_addr,
        &["--node", "node-2", TRUST_LOOPBACK[0], TRUST_LOOPBACK[1]],
    );
    haproxy.wait_status("node-2", "UP");
    assert_logins_round_robin(listen, &ca);

    haproxy.stop();
    node1.stop();
    node2.stop();
}

/// HAProxy in tcp mode with PROXY v2 (`harness export haproxy` of tcp.toml) in front of
/// two served nodes that terminate TLS with the scenario's certificate files: its checks
/// (TLS and the PROXY header too) find both up, and each node reads curl's address from
/// the PROXY header HAProxy sent.
#[test]
fn haproxy_tcp_mode_sends_a_proxy_v2_header_the_nodes_parse() {
    let dir = TempDir::new("haproxy-tcp");
    let [mut node1, mut node2] = two_nodes("serve/tcp.toml");
    let listen = free_tcp_port();
    let mut haproxy = Haproxy::start(&dir, "serve/tcp.toml", listen, &[&node1, &node2], None);
    haproxy.wait_status("node-1", "UP");
    haproxy.wait_status("node-2", "UP");
    let ca = fixture("certs/ca.pem");
    assert_logins_round_robin(listen, &ca);
    for node in [&mut node1, &mut node2] {
        node.event(&["\"client_seen\"", CLIENT, "proxy v2"]);
    }
    haproxy.stop();
    node1.stop();
    node2.stop();
}

/// The harness's own balancer in tcp mode with PROXY v2 (tcp.toml) in front of two
/// served nodes: its checks speak the PROXY header and TLS to the nodes and find them up,
/// logins go round robin, and each node reads curl's address from the PROXY header.
#[test]
fn harness_lb_in_tcp_mode_checks_over_tls_and_sends_proxy_v2() {
    let [mut node1, mut node2] = two_nodes("serve/tcp.toml");
    let backend1 = format!("node-1={}", node1.addr);
    let backend2 = format!("node-2={}", node2.addr);
    let mut lb = serve(
        "lb",
        "serve/tcp.toml",
        any_port(),
        &["--backend", &backend1, "--backend", &backend2],
    );
    // Backends start up; two failed checks in a row (1 s) would take one down. After
    // 1.2 s of checks every 500ms, no check has failed for a reason of its protocol (TLS,
    // the PROXY header, the answer): a failing check is an event, a passing one on an up
    // backend is not. A check that ran out of time (300 ms) on a loaded machine says
    // nothing of the protocol and is let through; the logins below still need both
    // backends in rotation.
    std::thread::sleep(Duration::from_millis(1200));
    lb.proc.drain();
    let checks: Vec<&String> = lb
        .proc
        .seen
        .iter()
        .filter(|(s, l)| *s == Stream::Out && l.contains("\"kind\":\"check\""))
        .filter(|(_, l)| {
            // A pass forgiving a timeout's count is an event too.
            let passed = l.contains("\"detail\":\"200 OK\"");
            let out_of_time = l.contains("\"detail\":\"connect timed out after ")
                || l.contains("\"detail\":\"no response within ");
            !passed && !out_of_time
        })
        .map(|(_, l)| l)
        .collect();
    assert!(checks.is_empty(), "checks failed: {checks:#?}");
    let ca = fixture("certs/ca.pem");
    assert_logins_round_robin(lb.addr, &ca);
    for node in [&mut node1, &mut node2] {
        node.event(&["\"client_seen\"", CLIENT, "proxy v2"]);
    }
    lb.stop();
    node1.stop();
    node2.stop();
}

// ---------------------------------------------------------------------------------------
// Mail: what a served node records as sent against what a served relay accepted.

/// The `message_id` of every `kind` event (`mail_sent`, `mail_accepted`) `served` printed
/// (one JSON line each: `{"at_ms", "host", "kind", ...fields}`).
fn mail_ids(served: &mut Served, kind: &str) -> Vec<String> {
    served.proc.drain();
    served
        .proc
        .seen
        .iter()
        .filter(|(s, _)| *s == Stream::Out)
        .filter_map(|(_, line)| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|event| {
            (event["kind"] == kind)
                .then(|| event["message_id"].as_str().map(String::from))
                .flatten()
        })
        .collect()
}

/// A signup whose username smuggles SMTP commands (CR LF, a `DATA` and a message of the
/// attacker's, then a new transaction) is refused 400 by a served node; an ordinary
/// signup's verification mail is relayed; and every message the node records as sent is
/// one the served relay accepted (the check the mail checker makes in the simulation).
#[test]
fn a_signup_cannot_inject_smtp_commands_and_every_sent_mail_was_accepted() {
    let mut smtp = serve("smtp", "serve/https.toml", any_port(), &[]);
    let relay = smtp.addr.to_string();
    let mut node = serve("node", "serve/https.toml", any_port(), &["--smtp", &relay]);
    let url = format!("http://{}/signup", node.addr);
    let injected = r#"{"username":"victim@external.example>\r\nDATA\r\nFrom: boss@example.com\r\n\r\nwire the money\r\n.\r\nMAIL FROM:<no-reply@example.com>\r\nRCPT TO:<u","password":"p"}"#;
    let signup = |body: &str| {
        curl(&[
            "--header",
            "content-type: application/json",
            "--data",
            body,
            &url,
        ])
    };
    let (code, answer) = signup(injected);
    assert_eq!(code, 400, "the injected username was taken: {answer}");
    // Over-long names: 60,000 characters made every later login fail 502 (a token over
    // the balancer's 64 KB body bound), 3,000 a mail the relay refused forever.
    for length in [3_000, 60_000] {
        let body = format!(r#"{{"username":"{}","password":"p"}}"#, "a".repeat(length));
        let (code, answer) = signup(&body);
        assert_eq!(
            code, 400,
            "a {length}-character username was taken: {answer}"
        );
    }
    let (code, answer) = signup(r#"{"username":"alice","password":"p"}"#);
    assert_eq!(code, 201, "{answer}");
    node.event(&["\"mail_sent\"", "verify-alice@example.com"]);
    smtp.event(&["\"mail_accepted\"", "verify-alice@example.com"]);
    let accepted = mail_ids(&mut smtp, "mail_accepted");
    let sent = mail_ids(&mut node, "mail_sent");
    let never_accepted: Vec<&String> = sent.iter().filter(|id| !accepted.contains(id)).collect();
    assert!(
        never_accepted.is_empty(),
        "recorded as sent, never accepted: {never_accepted:?} (accepted: {accepted:?})"
    );
    assert_eq!(accepted, ["<verify-alice@example.com>"]);
    node.stop();
    smtp.stop();
}

/// Python's smtplib (Debian's `/usr/bin/python3`, standard library only) upgrades a
/// session with STARTTLS, verifying the relay's certificate for the address it dialed
/// against the CA `--ca-out` wrote, sees STARTTLS no longer offered inside TLS, logs in
/// with AUTH PLAIN and has a message accepted.
#[test]
fn smtplib_starttls_logs_in_and_delivers_over_tls() {
    let dir = TempDir::new("smtp-starttls");
    let ca = dir.path("ca.pem");
    let ca_arg = ca.display().to_string();
    let mut smtp = serve(
        "smtp",
        "serve/https.toml",
        any_port(),
        &["--ca-out", &ca_arg],
    );
    let script = r#"
import smtplib, ssl, sys
host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=ca)
with smtplib.SMTP(host, port, timeout=10) as s:
    s.ehlo("client")
    assert s.has_extn("starttls"), "STARTTLS not offered"
    s.starttls(context=context)
    s.ehlo("client")
    assert not s.has_extn("starttls"), "STARTTLS offered again inside TLS"
    s.login("appliance", "smtp-secret")
    s.sendmail("a@example.com", ["user-1@example.com"],
               "Message-ID: <over-tls@example.com>\r\nSubject: hi\r\n\r\nsent over TLS\r\n")
print("delivered over TLS", s.sock.version() if s.sock else "")
"#;
    let mut command = Command::new("/usr/bin/python3");
    command
        .arg("-c")
        .arg(script)
        .arg(smtp.addr.ip().to_string())
        .arg(smtp.addr.port().to_string())
        .arg(&ca_arg);
    let output = run(command, Duration::from_secs(20));
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("delivered over TLS"),
        "{}",
        text(&output)
    );
    smtp.event(&["\"mail_accepted\"", "<over-tls@example.com>"]);
    smtp.stop();
}

// ---------------------------------------------------------------------------------------
// DNS over TCP and EDNS (issue 12): dig and Debian's dnspython against `harness serve dns`.
// Self-contained: it uses the helpers above (serve, run, program, text) and nothing below
// uses it.

/// The four names the served zone (tests/fixtures/serve/https.toml) holds, all at the
/// balancer's 10.0.1.10 with a TTL of 60 s.
const DNS_NAMES: [&str; 4] = [
    "manage.example.com",
    "config.example.com",
    "webtask.example.com",
    "login.example.com",
];

/// Serves the DNS zone and waits for its TCP port too: the same port as its UDP one, so
/// a resolver that gets a truncated answer retries where it asked.
fn serve_dns_udp_and_tcp() -> Served {
    let mut dns = serve("dns", "serve/https.toml", any_port(), &[]);
    let prefix = "listening: tcp/53 on ";
    let line = dns.proc.wait_for(START, prefix, |s, l| {
        s == Stream::Err && l.starts_with(prefix)
    });
    let tcp: SocketAddr = line[prefix.len()..]
        .parse()
        .unwrap_or_else(|e| panic!("`{line}`: {e}"));
    assert_eq!(tcp, dns.addr, "TCP and UDP on one port");
    dns
}

/// `dig @ADDR -p PORT ARGS…`'s output, failing on a non-zero exit.
fn dig_at(addr: SocketAddr, args: &[&str]) -> String {
    let mut command = Command::new(program("dig"));
    command
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args(["+time=2", "+tries=1"])
        .args(args);
    let output = run(command, Duration::from_secs(10));
    assert!(output.status.success(), "dig {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The answer section of dig's output, one record a line split into its fields.
fn dig_answers(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// `dig +tcp` gets each of the four records, authoritative, over one TCP connection per
/// query (dig's `+tcp` says so in its footer: `(TCP)`).
#[test]
fn dig_over_tcp_gets_the_four_records() {
    let dns = serve_dns_udp_and_tcp();
    for name in DNS_NAMES {
        let out = dig_at(dns.addr, &["+tcp", name, "A"]);
        assert!(out.contains("status: NOERROR"), "{name}:\n{out}");
        assert!(out.contains("flags: qr aa"), "{name}:\n{out}");
        assert!(out.contains("(TCP)"), "{name}: not over TCP:\n{out}");
        let owner = format!("{name}.");
        assert_eq!(
            dig_answers(&out),
            [[owner.as_str(), "60", "IN", "A", "10.0.1.10"]],
            "{name}:\n{out}"
        );
    }
    dns.stop();
}

/// Runs `script` with Debian's `/usr/bin/python3` (never whichever python3 is first on
/// the PATH) and Debian's python3-dnspython, and parses the JSON it prints. Fails, not
/// skips, when either is missing: tools/test installs both.
fn dnspython(script: &str, addr: SocketAddr) -> serde_json::Value {
    let python = Path::new("/usr/bin/python3");
    assert!(
        python.exists(),
        "/usr/bin/python3 is missing: run the tests with tools/test, which installs python3-dnspython"
    );
    let mut command = Command::new(python);
    command
        .arg("-c")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string());
    let output = run(command, Duration::from_secs(30));
    let all = text(&output);
    assert!(
        !all.contains("No module named 'dns'"),
        "python3-dnspython is missing: run the tests with tools/test, which installs it\n{all}"
    );
    assert!(output.status.success(), "dnspython: {all}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("dnspython: {e}: {all}"))
}

/// dnspython's own TCP client (`dns.query.tcp`, two-byte length prefix, RFC 7766) and
/// its stub resolver told to use TCP get the four records: the client's rcode, AA flag
/// and records, printed as JSON.
const DNSPYTHON_TCP: &str = r#"
import json, sys
import dns.flags, dns.message, dns.query, dns.rcode, dns.resolver
ip, port = sys.argv[1], int(sys.argv[2])
names = ["manage.example.com", "config.example.com", "webtask.example.com", "login.example.com"]
out = {"query": {}, "resolver": {}}
for name in names:
    reply = dns.query.tcp(dns.message.make_query(name, "A"), ip, port=port, timeout=5)
    out["query"][name] = {
        "rcode": dns.rcode.to_text(reply.rcode()),
        "aa": bool(reply.flags & dns.flags.AA),
        "records": [f"{rrset.name} {rrset.ttl} {rd}" for rrset in reply.answer for rd in rrset],
    }
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = [ip]
resolver.port = port
resolver.lifetime = 5
for name in names:
    answer = resolver.resolve(name, "A", tcp=True)
    out["resolver"][name] = [rd.address for rd in answer]
print(json.dumps(out))
"#;

/// dnspython over TCP: `dns.query.tcp` and the resolver with `tcp=True` get the four
/// authoritative records.
#[test]
fn dnspython_over_tcp_gets_the_four_records() {
    let dns = serve_dns_udp_and_tcp();
    let out = dnspython(DNSPYTHON_TCP, dns.addr);
    for name in DNS_NAMES {
        let reply = &out["query"][name];
        assert_eq!(reply["rcode"], "NOERROR", "{name}: {out}");
        assert_eq!(reply["aa"], true, "{name}: {out}");
        assert_eq!(
            reply["records"],
            serde_json::json!([format!("{name}. 60 10.0.1.10")]),
            "{name}: {out}"
        );
        assert_eq!(
            out["resolver"][name],
            serde_json::json!(["10.0.1.10"]),
            "{name}: {out}"
        );
    }
    dns.stop();
}

/// `dig` sends EDNS(0) by default (`+bufsize=1232`, and a COOKIE option): the served
/// zone answers with an OPT record of its own (version 0, UDP size 1232), and `+noedns`
/// gets none. dig prints the OPT record as its "OPT PSEUDOSECTION".
#[test]
fn dig_with_edns_gets_an_opt_record() {
    let dns = serve_dns_udp_and_tcp();
    for (args, opt) in [
        (&["+bufsize=4096"][..], true),
        (&["+bufsize=512"], true),
        (&["+tcp", "+bufsize=1232"], true),
        (&["+noedns"], false),
    ] {
        let out = dig_at(dns.addr, &[args, &["login.example.com", "A"]].concat());
        assert!(out.contains("status: NOERROR"), "{args:?}:\n{out}");
        assert_eq!(
            out.contains("; EDNS: version: 0, flags:; udp: 1232"),
            opt,
            "{args:?}:\n{out}"
        );
        assert_eq!(
            dig_answers(&out),
            [["login.example.com.", "60", "IN", "A", "10.0.1.10"]],
            "{args:?}:\n{out}"
        );
    }
    dns.stop();
}

/// dnspython over UDP with EDNS: version 0 at 1232 bytes gets the record and the
/// server's OPT (its version and UDP size); version 1 gets BADVERS (RFC 6891 6.1.3).
const DNSPYTHON_EDNS: &str = r#"
import json, sys
import dns.message, dns.query, dns.rcode
ip, port = sys.argv[1], int(sys.argv[2])
out = {}
for version in (0, 1):
    query = dns.message.make_query("login.example.com", "A")
    # make_query(use_edns=1) sends version 0 in dnspython 2.3: 1 == True.
    query.use_edns(version, payload=1232)
    reply = dns.query.udp(query, ip, port=port, timeout=5)
    out[str(version)] = {
        "rcode": dns.rcode.to_text(reply.rcode()),
        "edns": reply.edns,
        "payload": reply.payload,
        "records": [f"{rrset.name} {rrset.ttl} {rd}" for rrset in reply.answer for rd in rrset],
    }
print(json.dumps(out))
"#;

/// dnspython's `dns.query.udp` with EDNS(0) gets the answer and an OPT record (version
/// 0, 1232 bytes); with EDNS version 1 it gets BADVERS and no records.
#[test]
fn dnspython_over_udp_with_edns_gets_an_opt_record_and_badvers() {
    let dns = serve_dns_udp_and_tcp();
    let out = dnspython(DNSPYTHON_EDNS, dns.addr);
    assert_eq!(
        out["0"],
        serde_json::json!({
            "rcode": "NOERROR",
            "edns": 0,
            "payload": 1232,
            "records": ["login.example.com. 60 10.0.1.10"],
        }),
        "{out}"
    );
    assert_eq!(out["1"]["rcode"], "BADVERS", "{out}");
    assert_eq!(out["1"]["edns"], 0, "{out}");
    assert_eq!(out["1"]["records"], serde_json::json!([]), "{out}");
    dns.stop();
}

/// Held by every running [`Haproxy`]: the suite runs one HAProxy at a time, so the timed
/// side-by-side shares the machine with no other HAProxy test.
static TIMED: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// How often the side-by-side reads HAProxy's status, in ms: the real figures are late by
/// at most this much.
const STATUS_POLL_MS: u64 = 20;
/// Real trials of the side-by-side (each kills and restarts node-2 once).
const REAL_TRIALS: usize = 3;
/// Where in HAProxy's check cycle each real trial kills the node: this long after the
/// node was last seen UP (a check), in ms.
const REAL_PHASES_MS: [u64; REAL_TRIALS] = [0, 170, 340];
/// Simulated trials (seeds), each with the fault at a drawn moment of the check cycle.
const SIM_SEEDS: u64 = 12;
/// The check interval of `serve/https.toml` (`interval = "500ms"`): the margin the real
/// and the simulated figures must agree within.
const CHECK_INTERVAL: Duration = Duration::from_millis(500);

impl Haproxy {
    /// Waits (up to [`SETTLE`]) until HAProxy's status of `server` satisfies `wanted`;
    /// the time it took.
    fn time_until(&mut self, server: &str, wanted: impl Fn(&str) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            let status = self.status(server);
            if wanted(&status) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < SETTLE,
                "haproxy still says {server} is {status} after {SETTLE:?}; its output:\n{}",
                self.drain()
            );
            std::thread::sleep(Duration::from_millis(STATUS_POLL_MS));
        }
    }
}

/// What the side-by-side does to node-2, for real and in the simulation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    /// SIGKILL, then started again: its port refuses at once. Simulated: a process
    /// crash and a restart.
    Killed,
    /// SIGSTOP, then SIGCONT: the kernel still completes handshakes, nothing answers.
    /// Simulated: `pause` and `resume` (vendored turmoil patch 0004).
    Frozen,
}

impl Fault {
    /// The scenario steps that inject and undo it, at drawn moments of the check cycle.
    fn steps(self) -> &'static str {
        match self {
            Self::Killed => {
                "\n[[steps]]\nat = \"3s..3.5s\"\ncrash = { node = \"node-2\", mode = \"process\" }\n\
                 \n[[steps]]\nat = \"6s..6.5s\"\nrestart = { node = \"node-2\" }\n"
            }
            Self::Frozen => {
                "\n[[steps]]\nat = \"3s..3.5s\"\npause = { node = \"node-2\" }\n\
                 \n[[steps]]\nat = \"6s..6.5s\"\nresume = { node = \"node-2\" }\n"
            }
        }
    }

    /// Whether `kind` is the event that injects it on node-2 (`true`) or undoes it.
    fn marks(self, kind: &harness::events::EventKind, injected: bool) -> bool {
        use harness::events::EventKind;
        use harness::faults::HostFault;
        match (self, kind, injected) {
            (Self::Killed, EventKind::Crashed { node, .. }, true)
            | (Self::Killed, EventKind::Restarted { node }, false)
            | (Self::Frozen, EventKind::Host(HostFault::Pause { node }), true)
            | (Self::Frozen, EventKind::Host(HostFault::Resume { node }), false) => {
                node == "node-2"
            }
            _ => false,
        }
    }
}

/// The simulation's times to DOWN after `fault` hit node-2 and back to UP after it was
/// undone, over [`SIM_SEEDS`] seeds of `serve/https.toml` with both at drawn moments (so
/// the check cycle's phase varies as it does for real).
fn simulated(fault: Fault) -> Vec<(Duration, Duration)> {
    use harness::events::{CheckEffect, EventKind};
    let dir = TempDir::new(&format!("side-by-side-sim-{fault:?}"));
    let file = dir.path("faulted.toml");
    let base = std::fs::read_to_string(fixture("serve/https.toml")).expect("fixture");
    std::fs::write(&file, base + fault.steps()).expect("the temporary directory is writable");
    let scenario = harness::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    (1..=SIM_SEEDS)
        .map(|seed| {
            let run = harness::executor::run(&scenario, seed).unwrap_or_else(|e| panic!("{e}"));
            let at = |pick: &dyn Fn(&EventKind) -> bool| {
                run.events
                    .iter()
                    .find(|e| pick(&e.kind))
                    .map(|e| e.at)
                    .unwrap_or_else(|| panic!("{fault:?}, seed {seed}: an event missing"))
            };
            let injected = at(&|k| fault.marks(k, true));
            let undone = at(&|k| fault.marks(k, false));
            let down = at(&|k| {
                matches!(k, EventKind::Check { backend, effect: CheckEffect::WentDown { .. }, .. } if backend == "node-2")
            });
            let up = at(&|k| {
                matches!(k, EventKind::Check { backend, effect: CheckEffect::WentUp { .. }, .. } if backend == "node-2")
            });
            (down - injected, up - undone)
        })
        .collect()
}

/// HAProxy in https mode (`serve/https.toml`) in front of `nodes`, serving the fixture
/// certificate (HAProxy reads the chain and the key from one PEM).
fn haproxy_https(dir: &TempDir, listen: SocketAddr, nodes: &[&Served]) -> Haproxy {
    let certs = fixture("certs");
    let pem = [
        std::fs::read_to_string(certs.join("good.pem")).expect("fixture"),
        std::fs::read_to_string(certs.join("good.key")).expect("fixture"),
    ]
    .concat();
    let cert = dir.path("lb.pem");
    std::fs::write(&cert, pem).expect("the temporary directory is writable");
    Haproxy::start(dir, "serve/https.toml", listen, nodes, Some(&cert))
}

/// Prints the side-by-side figures and holds each real one within [`CHECK_INTERVAL`] of
/// the simulation's range.
fn judge_side_by_side(fault: Fault, sim: &[(Duration, Duration)], real: &[(Duration, Duration)]) {
    let what = format!("{fault:?} node");
    let ms = |d: Duration| d.as_millis();
    let spread = |f: fn(&(Duration, Duration)) -> Duration| {
        let mut x: Vec<Duration> = sim.iter().map(f).collect();
        x.sort();
        (x[0], x[x.len() - 1])
    };
    let (down, up) = (spread(|t| t.0), spread(|t| t.1));
    println!("side by side, {what} (serve/https.toml: inter 500ms, timeout 300ms, fall 2, rise 2)");
    println!(
        "  simulation, {} seeds: to DOWN {}..{} ms, to UP {}..{} ms",
        sim.len(),
        ms(down.0),
        ms(down.1),
        ms(up.0),
        ms(up.1)
    );
    for (k, (d, u)) in real.iter().enumerate() {
        println!(
            "  HAProxy, trial {}: to DOWN {} ms, to UP {} ms (status read every {STATUS_POLL_MS} ms)",
            k + 1,
            ms(*d),
            ms(*u)
        );
    }
    let agrees = |d: Duration, (lo, hi): (Duration, Duration)| {
        d + CHECK_INTERVAL >= lo && d <= hi + CHECK_INTERVAL
    };
    for (d, u) in real {
        assert!(
            agrees(*d, down),
            "{what}, to DOWN: HAProxy {d:?}, the simulation {down:?}"
        );
        assert!(
            agrees(*u, up),
            "{what}, to UP: HAProxy {u:?}, the simulation {up:?}"
        );
    }
}

/// Runs the side-by-side for `fault`: the simulation's figures, then [`REAL_TRIALS`] real
/// ones (node-2 hit at each of [`REAL_PHASES_MS`] after HAProxy last showed it UP, the
/// fault undone once HAProxy shows it DOWN), judged by [`judge_side_by_side`].
fn side_by_side(fault: Fault) {
    let sim = simulated(fault);
    let dir = TempDir::new(&format!("side-by-side-{fault:?}"));
    let [node1, mut node2] = two_nodes("serve/https.toml");
    let mut haproxy = haproxy_https(&dir, free_tcp_port(), &[&node1, &node2]);
    haproxy.wait_status("node-1", "UP");
    haproxy.wait_status("node-2", "UP");
    let mut real = Vec::new();
    for phase_ms in REAL_PHASES_MS {
        std::thread::sleep(Duration::from_millis(phase_ms));
        let addr = node2.addr;
        match fault {
            Fault::Killed => {
                node2.proc.stop("KILL");
            }
            Fault::Frozen => node2.proc.signal("STOP"),
        }
        let down = haproxy.time_until("node-2", |s| s.starts_with("DOWN"));
        match fault {
            Fault::Killed => {
                node2 = serve(
                    "node",
                    "serve/https.toml",
                    addr,
                    &["--node", "node-2", TRUST_LOOPBACK[0], TRUST_LOOPBACK[1]],
                );
            }
            Fault::Frozen => node2.proc.signal("CONT"),
        }
        let up = haproxy.time_until("node-2", |s| s.starts_with("UP"));
        real.push((down, up));
    }
    judge_side_by_side(fault, &sim, &real);
    haproxy.stop();
    node1.stop();
    node2.stop();
}

/// The real HAProxy (from `harness export haproxy`) and the simulated balancer, with the
/// same checks (`serve/https.toml`: every 500ms, timeout 300ms, fall 2, rise 2): a node
/// killed (SIGKILL: its port refuses at once) is taken out, and the node started again is
/// put back, within one check interval of what the simulation gives. HAProxy runs alone
/// ([`TIMED`]); the figures are printed (`cargo test --test conformance side_by_side --
/// --nocapture`).
#[test]
fn side_by_side_haproxy_and_the_simulation_on_a_killed_node() {
    side_by_side(Fault::Killed);
}

/// As the killed node, with node-2 frozen (SIGSTOP: its kernel still accepts, nothing
/// answers, so each check waits out its timeout) and thawed (SIGCONT); simulated with
/// `pause` and `resume`.
#[test]
fn side_by_side_haproxy_and_the_simulation_on_a_frozen_node() {
    side_by_side(Fault::Frozen);
}
