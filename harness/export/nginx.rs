//! `nginx.conf` for the deployment's load balancer (nginx 1.22, Debian 12's).
//!
//! A whole file for `nginx -p DIR -c FILE`: the pid file and the temporary directories
//! are relative to the prefix `DIR`, logs go to stderr and stdout, so it runs without
//! root-owned directories. `tcp` mode loads the stream module from Debian's path
//! ([`STREAM_MODULE`], package `libnginx-mod-stream`).
//!
//! Health checks, honestly: open-source nginx has no active checks (`health_check` is
//! NGINX Plus only). By default the file gets passive ones: a node is taken out after
//! `max_fails = fall` failed requests within `fail_timeout = fall x interval`, and stays
//! out for `fail_timeout`. That is the time HAProxy's `fall` checks take to take a node
//! out, but it is triggered by users' requests failing, not by `/testall`; a node whose
//! `/testall` fails but whose other requests succeed stays in. With
//! [`Options::nginx_plus`](super::Options::nginx_plus) the file gets NGINX Plus's
//! `health_check` with the scenario's interval, fall and rise (and cannot be checked here:
//! `nginx -t` of the open-source binary rejects it).
//!
//! Also not expressible in open-source nginx: sending PROXY protocol v2 (the stream
//! module's `proxy_protocol on` sends v1 only), so `tcp` mode with `proxy_protocol = "v2"`
//! is an [`ExportError`]. Requests are retried on another node after an error or a
//! timeout (`proxy_next_upstream error timeout`, `tries = retries + 1`); nginx never
//! retries a POST once it was sent, as the model never retries after sending.

use std::time::Duration;

use super::conf::{Conf, duration};
use super::{ExportError, Options, Target, default_cert};
use crate::topology::{LbMode, LbSettings, ProxyProtocol, Topology};

/// Where Debian's `libnginx-mod-stream` puts the stream module. An absolute path: a
/// relative one would be looked up under the prefix.
pub const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
/// Connections one worker may hold (`worker_connections`). No scenario setting; 1024.
pub const WORKER_CONNECTIONS: u32 = 1024;
/// Shared memory for the upstream's state (`zone`), needed by NGINX Plus's checks. 64k
/// holds far more than the 7 nodes a topology may have.
pub const ZONE_SIZE: &str = "64k";

/// The whole `nginx.conf`.
pub fn render(topology: &Topology, options: &Options) -> Result<String, ExportError> {
    let lb = &topology.lb;
    if lb.proxy_header() == ProxyProtocol::V2 {
        return Err(ExportError {
            key: "topology.lb.proxy_protocol".to_string(),
            message: "nginx cannot send PROXY protocol v2 (its stream module's proxy_protocol sends v1 only); set lb.proxy_protocol = \"v1\" or export for haproxy".to_string(),
        });
    }
    let mut conf = Conf::new();
    header(&mut conf, topology, options);
    if lb.mode == LbMode::Tcp {
        conf.set(
            &format!("load_module {STREAM_MODULE};"),
            "topology.lb.mode = \"tcp\": the stream module (libnginx-mod-stream)",
        );
    }
    conf.set("worker_processes 1;", "fixed");
    conf.set("pid nginx.pid;", "relative to the prefix (-p)");
    conf.set("error_log stderr;", "fixed");
    conf.blank();
    conf.open("events");
    conf.set(
        &format!("worker_connections {WORKER_CONNECTIONS};"),
        "fixed",
    );
    conf.close();
    conf.blank();
    match lb.mode {
        LbMode::Https => http(&mut conf, topology, options)?,
        LbMode::Tcp => stream(&mut conf, topology, options)?,
    }
    Ok(conf.finish())
}

fn header(conf: &mut Conf, topology: &Topology, options: &Options) {
    let from = options
        .source
        .as_ref()
        .map(|s| format!(" from {s}"))
        .unwrap_or_default();
    conf.comment(&format!(
        "nginx configuration for the load balancer of {} ({}), written by\n\
         `harness export nginx{}`{from}.\n\
         Check it with `nginx -t -p DIR -c FILE` (pid and temporary files go under DIR).\n\
         A comment after a directive names the scenario setting it comes from, or says why it is fixed.",
        topology.name,
        topology.domain,
        if options.nginx_plus { " --nginx-plus" } else { "" }
    ));
    conf.comment("");
    if options.nginx_plus {
        conf.comment(
            "NGINX Plus: active health checks (health_check) with the scenario's interval, fall and\n\
             rise. Open-source nginx rejects this file; export without --nginx-plus for it.",
        );
    } else {
        conf.comment(
            "HEALTH CHECKS ARE PASSIVE. Open-source nginx has no active checks: nothing here requests\n\
             /testall. A node leaves the rotation after max_fails (= topology.lb.fall) failed user\n\
             requests within fail_timeout (= fall x topology.lb.interval), and returns after\n\
             fail_timeout. Active checks of the health path need NGINX Plus (--nginx-plus).",
        );
    }
    conf.blank();
}

/// `upstream nodes { ... }`, for http and stream alike.
fn upstream(conf: &mut Conf, topology: &Topology, options: &Options) -> Result<(), ExportError> {
    let lb = &topology.lb;
    conf.open("upstream nodes");
    conf.comment("Round robin, nginx's default.");
    if options.nginx_plus {
        conf.set(
            &format!("zone nodes {ZONE_SIZE};"),
            "shared state NGINX Plus's checks need",
        );
    }
    let (params, origin) = if options.nginx_plus {
        // Active checks decide; passive marking is turned off so the two do not fight.
        (
            "max_fails=0".to_string(),
            "passive marking off: health_check decides",
        )
    } else {
        let window = lb
            .interval
            .checked_mul(lb.fall)
            .filter(|d| *d <= Duration::from_secs(u32::MAX.into()))
            .ok_or_else(|| ExportError {
                key: "topology.lb.fall".to_string(),
                message: "fall x interval is too long for nginx's fail_timeout".to_string(),
            })?;
        let window = duration("topology.lb.interval", window)?;
        (
            format!("max_fails={} fail_timeout={window}", lb.fall),
            "topology.lb.fall; fall x topology.lb.interval",
        )
    };
    for (_, addr, from) in super::servers(topology, options)? {
        let origin = if from == "--server" {
            "--server".to_string()
        } else {
            origin.to_string()
        };
        conf.set(&format!("server {addr} {params};"), &origin);
    }
    conf.close();
    Ok(())
}

fn http(conf: &mut Conf, topology: &Topology, options: &Options) -> Result<(), ExportError> {
    let lb = &topology.lb;
    conf.open("http");
    conf.set("access_log /dev/stdout;", "fixed");
    conf.comment("Temporary files under the prefix (-p), so no root-owned directory is needed.");
    for kind in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        conf.line(&format!("{kind}_temp_path {kind}_temp;"));
    }
    conf.blank();
    if lb.websockets {
        conf.comment("topology.lb.websockets: pass Connection: Upgrade through to the node.");
        conf.open("map $http_upgrade $connection_upgrade");
        conf.line("default upgrade;");
        conf.line("'' close;");
        conf.close();
        conf.blank();
    }
    if lb.filter_endpoints {
        conf.comment(
            "topology.lb.admin_networks: clients that reach every path (filter_endpoints).",
        );
        conf.open("geo $admin_client");
        conf.line("default 0;");
        for net in &lb.admin_networks {
            conf.set(&format!("{net} 1;"), "topology.lb.admin_networks");
        }
        conf.close();
        conf.comment(
            "A raw path with a dot-segment (/login/../admin) or a percent-escape could step out\n\
             of a public prefix once the node decodes it: 403 outside the admin networks.",
        );
        conf.open("map $request_uri $unplain_path");
        conf.line("default 0;");
        conf.line(r#""~^[^?]*(/\.\.?(/|\?|$)|%)" 1;"#);
        conf.close();
        conf.open("map $admin_client$unplain_path $refuse_unplain");
        conf.line("default 0;");
        conf.line("01 1;");
        conf.close();
        conf.blank();
    }
    upstream(conf, topology, options)?;
    conf.blank();
    if options.nginx_plus {
        conf.comment("NGINX Plus: a check passes on status 200 only, as in the model.");
        conf.open("match node_ok");
        conf.line("status 200;");
        conf.close();
        conf.blank();
    }
    server(conf, topology, options)?;
    conf.close();
    Ok(())
}

fn server(conf: &mut Conf, topology: &Topology, options: &Options) -> Result<(), ExportError> {
    let lb = &topology.lb;
    let cert = options
        .cert
        .clone()
        .unwrap_or_else(|| default_cert(Target::Nginx, &topology.domain));
    conf.open("server");
    conf.set(
        &format!("listen {} ssl;", super::listen(options, "")),
        "topology.lb.mode = \"https\": TLS ends here",
    );
    conf.set(
        &format!("server_name {};", topology.zone_names().join(" ")),
        "topology.domain",
    );
    conf.set(
        &format!("ssl_certificate {};", cert.display()),
        "--cert (chain and key in one PEM)",
    );
    conf.set(
        &format!("ssl_certificate_key {};", cert.display()),
        "--cert",
    );
    allow_list(conf, lb);
    if lb.filter_endpoints {
        conf.set(
            "if ($refuse_unplain) { return 403; }",
            "topology.lb.filter_endpoints",
        );
    }
    if !lb.websockets {
        conf.set(
            "if ($http_upgrade) { return 403; }",
            "topology.lb.websockets = false",
        );
    }
    conf.set("proxy_http_version 1.1;", "keep-alive and upgrades");
    conf.set(
        "proxy_set_header Host $http_host;",
        "Host forwarded unchanged",
    );
    conf.set(
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "topology.lb.mode = \"https\"",
    );
    conf.set(
        "proxy_set_header X-Forwarded-Proto https;",
        "topology.lb.mode = \"https\"",
    );
    if lb.websockets {
        conf.set(
            "proxy_set_header Upgrade $http_upgrade;",
            "topology.lb.websockets",
        );
        conf.set(
            "proxy_set_header Connection $connection_upgrade;",
            "topology.lb.websockets",
        );
    }
    timeouts(conf, lb)?;
    locations(conf, topology, options)?;
    conf.close();
    Ok(())
}

/// The http proxy's connect and response timeouts and its retries.
fn timeouts(conf: &mut Conf, lb: &LbSettings) -> Result<(), ExportError> {
    let connect = duration("topology.lb.connect_timeout", lb.connect_timeout)?;
    let response = duration("topology.lb.response_timeout", lb.response_timeout)?;
    conf.set(
        &format!("proxy_connect_timeout {connect};"),
        "topology.lb.connect_timeout",
    );
    conf.set(
        &format!("proxy_read_timeout {response};"),
        "topology.lb.response_timeout",
    );
    conf.set(
        &format!("proxy_send_timeout {response};"),
        "topology.lb.response_timeout",
    );
    conf.set(
        "proxy_next_upstream error timeout;",
        "topology.lb.retries: after errors and timeouts",
    );
    conf.set(
        &format!("proxy_next_upstream_tries {};", lb.retries + 1),
        "topology.lb.retries + the first try",
    );
    Ok(())
}

fn locations(conf: &mut Conf, topology: &Topology, options: &Options) -> Result<(), ExportError> {
    let lb = &topology.lb;
    conf.blank();
    conf.open("location /");
    if lb.filter_endpoints {
        conf.set(
            "if ($admin_client = 0) { return 403; }",
            "topology.lb.filter_endpoints",
        );
    }
    conf.line("proxy_pass http://nodes;");
    conf.close();
    if lb.filter_endpoints {
        conf.comment(
            "topology.lb.public_paths: prefixes anyone may reach (^~: no regex location overrides).",
        );
        for path in &lb.public_paths {
            conf.open(&format!("location ^~ \"{}\"", quoted(path)));
            conf.line("proxy_pass http://nodes;");
            conf.close();
        }
    }
    if options.nginx_plus {
        let lb = &topology.lb;
        conf.blank();
        conf.comment(
            "NGINX Plus active checks, in their own location so they get the check timeouts\n\
             (connect: topology.lb.connect_timeout; answer: topology.lb.timeout).",
        );
        conf.open("location @health_check");
        conf.set(
            &format!(
                "proxy_connect_timeout {};",
                duration("topology.lb.connect_timeout", lb.connect_timeout)?
            ),
            "topology.lb.connect_timeout",
        );
        conf.set(
            &format!(
                "proxy_read_timeout {};",
                duration("topology.lb.timeout", lb.timeout)?
            ),
            "topology.lb.timeout",
        );
        conf.set(
            &format!("proxy_set_header Host login.{};", topology.domain),
            "topology.domain",
        );
        conf.line("proxy_pass http://nodes;");
        conf.set(
            &format!(
                "health_check uri={} interval={} fails={} passes={} match=node_ok;",
                lb.check_path,
                duration("topology.lb.interval", lb.interval)?,
                lb.fall,
                lb.rise
            ),
            "topology.lb.check_path, interval, fall, rise",
        );
        conf.close();
    }
    Ok(())
}

fn stream(conf: &mut Conf, topology: &Topology, options: &Options) -> Result<(), ExportError> {
    let lb = &topology.lb;
    conf.open("stream");
    upstream(conf, topology, options)?;
    conf.blank();
    conf.open("server");
    conf.set(
        &format!("listen {};", super::listen(options, "")),
        "topology.lb.mode = \"tcp\": bytes pass, the nodes terminate TLS",
    );
    allow_list(conf, lb);
    conf.line("proxy_pass nodes;");
    match lb.proxy_header() {
        ProxyProtocol::V1 => conf.set("proxy_protocol on;", "topology.lb.proxy_protocol = \"v1\""),
        _ => conf.set(
            "proxy_protocol off;",
            "topology.lb.proxy_protocol = \"none\"",
        ),
    }
    let connect = duration("topology.lb.connect_timeout", lb.connect_timeout)?;
    let response = duration("topology.lb.response_timeout", lb.response_timeout)?;
    conf.set(
        &format!("proxy_connect_timeout {connect};"),
        "topology.lb.connect_timeout",
    );
    conf.set(
        &format!("proxy_timeout {response};"),
        "topology.lb.response_timeout: bounds silence either way",
    );
    conf.set("proxy_next_upstream on;", "topology.lb.retries");
    conf.set(
        &format!("proxy_next_upstream_tries {};", lb.retries + 1),
        "topology.lb.retries + the first try",
    );
    if options.nginx_plus {
        conf.comment(
            "NGINX Plus: in tcp mode the nodes answer /testall only inside TLS, which a stream\n\
             check does not speak; this checks that a node accepts connections, not /testall.",
        );
        conf.set(
            &format!(
                "health_check interval={} fails={} passes={};",
                duration("topology.lb.interval", lb.interval)?,
                lb.fall,
                lb.rise
            ),
            "topology.lb.interval, fall, rise",
        );
        conf.set(
            &format!(
                "health_check_timeout {};",
                duration("topology.lb.timeout", lb.timeout)?
            ),
            "topology.lb.timeout",
        );
    }
    conf.close();
    conf.close();
    Ok(())
}

/// `lb.allow`: connections from elsewhere are refused (403 in http, closed in stream).
fn allow_list(conf: &mut Conf, lb: &LbSettings) {
    if lb.allow.is_empty() {
        return;
    }
    for net in &lb.allow {
        conf.set(&format!("allow {net};"), "topology.lb.allow");
    }
    conf.set("deny all;", "topology.lb.allow");
}

/// A path for a double-quoted nginx string: `"` and `\` escaped.
fn quoted(path: &str) -> String {
    path.replace('\\', "\\\\").replace('"', "\\\"")
}
