//! `harness check FILE`: the seeds' requirements judged statically, through the real
//! binary. Certificates come from `tests/fixtures/certs` (made by its `make.sh`).

use std::path::PathBuf;
use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cert(name: &str) -> String {
    fixtures().join("certs").join(name).display().to_string()
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("check-{name}"));
    std::fs::write(&path, text).expect("the target tmp dir is writable");
    path
}

/// A topology-only file with a PEM certificate, key and the fixtures' trust, plus `extra`.
fn pem_topology(certificate: &str, key: &str, extra: &str) -> String {
    format!(
        "format_version = 1\n[topology.tls]\nenabled = true\ncertificate = {:?}\nkey = {:?}\ntrust = {:?}\n{extra}",
        cert(certificate),
        cert(key),
        cert("trust.pem")
    )
}

/// Runs `harness check` on a file: (exit code, stdout lines, stderr).
fn check(path: &std::path::Path) -> (Option<i32>, Vec<String>, String) {
    let out = harness(&["check", path.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout.lines().map(str::to_string).collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Checks a file expected to have exactly these findings (each a substring of its line,
/// in order), exit 1, and the count on stderr.
fn assert_findings(name: &str, text: &str, expected: &[&str]) {
    let path = write(name, text);
    let (code, lines, stderr) = check(&path);
    assert_eq!(code, Some(1), "{name}: {lines:#?} {stderr}");
    assert_eq!(lines.len(), expected.len(), "{name}: {lines:#?}");
    for (line, want) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("{}", path.display())),
            "{name}: {line}"
        );
        assert!(line.contains(want), "{name}: {line:?} lacks {want:?}");
    }
    assert!(
        stderr.contains(&format!("{} finding(s)", expected.len())),
        "{name}: {stderr}"
    );
}

/// Proves a certificate for all four names (PEM chain, PFX, or a wildcard) passes with
/// exit 0 and one summary line, for a topology-only file and for a scenario, with the
/// fixtures' relative paths read from the file's directory.
#[test]
fn clean_files_pass() {
    for file in ["clean-topology.toml", "clean-scenario.toml"] {
        let (code, lines, stderr) = check(&fixtures().join("check").join(file));
        assert_eq!(code, Some(0), "{file}: {lines:#?} {stderr}");
        assert_eq!(lines.len(), 1, "{file}: {lines:#?}");
        assert!(lines[0].contains(": clean "), "{file}: {lines:?}");
        assert!(
            lines[0].contains("certificate CN=good.example.com covers the 4 names"),
            "{file}: {lines:?}"
        );
    }
    let path = write(
        "wildcard.toml",
        &pem_topology("wildcard.pem", "good.key", ""),
    );
    let (code, lines, _) = check(&path);
    assert_eq!(code, Some(0), "{lines:#?}");
}

/// Proves a certificate without webtask.<domain> is flagged, naming the name and seed
/// 002's requirement, and that nothing else is.
#[test]
fn flags_a_missing_name() {
    assert_findings(
        "missing.toml",
        &pem_topology("missing.pem", "good.key", ""),
        &[
            ":4:15: topology.tls.certificate: the certificate does not cover webtask.example.com (security and access requirements: the certificate must cover all four DNS names, by SAN or wildcard)",
        ],
    );
    // The generated certificate is judged by its names.
    assert_findings(
        "names.toml",
        "format_version = 1\n[topology.tls]\nenabled = true\nnames = [\"login.example.com\", \"manage.example.com\", \"config.example.com\"]\n",
        &[
            ":4:9: topology.tls.names: the generated certificate does not cover webtask.example.com (security and access requirements",
        ],
    );
}

/// Proves a standing firewall rule that closes 27017 between two nodes is flagged, both
/// ways, naming the rule.
#[test]
fn flags_a_closed_database_port() {
    let rule = "\n[[topology.firewall]]\nfrom = [\"node-1\"]\nto = [\"node-2\"]\nports = [27017]\naction = \"drop\"\n";
    assert_findings(
        "firewall.toml",
        &pem_topology("good.pem", "good.key", rule),
        &[
            ":8:1: topology.firewall[0]: a drop rule closes node-1 -> node-2 on port 27017 (network requirements: nodes must communicate with each other via ports 7777, 27017, 8721 and 8701)",
            "topology.firewall[0]: a drop rule closes node-2 -> node-1 on port 27017",
        ],
    );
    // A UDP rule, or one on other ports, closes nothing the seeds require.
    let harmless = rule.replace("ports = [27017]", "ports = [27017]\nprotocol = \"udp\"")
        + "\n[[topology.firewall]]\nfrom = [\"node-1\"]\nto = [\"node-2\"]\nports = [22]\naction = \"reject\"\n";
    let path = write(
        "harmless.toml",
        &pem_topology("good.pem", "good.key", &harmless),
    );
    let (code, lines, _) = check(&path);
    assert_eq!(code, Some(0), "{lines:#?}");
}

/// Proves remote access is judged against the security and access requirements when the
/// topology deploys it: no maintenance window, SSH left enabled outside the windows and
/// SSH admitted from the users' host are a finding each, naming the key; a window with
/// the jumphost alone is clean and says what was checked.
#[test]
fn flags_remote_access() {
    let open = "\n[topology.access]\njumphost = true\nssh_from = [\"jumphost\", \"users\"]\nclosed_outside_windows = false\n";
    assert_findings(
        "access.toml",
        &pem_topology("good.pem", "good.key", open),
        &[
            ":9:12: topology.access.jumphost: remote access is deployed with no maintenance window (access.windows): no agreed time frame to enable it for (security and access requirements: this connection may be enabled for and disabled after the agreed-upon time frames for work)",
            ":11:26: topology.access.closed_outside_windows: SSH to the nodes stays enabled outside the maintenance windows",
            ":10:25: topology.access.ssh_from[1]: SSH to the nodes is reachable from users, not through the jumphost (security and access requirements: remote access is SSH access via Jumphost",
        ],
    );
    let confined =
        "\n[topology.access]\njumphost = true\nwindows = [{ start = \"10s\", end = \"40s\" }]\n";
    let path = write(
        "access-clean.toml",
        &pem_topology("good.pem", "good.key", confined),
    );
    let (code, lines, _) = check(&path);
    assert_eq!(code, Some(0), "{lines:#?}");
    assert!(
        lines[0].contains("remote access through the jumphost in 1 maintenance window(s)"),
        "{lines:?}"
    );
}

/// Proves the certificate's other requirements: validity at the epoch, the intermediate,
/// an unencrypted RSA key; and plain HTTP as the one finding when TLS is off.
#[test]
fn flags_certificate_requirements() {
    assert_findings(
        "expired.toml",
        &pem_topology("expired.pem", "good.key", ""),
        &[
            "topology.tls.certificate: the certificate CN=expired.example.com expired on 2025-06-01, before the run starts (2026-01-01)",
        ],
    );
    assert_findings(
        "nochain.toml",
        &pem_topology("nochain.pem", "good.key", ""),
        &[
            "topology.tls.certificate: intermediate missing: the chain ends with CN=good.example.com, issued by CN=Example Intermediate CA, which neither the file nor tls.trust holds (security and access requirements: all intermediate certificates must be included",
        ],
    );
    assert_findings(
        "encrypted.toml",
        &pem_topology("good.pem", "encrypted.key", ""),
        &[
            ":5:7: topology.tls.key: the private key has a password on it (security and access requirements: if you are using PEM, there is no password on the private key)",
        ],
    );
    assert_findings(
        "ec.toml",
        &pem_topology("ec.pem", "ec.key", ""),
        &[
            "topology.tls.key: the private key is EC (P-256), not RSA (security and access requirements",
        ],
    );
    // The defaults (a generated certificate for the four names) are clean.
    let path = write(
        "defaults.toml",
        "format_version = 1\n[topology]\nnodes = 3\n",
    );
    let (code, lines, _) = check(&path);
    assert_eq!(code, Some(0), "{lines:#?}");
    // TLS off is one finding, at the line that turns it off.
    let path = write(
        "plain.toml",
        "format_version = 1\n[topology.tls]\nenabled = false\n",
    );
    let (code, lines, _) = check(&path);
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        [format!(
            "{}:3:11: topology.tls.enabled: users reach the published names over plain HTTP (security and access requirements: HTTPS towards users, with an SSL certificate)",
            path.display()
        )]
    );
}

/// Proves every network and service requirement is reported from one broken topology,
/// including the second NIC a run would refuse outright.
#[test]
fn flags_network_and_services() {
    let path = fixtures().join("check/broken-topology.toml");
    let (code, lines, _) = check(&path);
    assert_eq!(code, Some(1), "{lines:#?}");
    let expected = [
        ":5:24: topology.addresses.node-2: node-2 has 2 addresses (10.0.1.12, 10.0.9.12); one network interface each (network requirements: the appliance can only be deployed in 1 NIC)",
        ":5:61: topology.addresses.node-3: node-3 (10.0.3.13) is not on the balancer's segment 10.0.1.0/24 (network requirements: all virtual machines must be on the same segment",
        ":5:84: topology.addresses.dev-1: dev-1 (10.0.1.50) is on production's segment 10.0.1.0/24 (network requirements: no other appliance cluster (dev/test)",
        ":25:11: topology.dev.network: the dev/test LAN is routed to production's (network requirements: production and non-production",
        ":27:1: topology.firewall[0]: a drop rule closes node-1 -> node-3 on port 27017",
        ":27:1: topology.firewall[0]: a drop rule closes node-3 -> node-1 on port 27017",
        ":33:1: topology.firewall[1]: a reject rule closes node-2 -> lb on port 443 (network requirements: nodes must be able to reach the load balancer via port 443)",
        ":8:14: topology.lb.check_path: the balancer checks \"/health\", not \"/testall\" (network requirements",
        ":11:12: topology.smtp.username: the relay's username is empty",
        ":12:17: topology.smtp.node_password: the nodes' SMTP password is not the relay's",
        ":15:11: topology.ntp.enabled: the nodes do not use NTP",
        ":20:7: topology.tls.key: the private key is EC (P-256), not RSA",
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, want) in lines.iter().zip(expected) {
        assert!(line.contains(want), "{line:?} lacks {want:?}");
    }
    // `harness run` refuses the same file's second address outright (the check reads on).
    let scenario = format!(
        "name = \"t\"\nseed = 1\nduration = \"10s\"\n{}",
        std::fs::read_to_string(&path).unwrap()
    );
    let path = write("two-nics.toml", &scenario);
    let out = harness(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("topology.addresses.node-2: expected exactly one address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Proves a file that cannot be read or is invalid gets the loader's one error line and
/// exit 2: an unreadable certificate (file:line:key), a wrong PFX password, bad TOML, an
/// unknown key of a topology-only file, a missing file.
#[test]
fn bad_input_exits_2() {
    let cases = [
        (
            "unreadable.toml",
            pem_topology("good.pem", "good.key", "").replace("good.pem", "no-such.pem"),
            ":4:15: topology.tls.certificate: cannot read ".to_string(),
        ),
        (
            "password.toml",
            format!(
                "format_version = 1\n[topology.tls]\nenabled = true\ncertificate = {:?}\npassword = \"wrong\"\ntrust = {:?}\n",
                cert("good.pfx"),
                cert("trust.pem")
            ),
            ":5:12: topology.tls.password: the password does not open".to_string(),
        ),
        (
            "syntax.toml",
            "[topology\n".to_string(),
            ":1:10: ".to_string(),
        ),
        (
            "unknown.toml",
            "format_version = 1\n[topology]\nnodez = 3\n".to_string(),
            ":3:1: topology.nodez: unknown field `nodez`".to_string(),
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(name, &text);
        let (code, lines, stderr) = check(&path);
        assert_eq!(code, Some(2), "{name}: {lines:#?} {stderr}");
        assert!(lines.is_empty(), "{name}: {lines:#?}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {}{expected}", path.display())),
            "{name}: {stderr:?} lacks {expected:?}"
        );
    }
    let (code, _, stderr) = check(std::path::Path::new("no/such/file.toml"));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no/such/file.toml: cannot read the scenario"),
        "{stderr}"
    );
}
