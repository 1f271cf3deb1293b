//! The services are written against `harness::net::Net`, not turmoil: the very same
//! DNS, node and load-balancer code serves real tokio sockets on loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use base64::Engine as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::env::Env;
use harness::events::Recorder;
use harness::net::real::{PAIRED_PORT_ATTEMPTS, RealClock, RealNet};
use harness::services::database::{self, DbConfig};
use harness::services::dns::{self, Zone};
use harness::services::http::{self, Body};
use harness::services::load_balancer::{self, Backend, LbConfig};
use harness::services::mail::MailConfig;
use harness::services::node::{self, NodeConfig};
use harness::services::outbound::OutboundConfig;
use harness::services::replica_set::{Member, RsConfig};
use harness::services::smtp::{self, SmtpConfig};
use harness::topology::{LbSettings, NodeSettings, NtpSettings};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The loopback ports the appliance's services bind, all distinct.
struct Ports {
    /// Free on UDP and TCP alike: DNS serves both on one port.
    dns: u16,
    smtp: u16,
    lb: u16,
    /// node-1's and node-2's HTTP ports.
    nodes: [u16; 2],
    /// node-1's and node-2's database members.
    db: [u16; 2],
}

/// Picks every port at once, holding each socket until all are picked: ports picked one
/// at a time and released in between may come back twice (the OS is free to hand a
/// released port out again), and two services on one port is a service answering
/// another's protocol. Released on return, before the services bind them.
fn free_ports() -> Ports {
    let (mut held, dns) = paired_port();
    let mut tcp = || {
        let listener = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        held.push(listener);
        port
    };
    Ports {
        dns,
        smtp: tcp(),
        lb: tcp(),
        nodes: [tcp(), tcp()],
        db: [tcp(), tcp()],
    }
}

/// A port free on TCP and UDP, with its TCP listener held (its UDP socket is released:
/// no other [`free_ports`] pick is UDP); tried at most [`PAIRED_PORT_ATTEMPTS`] times,
/// as `RealNet` tries for a paired port of its own.
fn paired_port() -> (Vec<std::net::TcpListener>, u16) {
    let mut tried = Vec::new();
    for _ in 0..PAIRED_PORT_ATTEMPTS {
        let listener = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        tried.push(listener);
        if std::net::UdpSocket::bind((LOOPBACK, port)).is_ok() {
            let held = tried.split_off(tried.len() - 1);
            return (held, port);
        }
    }
    panic!("no port free on both TCP and UDP in {PAIRED_PORT_ATTEMPTS} tries");
}

/// Spawns a service; if it ends in an error (a port it could not bind, say), the error
/// is a panic naming the service rather than a silence that later tests misread.
fn spawn_service<F>(name: &'static str, service: F)
where
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = service.await {
            panic!("{name} stopped: {e}");
        }
    });
}

/// POSTs `body` to `path` through the load balancer on `port`, waiting up to 7 s (a
/// signup waits for the replica set's majority).
async fn post(
    client: &RealNet,
    port: u16,
    path: &str,
    body: &str,
) -> hyper::Response<bytes::Bytes> {
    let request = hyper::Request::post(path)
        .header("host", "login.example.com")
        .body(Body::from(body.to_string()))
        .unwrap();
    let to = SocketAddr::new(LOOPBACK, port);
    http::exchange(
        client,
        to,
        request,
        Duration::from_secs(2),
        Duration::from_secs(7),
    )
    .await
    .unwrap()
}

fn env(host: &str, net: RealNet) -> Env<RealNet> {
    Env::new(host, net, Arc::new(RealClock::new(0)), Recorder::new())
}

/// The appliance's services on loopback, started by [`start`].
struct Appliance {
    dns_port: u16,
    lb_port: u16,
    /// What the SMTP relay records: the mail it accepted.
    relay_events: Recorder,
}

/// Starts DNS, the SMTP relay, two nodes whose database members form a replica set and
/// send their mail to the relay, and the load balancer in front of the nodes; then waits
/// until the nodes and the balancer accept connections.
async fn start() -> Appliance {
    let ports = free_ports();
    let zone = Zone::new(&["login.example.com".to_string()], Ipv4Addr::LOCALHOST, 60);
    spawn_service(
        "dns",
        dns::run(
            env(
                "dns",
                RealNet::new(LOOPBACK).with_port(dns::PORT, ports.dns),
            ),
            zone,
        ),
    );
    let relay_events = start_relay(ports.smtp);
    let backends = start_nodes(&ports);
    let mut listening: Vec<SocketAddr> = backends.iter().map(|b| b.addr).collect();
    let lb_env = env(
        "lb",
        RealNet::new(LOOPBACK).with_port(load_balancer::PORT, ports.lb),
    );
    spawn_service(
        "lb",
        load_balancer::run(
            lb_env,
            LbConfig {
                backends,
                settings: LbSettings::default(),
                front: Default::default(),
                check_dial: Default::default(),
                forwarded_proto: "http",
                check_seed: 1,
                operator: Default::default(),
                admin: Default::default(),
            },
        ),
    );
    listening.push(SocketAddr::new(LOOPBACK, ports.lb));
    wait_until_listening(&listening).await;
    Appliance {
        dns_port: ports.dns,
        lb_port: ports.lb,
        relay_events,
    }
}

/// How long the services get to bind their ports: far more than they need on an idle
/// machine, so that a loaded CI runner does not send the first login before node-1
/// listens (the balancer would then pass it to node-2).
const LISTEN_WITHIN: Duration = Duration::from_secs(10);

/// Waits until every address accepts a TCP connection; panics after [`LISTEN_WITHIN`].
async fn wait_until_listening(addrs: &[SocketAddr]) {
    let deadline = tokio::time::Instant::now() + LISTEN_WITHIN;
    for addr in addrs {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{addr} not listening within {LISTEN_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The SMTP relay on `smtp_port`, for the verification mail a signup queues: its events.
fn start_relay(smtp_port: u16) -> Recorder {
    let relay_events = Recorder::new();
    let relay_config = SmtpConfig {
        hostname: "smtp.example.com".into(),
        username: "appliance".into(),
        password: "pw".into(),
        tls: None,
    };
    let relay_env = Env::new(
        "smtp",
        RealNet::new(LOOPBACK).with_port(smtp::PORT, smtp_port),
        Arc::new(RealClock::new(0)),
        relay_events.clone(),
    );
    spawn_service("smtp", smtp::run(relay_env, relay_config));
    relay_events
}

/// node-1 and node-2, whose members form a replica set over real TCP; returns them as
/// the balancer's backends.
fn start_nodes(ports: &Ports) -> Vec<Backend> {
    let names = ["node-1", "node-2"];
    let peers: Vec<SocketAddr> = ports
        .db
        .iter()
        .map(|p| SocketAddr::new(LOOPBACK, *p))
        .collect();
    let rs = RsConfig {
        members: names.map(String::from).to_vec(),
        priorities: vec![1, 1],
        heartbeat: Duration::from_secs(2),
        election_timeout: Duration::from_secs(10),
        election_jitter: 0.15,
        lag_threshold: Duration::from_secs(5),
    };
    let mut backends = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let db = DbConfig {
            member: Arc::new(Mutex::new(Member::new(rs.clone(), i, 1))),
            peers: peers.clone(),
            write_timeout: Duration::from_secs(5),
            contact_max: Duration::from_secs(15),
        };
        // Any free port for the node's other listeners (the cluster ports): two nodes
        // on one address must not fight over 7777.
        let net = RealNet::new(LOOPBACK)
            .with_port(node::PORT, ports.nodes[i])
            .with_port(database::PORT, ports.db[i])
            .unlisted_any_port();
        let config = node_config(name, db, ports.dns, ports.smtp);
        spawn_service(name, node::run(env(name, net), config));
        backends.push(Backend {
            name: name.to_string(),
            addr: SocketAddr::new(LOOPBACK, ports.nodes[i]),
        });
    }
    backends
}

/// A node's configuration: plain HTTP behind the balancer, mail to the relay on
/// `smtp_port`, names resolved by the DNS service on `dns_port`.
fn node_config(name: &str, db: DbConfig, dns_port: u16, smtp_port: u16) -> NodeConfig {
    let mail = MailConfig {
        relay: Some(SocketAddr::new(LOOPBACK, smtp_port)),
        username: "appliance".into(),
        password: "pw".into(),
        domain: "example.com".into(),
        retry_initial: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
    };
    NodeConfig {
        control: std::sync::Arc::new(harness::services::node::NodeControl::new(
            harness::services::node::INSTALLED_VERSION,
            false,
        )),
        name: name.to_string(),
        settings: NodeSettings::default(),
        mail,
        db,
        // No NTP polls, and the periodic checks' first turn comes after the
        // test: nothing here reaches outside the loopback.
        outbound: OutboundConfig {
            dns: SocketAddr::new(LOOPBACK, dns_port),
            idp: "facebook.com".into(),
            cdn: "cdn.auth0.com".into(),
            updates: "updates.auth0.com".into(),
            social_timeout: Duration::from_secs(3),
            update_interval: Duration::from_secs(3600),
            periodic: true,
            notify_updates: false,
            ntp: NtpSettings {
                enabled: false,
                ..NtpSettings::default()
            },
        },
        seed: 1,
        // No peers: the cluster ports only answer.
        cluster: Default::default(),
        // Plain HTTP behind the balancer, which is on loopback too.
        front: Default::default(),
        trusted_proxy: Some(LOOPBACK),
        // Full speed: only the simulation's `slow` step changes it.
        speed: Default::default(),
        ssh: None,
        // No status endpoints: the tests here do not monitor.
        status: None,
    }
}

/// Logs user-1 in through the load balancer on `lb_port` and returns the node that
/// issued the token.
async fn login_issuer(client: &RealNet, lb_port: u16) -> String {
    let response = post(
        client,
        lb_port,
        "/login",
        r#"{"username":"user-1","password":"password-1"}"#,
    )
    .await;
    assert_eq!(response.status(), 200, "login: {:?}", response.body());
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    // The token is a JWT: its payload names the issuing node.
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["iss"].as_str().unwrap().to_string()
}

/// The Message-IDs of the mail the relay accepted, sorted, once there are `count` of
/// them or after 15 s (a loaded machine may be slow to schedule the mail queue; the wait
/// ends as soon as the mail is in).
async fn delivered(relay_events: &Recorder, count: usize) -> Vec<String> {
    let mut delivered = Vec::new();
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        delivered = relay_events
            .snapshot()
            .into_iter()
            .filter_map(|e| match e.kind {
                harness::events::EventKind::MailAccepted { message_id, .. } => Some(message_id),
                _ => None,
            })
            .collect();
        if delivered.len() == count {
            break;
        }
    }
    delivered.sort();
    delivered
}

/// Proves the DNS service answers a real UDP query on loopback, the load balancer relays
/// real HTTP logins round robin over two real nodes, signups replicate between the two
/// nodes' members over real TCP, and their verification mail reaches the real relay.
#[test]
fn services_run_on_real_sockets() {
    // A service that stops on an error panics (spawn_service); the runtime then shuts
    // down and the test fails there, naming the service, not later on a symptom.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime)
        .build()
        .unwrap();
    rt.block_on(async {
        let appliance = start().await;
        let client = RealNet::new(LOOPBACK);
        let server = SocketAddr::new(LOOPBACK, appliance.dns_port);
        let answer = dns::resolve(
            &client,
            server,
            "login.example.com",
            42,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert_eq!(answer.address, LOOPBACK);
        assert_eq!(answer.ttl, Duration::from_secs(60));

        let mut served_by = Vec::new();
        for _ in 0..4 {
            served_by.push(login_issuer(&client, appliance.lb_port).await);
        }
        assert_eq!(served_by, ["node-1", "node-2", "node-1", "node-2"]);

        // A signup through the lb is a replicated write: on node-1 (the primary) it waits
        // for node-2's acknowledgement over real TCP; on node-2 it is forwarded.
        for user in ["alice", "bob"] {
            let response = post(
                &client,
                appliance.lb_port,
                "/signup",
                &format!(r#"{{"username":"{user}","password":"pw"}}"#),
            )
            .await;
            assert_eq!(response.status(), 201, "{user}: {:?}", response.body());
        }

        // The primary delivers each signup's verification mail through the real relay.
        assert_eq!(
            delivered(&appliance.relay_events, 2).await,
            ["<verify-alice@example.com>", "<verify-bob@example.com>"]
        );
    });
}
