//! `haproxy.cfg` for the deployment's load balancer (HAProxy 2.6, Debian 12's).
//!
//! What the simulated balancer does, in HAProxy's words:
//! - round robin over the nodes at their addresses, port 443;
//! - active checks `GET <check_path>` expecting 200, `inter` (`interval`) after the last
//!   one ended, `fastinter` and `downinter` when set, `spread-checks` when
//!   `spread_checks_pct` is above 0, `rise`/`fall` results to change state; `timeout
//!   connect` bounds connecting (checks and requests) and `timeout check` the check's
//!   answer once connected;
//! - `retries` with `option redispatch 1`: every retry goes to another node. HAProxy also
//!   retries a connect timeout, which the model leaves out (see `LbSettings::connect_timeout`);
//! - `https` mode: TLS terminated on `bind :443 ssl crt <cert>`, `option forwardfor`
//!   (X-Forwarded-For), `X-Forwarded-Proto: https`, Host passed unchanged, plain HTTP to
//!   the nodes; websocket upgrades pass (HAProxy tunnels them after the 101) or, with
//!   `websockets = false`, are refused with 403;
//! - `tcp` mode: bytes passed as they are, the PROXY header per `send-proxy` /
//!   `send-proxy-v2`, checks over TLS (`check-ssl verify none`: the nodes terminate TLS on
//!   443) with the PROXY header too (`check-send-proxy`), since a node expecting one
//!   would refuse a check without it;
//! - `allow`: `tcp-request connection reject` for sources outside the list;
//!   `filter_endpoints`: outside `admin_networks`, paths outside `public_paths` get 403,
//!   and a path with a dot-segment or a percent-escape gets 403 outside `admin_networks`
//!   too, so `/login/../admin` cannot pass as `/login`.

use std::fmt::Write as _;

use ipnet::Ipv4Net;

use super::conf::{Conf, duration};
use super::{ExportError, Options, Target, default_cert};
use crate::topology::{LbMode, LbSettings, ProxyProtocol, Topology};

/// How long a client connection may sit idle (HAProxy's `timeout client`). No scenario
/// setting: the simulated users never idle. 30s, HAProxy's documentation's usual value.
pub const CLIENT_TIMEOUT: &str = "30s";
/// How long an open tunnel (an upgraded websocket, the AD/LDAP connector) may stay
/// silent in `https` mode. No scenario setting; 1h.
pub const TUNNEL_TIMEOUT: &str = "1h";
/// How long a client may take to send a whole request head (`timeout http-request`).
/// No scenario setting; 10s.
pub const REQUEST_TIMEOUT: &str = "10s";

/// The whole `haproxy.cfg`.
pub fn render(topology: &Topology, options: &Options) -> Result<String, ExportError> {
    let lb = &topology.lb;
    let mut conf = Conf::new();
    header(&mut conf, topology, options);
    conf.section("global");
    conf.set(
        "log stderr format raw local0 info",
        "logs to stderr: run in the foreground or under systemd",
    );
    if lb.spread_checks_pct > 0 {
        conf.set(
            &format!("spread-checks {}", lb.spread_checks_pct),
            "topology.lb.spread_checks_pct",
        );
    }
    conf.blank();
    defaults(&mut conf, lb)?;
    conf.blank();
    match lb.mode {
        LbMode::Https => https_frontend(&mut conf, topology, options),
        LbMode::Tcp => tcp_frontend(&mut conf, lb, options),
    }
    conf.blank();
    backend(&mut conf, topology, options)?;
    Ok(conf.finish())
}

fn header(conf: &mut Conf, topology: &Topology, options: &Options) {
    let mut text = format!(
        "HAProxy configuration for the load balancer of {} ({}), written by\n`harness export haproxy`",
        topology.name, topology.domain
    );
    if let Some(source) = &options.source {
        write!(text, " from {source}").expect("writing to a String cannot fail");
    }
    text.push_str(
        ".\nCheck it with `haproxy -c -f FILE` (HAProxy 2.6). A comment after a directive names the\n\
         scenario setting it comes from, or says why it is fixed.",
    );
    conf.comment(&text);
    conf.blank();
}

fn defaults(conf: &mut Conf, lb: &LbSettings) -> Result<(), ExportError> {
    conf.section("defaults");
    let (mode, log) = match lb.mode {
        LbMode::Https => ("http", "option httplog"),
        LbMode::Tcp => ("tcp", "option tcplog"),
    };
    conf.set(&format!("mode {mode}"), "topology.lb.mode");
    conf.line("log global");
    conf.line(log);
    let connect = duration("topology.lb.connect_timeout", lb.connect_timeout)?;
    conf.set(
        &format!("timeout connect {connect}"),
        "topology.lb.connect_timeout (requests and checks)",
    );
    let server = duration("topology.lb.response_timeout", lb.response_timeout)?;
    let server_origin = match lb.mode {
        LbMode::Https => "topology.lb.response_timeout",
        LbMode::Tcp => "topology.lb.response_timeout (tcp: bounds a node's silence)",
    };
    conf.set(&format!("timeout server {server}"), server_origin);
    let check = duration("topology.lb.timeout", lb.timeout)?;
    conf.set(
        &format!("timeout check {check}"),
        "topology.lb.timeout (the check's answer once connected)",
    );
    conf.set(
        &format!("timeout client {CLIENT_TIMEOUT}"),
        "fixed: an idle client's connection",
    );
    if lb.mode == LbMode::Https {
        conf.set(
            &format!("timeout http-request {REQUEST_TIMEOUT}"),
            "fixed: a client's request head",
        );
        conf.set(
            &format!("timeout tunnel {TUNNEL_TIMEOUT}"),
            "fixed: an open websocket's silence",
        );
    }
    conf.set(&format!("retries {}", lb.retries), "topology.lb.retries");
    conf.set(
        "option redispatch 1",
        "topology.lb.retries: each retry on another node",
    );
    Ok(())
}

fn https_frontend(conf: &mut Conf, topology: &Topology, options: &Options) {
    let lb = &topology.lb;
    let cert = options
        .cert
        .clone()
        .unwrap_or_else(|| default_cert(Target::Haproxy, &topology.domain));
    conf.section("frontend https");
    conf.comment(
        "topology.lb.mode = \"https\": TLS ends here (certificate chain and key in one PEM).",
    );
    conf.set(
        &format!(
            "bind {} ssl crt {}",
            super::listen(options, ":"),
            cert.display()
        ),
        "--cert",
    );
    allow_list(conf, lb);
    if lb.filter_endpoints {
        conf.comment(
            "topology.lb.filter_endpoints: outside the admin networks only the public paths\n\
             answer, and only in plain form: a path with a dot-segment (/login/../admin) or a\n\
             percent-escape could step out of its prefix once the node decodes it, so it gets\n\
             403. (HAProxy 2.6's normalize-uri would do this more gently, but is experimental.)",
        );
        conf.set(
            &format!("acl admin_client src {}", spaced(&lb.admin_networks)),
            "topology.lb.admin_networks",
        );
        conf.set(
            &format!("acl public_path path_beg {}", lb.public_paths.join(" ")),
            "topology.lb.public_paths",
        );
        conf.line(r"acl unplain_path path_reg /\.\.?(/|$)|%");
        conf.set(
            "http-request deny deny_status 403 if !admin_client !public_path",
            "topology.lb.filter_endpoints",
        );
        conf.set(
            "http-request deny deny_status 403 if !admin_client unplain_path",
            "topology.lb.filter_endpoints",
        );
    }
    if !lb.websockets {
        conf.set(
            "http-request deny deny_status 403 if { req.hdr(upgrade) -m found }",
            "topology.lb.websockets = false",
        );
    }
    conf.set(
        "option forwardfor",
        "topology.lb.mode = \"https\": X-Forwarded-For",
    );
    conf.set(
        "http-request set-header X-Forwarded-Proto https",
        "topology.lb.mode = \"https\"",
    );
    conf.comment("Host is forwarded unchanged (HAProxy never rewrites it).");
    conf.line("default_backend nodes");
}

fn tcp_frontend(conf: &mut Conf, lb: &LbSettings, options: &Options) {
    conf.section("frontend tcp");
    conf.comment(
        "topology.lb.mode = \"tcp\": bytes pass as they are; the nodes terminate TLS on 443.",
    );
    conf.line(&format!("bind {}", super::listen(options, ":")));
    allow_list(conf, lb);
    conf.line("default_backend nodes");
}

/// Networks as an ACL's values: CIDR text, space-separated.
fn spaced(networks: &[Ipv4Net]) -> String {
    let texts: Vec<String> = networks.iter().map(ToString::to_string).collect();
    texts.join(" ")
}

/// `lb.allow`: connections from elsewhere are closed before a byte is read.
fn allow_list(conf: &mut Conf, lb: &LbSettings) {
    if lb.allow.is_empty() {
        return;
    }
    conf.set(
        &format!("acl allowed_client src {}", spaced(&lb.allow)),
        "topology.lb.allow",
    );
    conf.set(
        "tcp-request connection reject if !allowed_client",
        "topology.lb.allow",
    );
}

fn backend(conf: &mut Conf, topology: &Topology, options: &Options) -> Result<(), ExportError> {
    let lb = &topology.lb;
    conf.section("backend nodes");
    conf.line("balance roundrobin");
    conf.set("option httpchk", "active checks");
    conf.set(
        &format!(
            "http-check send meth GET uri {} ver HTTP/1.1 hdr Host login.{}",
            lb.check_path, topology.domain
        ),
        "topology.lb.check_path",
    );
    conf.set(
        "http-check expect status 200",
        "anything but 200 fails, as in the model",
    );
    let inter = duration("topology.lb.interval", lb.interval)?;
    let mut timing = format!("inter {inter}");
    let mut origin = "topology.lb.interval".to_string();
    if let Some(fast) = lb.fastinter {
        let fast = duration("topology.lb.fastinter", fast)?;
        write!(timing, " fastinter {fast}").expect("writing to a String cannot fail");
        origin.push_str(", .fastinter");
    }
    if let Some(down) = lb.downinter {
        let down = duration("topology.lb.downinter", down)?;
        write!(timing, " downinter {down}").expect("writing to a String cannot fail");
        origin.push_str(", .downinter");
    }
    write!(timing, " rise {} fall {}", lb.rise, lb.fall).expect("writing to a String cannot fail");
    origin.push_str(", .rise, .fall");
    let origin = origin.as_str();
    match (lb.mode, lb.proxy_header()) {
        (LbMode::Https, _) => {
            conf.set(&format!("default-server {timing}"), origin);
        }
        (LbMode::Tcp, ProxyProtocol::None) => {
            conf.comment("topology.lb.mode = \"tcp\": checks speak TLS to the nodes' 443; no PROXY header\n(topology.lb.proxy_protocol = \"none\").");
            conf.set(
                &format!("default-server {timing} check-ssl verify none"),
                origin,
            );
        }
        (LbMode::Tcp, version) => {
            let send = if version == ProxyProtocol::V1 {
                "send-proxy"
            } else {
                "send-proxy-v2"
            };
            conf.comment(&format!(
                "topology.lb.proxy_protocol = \"{}\": {send} on every connection, checks included\n\
                 (check-send-proxy); checks speak TLS to the nodes' 443.",
                if version == ProxyProtocol::V1 {
                    "v1"
                } else {
                    "v2"
                }
            ));
            conf.set(
                &format!("default-server {timing} check-ssl verify none {send} check-send-proxy"),
                origin,
            );
        }
    }
    for (name, addr, origin) in super::servers(topology, options)? {
        conf.set(&format!("server {name} {addr} check"), origin);
    }
    Ok(())
}
