//! The acceptance of the network requirements' load-balancer modes: the same users' load through the
//! balancer in https (SSL offloading) and in tcp mode with the PROXY protocol, v1 and v2,
//! leaves the users' real address on the nodes; tcp mode without it leaves only the lb's.

use std::path::Path;

use harness::executor;
use harness::report::Outcome;
use harness::scenario;

fn clients(lb: &str) -> Vec<(String, String, usize)> {
    let text = format!(
        "format_version = 1\nname = \"modes\"\nseed = 9\nduration = \"10s\"\nload = {{ rate_per_s = 20 }}\n[topology.lb]\n{lb}\n"
    );
    let scenario = scenario::parse(Path::new("modes.toml"), &text).unwrap();
    let run = executor::run(&scenario, scenario.seed).unwrap();
    let outcome = Outcome::new(&scenario, scenario.seed, &run.events);
    assert!(outcome.passed, "{lb}: the run failed");
    assert_eq!(
        outcome.totals.ok, outcome.totals.sent,
        "{lb}: a request failed"
    );
    outcome.front.clients
}

/// Proves the nodes record 198.51.100.10 behind an offloading lb (from X-Forwarded-For)
/// and behind a TCP lb with PROXY v1 or v2 (from the header), and 10.0.1.10 (the lb)
/// behind a TCP lb without the PROXY protocol; every request the users sent is counted.
#[test]
fn nodes_see_the_users_unless_tcp_mode_has_no_proxy_header() {
    for (lb, address, via) in [
        ("mode = \"https\"", "198.51.100.10", "x-forwarded-for"),
        (
            "mode = \"tcp\"\nproxy_protocol = \"v2\"",
            "198.51.100.10",
            "proxy v2",
        ),
        (
            "mode = \"tcp\"\nproxy_protocol = \"v1\"",
            "198.51.100.10",
            "proxy v1",
        ),
        (
            "mode = \"tcp\"\nproxy_protocol = \"none\"",
            "10.0.1.10",
            "connection",
        ),
    ] {
        let seen = clients(lb);
        assert_eq!(seen.len(), 1, "{lb}: {seen:?}");
        assert_eq!(
            (seen[0].0.as_str(), seen[0].1.as_str()),
            (address, via),
            "{lb}"
        );
        assert!(seen[0].2 > 100, "{lb}: only {} requests", seen[0].2);
    }
}
