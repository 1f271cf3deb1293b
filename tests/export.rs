//! `harness export`: the generated HAProxy and nginx configurations pass the real
//! programs' own checks (`haproxy -c`, `nginx -t`) in every balancer mode, carry the
//! scenario's health-check timings, and the command fails cleanly on bad input.
//!
//! The real programs are required, not optional: a missing one fails the test with the
//! command that installs it (`tools/test`), so a green run always means they were checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use harness::export::{self, Options, Target};
use harness::topology::{LbMode, LbSettings, ProxyProtocol, Topology, TopologySpec};

/// The stream module a tcp-mode nginx.conf loads (Debian's `libnginx-mod-stream`).
const STREAM_MODULE: &str = harness::export::nginx::STREAM_MODULE;

/// The path of an installed program, or a failure saying how to install it.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{name} is not installed: run the project's test command `tools/test`, which installs \
         haproxy, nginx-light and libnginx-mod-stream (Debian 12) before `cargo test`"
    );
}

/// A fresh, empty directory for one case.
fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("export")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("the old case directory can be removed");
    }
    std::fs::create_dir_all(&dir).expect("the target tmp dir is writable");
    dir
}

/// A throwaway self-signed certificate and key in one PEM, made once per test run:
/// `ssl crt` and `ssl_certificate` load the file, so the checks need a real one.
fn cert() -> &'static Path {
    static CERT: OnceLock<PathBuf> = OnceLock::new();
    CERT.get_or_init(|| {
        let dir = workdir("cert");
        let (crt, key) = (dir.join("crt.pem"), dir.join("key.pem"));
        let out = Command::new(program("openssl"))
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=login.example.com", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl: {}", stderr(&out));
        let pem = [crt, key]
            .map(|p| std::fs::read_to_string(p).expect("openssl wrote the PEM"))
            .concat();
        let path = dir.join("example.com.pem");
        std::fs::write(&path, pem).expect("the target tmp dir is writable");
        path
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn topology(lb: LbSettings) -> Topology {
    Topology::from_spec(&TopologySpec {
        lb,
        ..TopologySpec::default()
    })
    .expect("the test's settings are a valid deployment")
}

fn options() -> Options {
    Options {
        cert: Some(cert().to_path_buf()),
        ..Options::default()
    }
}

/// The five balancer setups the issue names.
fn modes() -> Vec<(&'static str, LbSettings)> {
    let tcp = |version| LbSettings {
        mode: LbMode::Tcp,
        proxy_protocol: Some(version),
        ..LbSettings::default()
    };
    vec![
        ("https", LbSettings::default()),
        (
            "https-filtered",
            LbSettings {
                allow: ["198.51.100.0/24", "10.0.0.0/8"]
                    .map(|n| n.parse().unwrap())
                    .to_vec(),
                filter_endpoints: true,
                websockets: false,
                ..LbSettings::default()
            },
        ),
        ("tcp-v1", tcp(ProxyProtocol::V1)),
        ("tcp-v2", tcp(ProxyProtocol::V2)),
        ("tcp-none", tcp(ProxyProtocol::None)),
    ]
}

/// `haproxy -c -f FILE`, asserting it passes without a warning.
fn haproxy_check(name: &str, config: &Path) {
    let out = Command::new(program("haproxy"))
        .arg("-c")
        .arg("-f")
        .arg(config)
        .output()
        .expect("haproxy runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    let shown = std::fs::read_to_string(config).unwrap_or_default();
    assert!(
        out.status.success(),
        "{name}: haproxy -c failed:\n{text}\n{shown}"
    );
    assert!(
        !text.contains("[WARNING]") && !text.contains("[ALERT]"),
        "{name}: haproxy -c warned:\n{text}\n{shown}"
    );
}

/// `nginx -t -p DIR -c FILE`, asserting it passes (pid and temp files go under DIR).
fn nginx_check(name: &str, dir: &Path, config: &Path) {
    let out = Command::new(program("nginx"))
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(config)
        .output()
        .expect("nginx runs");
    let shown = std::fs::read_to_string(config).unwrap_or_default();
    assert!(
        out.status.success(),
        "{name}: nginx -t failed:\n{}\n{shown}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("[warn]") && !stderr(&out).contains("[emerg]"),
        "{name}: nginx -t warned:\n{}\n{shown}",
        stderr(&out)
    );
}

/// Proves HAProxy 2.6 accepts the generated haproxy.cfg, without a warning, in every mode:
/// https, https with allow-list, endpoint filter and no websockets, and tcp with PROXY v1,
/// v2 and none.
#[test]
fn haproxy_accepts_every_mode() {
    for (name, lb) in modes() {
        let text = export::render(&topology(lb), Target::Haproxy, &options())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let dir = workdir(&format!("haproxy-{name}"));
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, &text).expect("the case dir is writable");
        haproxy_check(name, &config);
    }
}

/// Proves nginx 1.22 accepts the generated nginx.conf, without a warning, in every mode it
/// can express, and that tcp mode with PROXY v2 (which nginx cannot send) is refused with
/// the setting named instead of silently sending v1.
#[test]
fn nginx_accepts_every_mode_it_can_express() {
    assert!(
        Path::new(STREAM_MODULE).is_file(),
        "{STREAM_MODULE} is missing: run the project's test command `tools/test`, which installs libnginx-mod-stream"
    );
    for (name, lb) in modes() {
        let v2 = lb.mode == LbMode::Tcp && lb.proxy_header() == ProxyProtocol::V2;
        let result = export::render(&topology(lb), Target::Nginx, &options());
        if v2 {
            let err = result.expect_err("nginx cannot send PROXY v2");
            assert_eq!(err.key, "topology.lb.proxy_protocol");
            assert!(err.message.contains("v1 only"), "{}", err.message);
            continue;
        }
        let text = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains("HEALTH CHECKS ARE PASSIVE"), "{name}: {text}");
        let dir = workdir(&format!("nginx-{name}"));
        let config = dir.join("nginx.conf");
        std::fs::write(&config, &text).expect("the case dir is writable");
        nginx_check(name, &dir, &config);
    }
}

/// Settings with nothing left at its default where it matters for the checks.
fn odd_timings(mode: LbMode) -> LbSettings {
    LbSettings {
        interval: Duration::from_secs(3),
        rise: 4,
        fall: 5,
        timeout: Duration::from_millis(1500),
        connect_timeout: Duration::from_millis(750),
        response_timeout: Duration::from_secs(7),
        retries: 1,
        mode,
        proxy_protocol: (mode == LbMode::Tcp).then_some(ProxyProtocol::V1),
        ..LbSettings::default()
    }
}

/// The words of the first line starting with `directive` (comment cut off).
fn directive<'a>(text: &'a str, directive: &str) -> Vec<&'a str> {
    let line = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .find(|l| l.starts_with(directive))
        .unwrap_or_else(|| panic!("no `{directive}` line in:\n{text}"));
    line.trim_end_matches(';').split_whitespace().collect()
}

/// The value after `key` in HAProxy's `key value` words.
fn after<'a>(words: &[&'a str], key: &str) -> &'a str {
    let i = words
        .iter()
        .position(|w| *w == key)
        .unwrap_or_else(|| panic!("no {key} in {words:?}"));
    words[i + 1]
}

/// The value of `key=value` among nginx's words.
fn param<'a>(words: &[&'a str], key: &str) -> &'a str {
    words
        .iter()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {words:?}"))
}

/// Proves the HAProxy configuration's check timings are the scenario's, read back out of
/// the text: inter, rise, fall, the connect and check timeouts, the server timeout and
/// retries, in both modes.
#[test]
fn haproxy_timings_are_the_scenarios() {
    for mode in [LbMode::Https, LbMode::Tcp] {
        let text =
            export::render(&topology(odd_timings(mode)), Target::Haproxy, &options()).unwrap();
        let server = directive(&text, "default-server");
        assert_eq!(after(&server, "inter"), "3s", "{mode:?}");
        assert_eq!(after(&server, "rise"), "4", "{mode:?}");
        assert_eq!(after(&server, "fall"), "5", "{mode:?}");
        assert_eq!(directive(&text, "timeout connect")[2], "750ms");
        assert_eq!(directive(&text, "timeout check")[2], "1500ms");
        assert_eq!(directive(&text, "timeout server")[2], "7s");
        assert_eq!(directive(&text, "retries")[1], "1");
        assert_eq!(
            directive(&text, "http-check send")[5],
            "/testall",
            "{mode:?}"
        );
        if mode == LbMode::Tcp {
            for word in ["check-ssl", "send-proxy", "check-send-proxy"] {
                assert!(server.contains(&word), "{word} missing: {server:?}");
            }
        }
        let dir = workdir(&format!("haproxy-timings-{mode:?}"));
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, &text).unwrap();
        haproxy_check("timings", &config);
    }
}

/// Proves the NGINX Plus configuration's active check carries the scenario's path,
/// interval, fall and rise (and the check timeouts in its own location), and the
/// open-source one the derived passive values (max_fails = fall, fail_timeout = fall x
/// interval), read back out of the text. The Plus file cannot be run through open-source
/// `nginx -t`, which rejects `health_check`; this test reads it back instead.
#[test]
fn nginx_timings_are_the_scenarios() {
    let plus = Options {
        nginx_plus: true,
        ..options()
    };
    let text = export::render(&topology(odd_timings(LbMode::Https)), Target::Nginx, &plus).unwrap();
    let check = directive(&text, "health_check");
    assert_eq!(param(&check, "uri"), "/testall");
    assert_eq!(param(&check, "interval"), "3s");
    assert_eq!(param(&check, "fails"), "5");
    assert_eq!(param(&check, "passes"), "4");
    assert_eq!(param(&check, "match"), "node_ok");
    assert!(
        text.contains("match node_ok {\n        status 200;\n    }"),
        "{text}"
    );
    assert_eq!(directive(&text, "zone"), ["zone", "nodes", "64k"]);
    let hc = &text[text
        .find("location @health_check")
        .expect("a check location")..];
    assert_eq!(directive(hc, "proxy_connect_timeout")[1], "750ms");
    assert_eq!(directive(hc, "proxy_read_timeout")[1], "1500ms");
    assert!(!text.contains("HEALTH CHECKS ARE PASSIVE"));

    let tcp = export::render(&topology(odd_timings(LbMode::Tcp)), Target::Nginx, &plus).unwrap();
    let check = directive(&tcp, "health_check ");
    assert_eq!(param(&check, "interval"), "3s");
    assert_eq!(param(&check, "fails"), "5");
    assert_eq!(param(&check, "passes"), "4");
    assert_eq!(directive(&tcp, "health_check_timeout")[1], "1500ms");

    let open = export::render(
        &topology(odd_timings(LbMode::Https)),
        Target::Nginx,
        &options(),
    )
    .unwrap();
    assert!(!open.contains("health_check"), "{open}");
    let server = directive(&open, "server 10.0.1.11:443");
    assert_eq!(param(&server, "max_fails"), "5");
    assert_eq!(param(&server, "fail_timeout"), "15s");
    assert_eq!(directive(&open, "proxy_next_upstream_tries")[1], "2");
    let dir = workdir("nginx-timings");
    std::fs::write(dir.join("nginx.conf"), &open).unwrap();
    nginx_check("timings", &dir, &dir.join("nginx.conf"));
}

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("the binary runs")
}

const SCENARIO: &str = r#"name = "export"
seed = 1
duration = "10s"
format_version = 1
[topology.lb]
mode = "tcp"
proxy_protocol = "v1"
interval = "3s"
rise = 4
fall = 5
"#;

/// Proves the command line end to end: `-o` writes a file HAProxy accepts, stdout carries
/// an nginx.conf nginx accepts, and the scenario's timings are in both.
#[test]
fn cli_exports_what_the_programs_accept() {
    let dir = workdir("cli");
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (scenario, cert) = (scenario.to_str().unwrap(), cert().to_str().unwrap());
    let config = dir.join("haproxy.cfg");
    let out = harness(&[
        "export",
        "haproxy",
        scenario,
        "--cert",
        cert,
        "-o",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "-o writes nothing to stdout");
    haproxy_check("cli", &config);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("default-server inter 3s rise 4 fall 5 check-ssl verify none send-proxy check-send-proxy"), "{text}");
    let entries = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(entries, 2, "no temporary file left beside the output");

    let out = harness(&["export", "nginx", scenario]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let config = dir.join("nginx.conf");
    std::fs::write(&config, &out.stdout).unwrap();
    nginx_check("cli", &dir, &config);
    assert!(String::from_utf8_lossy(&out.stdout).contains("max_fails=5 fail_timeout=15s"));
}

/// Proves bad input exits 2 with one error line and writes nothing: an invalid scenario
/// (the loader's file:line:column error), an output directory that does not exist (no
/// file, no temporary file), a setting nginx cannot express, and `--nginx-plus` for
/// HAProxy.
#[test]
fn cli_bad_input_exits_2_and_writes_nothing() {
    let dir = workdir("cli-bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, SCENARIO.replace("fall = 5", "fall = 0")).unwrap();
    let out = harness(&["export", "haproxy", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: {}:10:8: topology.lb.fall: expected at least 1",
            bad.display()
        )),
        "{err}"
    );

    let good = dir.join("good.toml");
    std::fs::write(&good, SCENARIO).unwrap();
    let missing = dir.join("no-such-dir");
    let target = missing.join("haproxy.cfg");
    let out = harness(&[
        "export",
        "haproxy",
        good.to_str().unwrap(),
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot write the configuration"), "{err}");
    assert!(!missing.exists(), "nothing created");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        2,
        "no stray files"
    );

    let v2 = dir.join("v2.toml");
    std::fs::write(&v2, SCENARIO.replace("\"v1\"", "\"v2\"")).unwrap();
    let out = harness(&["export", "nginx", v2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("topology.lb.proxy_protocol: nginx cannot send PROXY protocol v2"),
        "{}",
        stderr(&out)
    );

    let out = harness(&["export", "haproxy", good.to_str().unwrap(), "--nginx-plus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--nginx-plus applies to `harness export nginx` only"));
}

/// Proves `--listen` and `--server` place the balancer and the named nodes where asked
/// (the rest stay at their topology address on 443), in both programs' words, and that
/// both programs accept the result in https and tcp mode.
#[test]
fn listen_and_server_place_the_balancer_and_nodes() {
    let placed = Options {
        listen: Some("127.0.0.1:8443".parse().unwrap()),
        servers: vec![("node-2".to_string(), "127.0.0.1:9002".parse().unwrap())],
        ..options()
    };
    let tcp = LbSettings {
        mode: LbMode::Tcp,
        proxy_protocol: Some(ProxyProtocol::V1),
        ..LbSettings::default()
    };
    for (name, lb) in [("https", LbSettings::default()), ("tcp-v1", tcp)] {
        let topology = topology(lb);
        let haproxy = export::render(&topology, Target::Haproxy, &placed).unwrap();
        assert!(haproxy.contains("\n    bind 127.0.0.1:8443"), "{haproxy}");
        assert!(
            haproxy.contains("server node-1 10.0.1.11:443 check"),
            "{haproxy}"
        );
        assert!(
            haproxy.contains("server node-2 127.0.0.1:9002 check"),
            "{haproxy}"
        );
        assert!(
            haproxy.contains("server node-3 10.0.1.13:443 check"),
            "{haproxy}"
        );
        let dir = workdir(&format!("haproxy-placed-{name}"));
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, &haproxy).expect("the case dir is writable");
        haproxy_check(name, &config);

        let nginx = export::render(&topology, Target::Nginx, &placed).unwrap();
        assert!(nginx.contains("listen 127.0.0.1:8443"), "{nginx}");
        assert!(nginx.contains("server 10.0.1.11:443 "), "{nginx}");
        assert!(nginx.contains("server 127.0.0.1:9002 "), "{nginx}");
        let dir = workdir(&format!("nginx-placed-{name}"));
        let config = dir.join("nginx.conf");
        std::fs::write(&config, &nginx).expect("the case dir is writable");
        nginx_check(name, &dir, &config);
    }
    let twice = Options {
        servers: vec![
            ("node-1".to_string(), "127.0.0.1:1".parse().unwrap()),
            ("node-1".to_string(), "127.0.0.1:2".parse().unwrap()),
        ],
        ..options()
    };
    let err = export::render(&topology(LbSettings::default()), Target::Haproxy, &twice)
        .expect_err("a node placed twice");
    assert_eq!(err.to_string(), "--server: `node-1` is given twice");
}
