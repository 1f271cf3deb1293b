//! The resolved deployment: every host with its name, fixed address and role.
//!
//! Addresses follow docs/ARCHITECTURE.md section 1. Each host (the balancer, the nodes,
//! DNS, smtp, ntp, the egress, the internet's hosts, the users, `dev-1`) is an entry in
//! [`Topology::hosts`] with its [`Role`]; the world builds whatever the list holds.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::Serialize;

use super::Zones;
use super::settings::{
    ClusterPortsSettings, ConsentSettings, DevSettings, DnsSettings, EgressSettings, FirewallRule,
    LbMode, LbSettings, MonitoringSettings, NetworkSettings, NodeSettings, NtpSettings, Purpose,
    ReplicaSetSettings, SmtpSettings, TlsSettings, TopologySpec, UpdateCheckSettings,
};

/// At most this many nodes: a MongoDB-like replica set has at most 7 voting members, and
/// 10.0.1.11-17 stay clear of the addresses other hosts use.
pub const MAX_NODES: usize = 7;

/// What a host does; decides which service the world runs on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    LoadBalancer,
    Node,
    Dns,
    Smtp,
    Users,
    /// The only way out to the internet: NAT or a transparent proxy.
    Egress,
    /// A social identity provider (facebook.com).
    IdentityProvider,
    /// The CDN for extensions and the dashboard (cdn.auth0.com).
    Cdn,
    /// The update mirror.
    UpdateMirror,
    /// Public NTP (pool.ntp.org).
    TimeServer,
    /// The single-node dev/test instance, on its own LAN.
    DevNode,
    /// The jumphost remote maintenance goes through (`[topology.access]`).
    Jumphost,
    /// The customer's monitoring host, polling the nodes' status endpoints.
    Monitor,
}

impl Role {
    /// True for the hosts that run an SSH client when the topology deploys remote access
    /// (`[topology.access]`), so an `ssh` step may start from them: the jumphost, and the
    /// users' host (the internet) for a direct attempt.
    pub fn runs_ssh_client(self) -> bool {
        matches!(self, Role::Jumphost | Role::Users)
    }

    /// True for the hosts on the internet that nodes reach only through the egress.
    pub fn is_internet_site(self) -> bool {
        matches!(
            self,
            Role::IdentityProvider | Role::Cdn | Role::UpdateMirror | Role::TimeServer
        )
    }

    /// Why a node calls a host of this role: the purpose consent is given for (`None`
    /// for a host that is not an internet site).
    pub fn purpose(self) -> Option<Purpose> {
        match self {
            Role::IdentityProvider => Some(Purpose::SocialLogin),
            Role::Cdn => Some(Purpose::Cdn),
            Role::UpdateMirror => Some(Purpose::UpdateCheck),
            Role::TimeServer => Some(Purpose::Ntp),
            _ => None,
        }
    }
}

/// One host of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub name: String,
    pub address: IpAddr,
    pub role: Role,
}

/// A deployment ready to be simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    /// `"ha-3"` for the reference deployment, `"ha-N"` with N nodes.
    pub name: String,
    pub domain: String,
    /// Every host, in the order the world registers them.
    pub hosts: Vec<Host>,
    pub lb: LbSettings,
    pub node: NodeSettings,
    pub replica_set: ReplicaSetSettings,
    pub smtp: SmtpSettings,
    pub egress: EgressSettings,
    pub ntp: NtpSettings,
    pub dns: DnsSettings,
    pub network: NetworkSettings,
    pub tls: TlsSettings,
    pub dev: DevSettings,
    /// Remote maintenance access: the jumphost, SSH on the nodes and its windows.
    pub access: super::settings::AccessSettings,
    pub cluster_ports: ClusterPortsSettings,
    /// The consented outbound purposes, when the scenario declares them.
    pub consent: Option<ConsentSettings>,
    /// What the nodes' update check tells.
    pub updates: UpdateCheckSettings,
    pub monitoring: MonitoringSettings,
    /// Standing firewall rules, applied before anything starts.
    pub firewall: Vec<FirewallRule>,
    /// The certificate files `tls` names, read by the scenario loader
    /// ([`crate::topology::certs::load_files`]); `None` for a generated certificate, or a topology
    /// not loaded from a file. Compared by value; not part of the report.
    #[serde(skip)]
    pub tls_material: Option<std::sync::Arc<crate::topology::certs::Material>>,
}

/// A setting that makes no sense, with the key it came from (relative to `[topology]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyError {
    /// Dotted key path inside `[topology]`, such as `"lb.fall"`.
    pub key: String,
    pub message: String,
}

const LB: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const USERS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const SMTP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 25);
const EGRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const DEV: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 11);
/// The jumphost: on production's LAN, above the nodes' addresses (the model's choice).
const JUMPHOST: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 30);
/// The monitoring host, on production's LAN (the model's choice of address).
const MONITOR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 40);

/// Production's LAN segment: the nodes, the balancer and the infrastructure.
pub const PROD_LAN: ipnet::Ipv4Net = ipnet::Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 1, 0), 24);
/// The dev/test LAN, isolated from production unless `dev.network = "routed"`.
pub const DEV_LAN: ipnet::Ipv4Net = ipnet::Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 2, 0), 24);

/// The internet's hosts (docs/ARCHITECTURE.md section 1): each is named by its DNS name.
pub const INTERNET_SITES: [(&str, Ipv4Addr, Role); 4] = [
    (
        "facebook.com",
        Ipv4Addr::new(203, 0, 113, 10),
        Role::IdentityProvider,
    ),
    ("cdn.auth0.com", Ipv4Addr::new(203, 0, 113, 20), Role::Cdn),
    (
        "updates.auth0.com",
        Ipv4Addr::new(203, 0, 113, 30),
        Role::UpdateMirror,
    ),
    (
        "pool.ntp.org",
        Ipv4Addr::new(203, 0, 113, 123),
        Role::TimeServer,
    ),
];

impl Topology {
    /// The reference deployment `ha-3` with no overrides.
    pub fn ha3() -> Self {
        Self::from_spec(&TopologySpec::default()).expect("the defaults are a valid deployment")
    }

    /// Resolves a spec into hosts and addresses, rejecting settings that cannot work.
    pub fn from_spec(spec: &TopologySpec) -> Result<Self, TopologyError> {
        check(spec)?;
        let mut hosts = vec![
            host("dns", DNS, Role::Dns),
            host("lb", LB, Role::LoadBalancer),
        ];
        for i in 1..=spec.nodes {
            let last = 10 + u8::try_from(i).expect("node count checked against MAX_NODES");
            hosts.push(host(
                &format!("node-{i}"),
                Ipv4Addr::new(10, 0, 1, last),
                Role::Node,
            ));
        }
        hosts.push(host("smtp", SMTP, Role::Smtp));
        hosts.push(host("egress", EGRESS, Role::Egress));
        hosts.push(host("users", USERS, Role::Users));
        for (name, address, role) in INTERNET_SITES {
            hosts.push(host(name, address, role));
        }
        if spec.dev.enabled {
            hosts.push(host("dev-1", DEV, Role::DevNode));
        }
        if spec.access.jumphost {
            hosts.push(host(super::settings::JUMPHOST, JUMPHOST, Role::Jumphost));
        }
        if spec.monitoring.enabled {
            hosts.push(host("monitor", MONITOR, Role::Monitor));
        }
        apply_addresses(spec, &mut hosts)?;
        check_firewall(spec, &hosts)?;
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        super::access::check(&spec.access, &names)
            .map_err(|(key, message)| TopologyError { key, message })?;
        Ok(Self {
            name: format!("ha-{}", spec.nodes),
            domain: spec.domain.clone(),
            hosts,
            lb: spec.lb.clone(),
            node: spec.node.clone(),
            replica_set: spec.replica_set.clone(),
            smtp: spec.smtp.clone(),
            egress: spec.egress.clone(),
            ntp: spec.ntp.clone(),
            dns: spec.dns.clone(),
            network: spec.network.clone(),
            tls: spec.tls.clone(),
            dev: spec.dev.clone(),
            access: spec.access.clone(),
            cluster_ports: spec.cluster_ports.clone(),
            consent: spec.consent.clone(),
            updates: spec.updates.clone(),
            monitoring: spec.monitoring.clone(),
            firewall: spec.firewall.clone(),
            tls_material: None,
        })
    }

    /// The hosts with one role, in order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |h| h.role == role)
    }

    /// The one host with a role that has exactly one host.
    pub fn the(&self, role: Role) -> &Host {
        self.with_role(role)
            .next()
            .expect("every topology has one host of each singular role")
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The names of the nodes, in order.
    pub fn node_names(&self) -> Vec<String> {
        self.with_role(Role::Node).map(|h| h.name.clone()).collect()
    }

    /// The internet site with this role: its name and address.
    pub fn site(&self, role: Role) -> &Host {
        self.the(role)
    }

    /// The address of the LAN's default gateway, through which nodes reach the internet.
    pub fn egress(&self) -> IpAddr {
        self.the(Role::Egress).address
    }

    /// The purpose of a call out to `address`: its host's role's (`None` when no
    /// internet site has that address).
    pub fn purpose_of(&self, address: IpAddr) -> Option<Purpose> {
        self.hosts
            .iter()
            .find(|h| h.address == address)
            .and_then(|h| h.role.purpose())
    }

    /// The consented purposes, when the scenario declares them.
    pub fn consented(&self) -> Option<&[Purpose]> {
        self.consent.as_ref().map(|c| c.purposes.as_slice())
    }

    /// The four names of docs/ARCHITECTURE.md section 1, all served by the load
    /// balancer, by role.
    pub fn zones(&self) -> Zones {
        Zones::under(&self.domain)
    }

    /// The four names as a list, for what serves or covers them all (the DNS zone, the
    /// certificate, the exports).
    pub fn zone_names(&self) -> [String; 4] {
        self.zones().list()
    }
}

/// `addresses` overrides: one address per host (one NIC), unique, and not the internet's.
fn apply_addresses(spec: &TopologySpec, hosts: &mut [Host]) -> Result<(), TopologyError> {
    for (name, list) in &spec.addresses {
        let key = format!("addresses.{name}");
        let Some(index) = hosts.iter().position(|h| &h.name == name) else {
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            return fail(
                &key,
                format!(
                    "unknown host {name:?}; expected one of {}",
                    names.join(", ")
                ),
            );
        };
        if hosts[index].role.is_internet_site() || hosts[index].role == Role::Users {
            return fail(
                &key,
                "expected a host of the deployment; the internet's hosts and the users keep their addresses",
            );
        }
        let [address] = list.as_slice() else {
            return fail(
                &key,
                format!(
                    "expected exactly one address: the appliance supports one NIC (the network requirements) and the simulation models one; found {}",
                    list.len()
                ),
            );
        };
        hosts[index].address = IpAddr::V4(*address);
    }
    for (i, a) in hosts.iter().enumerate() {
        if let Some(b) = hosts[..i].iter().find(|b| b.address == a.address) {
            return fail(
                &format!("addresses.{}", a.name),
                format!(
                    "{} is already {}'s address; expected an address no other host has",
                    a.address, b.name
                ),
            );
        }
        let IpAddr::V4(v4) = a.address else { continue };
        let private = v4.is_private() || v4.is_loopback();
        if !a.role.is_internet_site() && a.role != Role::Users && !private {
            return fail(
                &format!("addresses.{}", a.name),
                format!("expected a private address (10/8, 172.16/12, 192.168/16), found {v4}"),
            );
        }
    }
    Ok(())
}

/// Standing firewall rules name hosts that exist, and at least one of each.
fn check_firewall(spec: &TopologySpec, hosts: &[Host]) -> Result<(), TopologyError> {
    for (i, rule) in spec.firewall.iter().enumerate() {
        for (field, list) in [("from", &rule.from), ("to", &rule.to)] {
            let key = format!("firewall[{i}].{field}");
            if list.is_empty() {
                return fail(&key, "expected at least one host name");
            }
            for name in list {
                if !hosts.iter().any(|h| &h.name == name) {
                    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                    return fail(
                        &key,
                        format!(
                            "unknown host {name:?}; expected one of {}",
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        if rule.ports.contains(&0) {
            return fail(
                &format!("firewall[{i}].ports"),
                "expected ports from 1 to 65535",
            );
        }
    }
    Ok(())
}

fn host(name: &str, address: Ipv4Addr, role: Role) -> Host {
    Host {
        name: name.to_string(),
        address: IpAddr::V4(address),
        role,
    }
}

/// The longest any duration setting may be: bounds every wait in the model.
pub const MAX_SETTING: Duration = Duration::from_secs(3600);
/// Most workers a node may have (far above any real appliance's process count).
pub const MAX_WORKERS: usize = 1024;
/// Largest `replica_set.election_jitter`, as a share of the election timeout: Raft's
/// `[T, 2T]`. More only slows elections without making split votes rarer.
pub const MAX_ELECTION_JITTER: f64 = 1.0;
/// Largest `lb.spread_checks_pct`: HAProxy refuses a `spread-checks` above 50.
pub const MAX_SPREAD_CHECKS_PCT: u32 = 50;
/// Longest queue a node may have.
pub const MAX_QUEUE: usize = 100_000;
/// Longest DNS name (RFC 1035: 255 bytes on the wire, 253 characters written).
const MAX_NAME_CHARS: usize = 253;

fn fail(key: &str, message: impl Into<String>) -> Result<(), TopologyError> {
    Err(TopologyError {
        key: key.to_string(),
        message: message.into(),
    })
}

fn check(spec: &TopologySpec) -> Result<(), TopologyError> {
    if spec.nodes == 0 || spec.nodes > MAX_NODES {
        return fail(
            "nodes",
            format!("expected 1 to {MAX_NODES} nodes, found {}", spec.nodes),
        );
    }
    let zone_ok = Zones::under(&spec.domain).list().iter().all(|name| {
        name.len() <= MAX_NAME_CHARS && hickory_proto::rr::Name::from_ascii(name).is_ok()
    });
    if !zone_ok || !spec.domain.contains('.') {
        let message = format!(
            "expected a DNS domain such as \"example.com\" (names under it at most {MAX_NAME_CHARS} characters), found {:?}",
            spec.domain
        );
        return fail("domain", message);
    }
    check_durations(spec)?;
    check_lb(&spec.lb)?;
    check_node(&spec.node)?;
    check_replica_set(spec)?;
    check_outside(spec)?;
    check_tls(spec)?;
    check_dev(spec)?;
    check_consent(spec)?;
    check_cluster_ports(&spec.cluster_ports)?;
    check_monitoring(&spec.monitoring)?;
    if spec.dns.ttl.subsec_nanos() != 0 {
        return fail("dns.ttl", "expected whole seconds: DNS TTLs are integers");
    }
    Ok(())
}

/// Every duration setting: above 0 (or 0 where that means "instant") and at most 1h.
fn check_durations(spec: &TopologySpec) -> Result<(), TopologyError> {
    let (lb, node, rs, net) = (&spec.lb, &spec.node, &spec.replica_set, &spec.network);
    let durations = [
        ("lb.interval", lb.interval, false),
        ("lb.fastinter", lb.fastinter.unwrap_or(lb.interval), false),
        ("lb.downinter", lb.downinter.unwrap_or(lb.interval), false),
        ("lb.timeout", lb.timeout, false),
        ("lb.connect_timeout", lb.connect_timeout, false),
        ("lb.response_timeout", lb.response_timeout, false),
        ("node.login_time", node.login_time, true),
        ("node.signup_time", node.signup_time, true),
        ("node.userinfo_time", node.userinfo_time, true),
        ("node.testall_time", node.testall_time, true),
        ("node.token_lifetime", node.token_lifetime, false),
        ("node.token_leeway", node.token_leeway, true),
        ("replica_set.heartbeat", rs.heartbeat, false),
        ("replica_set.election_timeout", rs.election_timeout, false),
        ("replica_set.write_timeout", rs.write_timeout, false),
        ("replica_set.lag_threshold", rs.lag_threshold, false),
        ("replica_set.contact_max", rs.contact_max, false),
        ("dns.ttl", spec.dns.ttl, false),
        ("smtp.retry_initial", spec.smtp.retry_initial, false),
        ("smtp.retry_max", spec.smtp.retry_max, false),
        ("smtp.timeout", spec.smtp.timeout, false),
        ("node.social_timeout", node.social_timeout, false),
        ("node.update_interval", node.update_interval, false),
        (
            "egress.upstream_timeout",
            spec.egress.upstream_timeout,
            false,
        ),
        ("egress.udp_idle", spec.egress.udp_idle, false),
        ("ntp.poll", spec.ntp.poll, false),
        ("ntp.timeout", spec.ntp.timeout, false),
        ("cluster_ports.interval", spec.cluster_ports.interval, false),
        (
            "cluster_ports.contact_max",
            spec.cluster_ports.contact_max,
            false,
        ),
        ("network.lan_latency", net.lan_latency, true),
        ("network.internet_latency", net.internet_latency, true),
    ];
    for (key, value, zero_ok) in durations {
        if (value.is_zero() && !zero_ok) || value > MAX_SETTING {
            let low = if zero_ok { "from 0s" } else { "above 0s" };
            return fail(key, format!("expected a duration {low} and at most 1h"));
        }
    }
    Ok(())
}

fn check_lb(lb: &LbSettings) -> Result<(), TopologyError> {
    check_lb_modes(lb)?;
    if lb.connect_timeout + lb.timeout > lb.interval {
        let message = "expected an interval no shorter than lb.connect_timeout + lb.timeout, so one check ends before the next is due";
        return fail("lb.interval", message);
    }
    if lb.spread_checks_pct > MAX_SPREAD_CHECKS_PCT {
        return fail(
            "lb.spread_checks_pct",
            format!(
                "expected 0 to {MAX_SPREAD_CHECKS_PCT} percent (HAProxy's spread-checks range)"
            ),
        );
    }
    if lb.rise == 0 || lb.fall == 0 {
        return fail(
            if lb.rise == 0 { "lb.rise" } else { "lb.fall" },
            "expected at least 1 check",
        );
    }
    let path_ok = lb.check_path.starts_with('/')
        && lb
            .check_path
            .parse::<hyper::http::uri::PathAndQuery>()
            .is_ok();
    if !path_ok {
        return fail(
            "lb.check_path",
            format!(
                "expected an HTTP path such as \"/testall\", found {:?}",
                lb.check_path
            ),
        );
    }
    Ok(())
}

/// The balancer's mode, PROXY header and endpoint filter (its networks were parsed at
/// load, [`super::networks`]).
fn check_lb_modes(lb: &LbSettings) -> Result<(), TopologyError> {
    if lb.mode == LbMode::Https && lb.proxy_protocol.is_some() {
        return fail(
            "lb.proxy_protocol",
            "expected no PROXY header in https mode (the balancer adds X-Forwarded-For there); set lb.mode = \"tcp\" to send one",
        );
    }
    if lb.mode == LbMode::Tcp && lb.filter_endpoints {
        return fail(
            "lb.filter_endpoints",
            "expected https mode: a TCP-mode balancer passes encrypted bytes and cannot see paths",
        );
    }
    if lb.mode == LbMode::Tcp && !lb.websockets {
        return fail(
            "lb.websockets",
            "expected true in tcp mode: a TCP-mode balancer carries any bytes, websockets included",
        );
    }
    for (i, path) in lb.public_paths.iter().enumerate() {
        if !path.starts_with('/') || path.parse::<hyper::http::uri::PathAndQuery>().is_err() {
            return fail(
                &format!("lb.public_paths[{i}]"),
                format!("expected a path prefix such as \"/login\", found {path:?}"),
            );
        }
    }
    Ok(())
}

/// The TLS certificate settings (the files themselves are read by [`crate::topology::certs`]).
fn check_tls(spec: &TopologySpec) -> Result<(), TopologyError> {
    let tls = &spec.tls;
    if let Some(names) = &tls.names {
        if tls.certificate.is_some() {
            return fail(
                "tls.names",
                "expected names only for a generated certificate; a certificate file carries its own",
            );
        }
        if names.is_empty() {
            return fail("tls.names", "expected at least one DNS name");
        }
        for (i, name) in names.iter().enumerate() {
            let bare = name.strip_prefix("*.").unwrap_or(name);
            let ok = bare.contains('.')
                && bare.len() <= MAX_NAME_CHARS
                && !bare.contains('*')
                && hickory_proto::rr::Name::from_ascii(bare).is_ok();
            if !ok {
                return fail(
                    &format!("tls.names[{i}]"),
                    format!(
                        "expected a DNS name such as \"login.example.com\" or \"*.example.com\", found {name:?}"
                    ),
                );
            }
        }
    }
    if tls.expires.is_zero() || tls.expires > Duration::from_secs(100 * 365 * 86_400) {
        return fail(
            "tls.expires",
            "expected a duration above 0s and at most 100 years",
        );
    }
    match (&tls.certificate, &tls.key, &tls.trust) {
        (None, Some(_), _) => fail("tls.key", "expected a key only with tls.certificate"),
        (None, _, Some(_)) => fail(
            "tls.trust",
            "expected trust only with tls.certificate (the generated certificate's CA is trusted by default)",
        ),
        (None, None, None) if tls.password.is_some() => fail(
            "tls.password",
            "expected a password only with a PFX tls.certificate",
        ),
        (Some(_), _, None) => fail(
            "tls.trust",
            "expected the PEM file of the CA the users trust, with a certificate file",
        ),
        _ => Ok(()),
    }
}

/// The dev/test instance's settings.
fn check_dev(spec: &TopologySpec) -> Result<(), TopologyError> {
    let rate = spec.dev.signups_per_s;
    if !(0.0..=100.0).contains(&rate) {
        return fail(
            "dev.signups_per_s",
            format!("expected 0 to 100 signups per second, found {rate}"),
        );
    }
    Ok(())
}

/// The cluster ports' timing: a peer is lost only after it missed an exchange, so
/// `contact_max` is at least one `interval` (a shorter one would lose every peer between
/// two exchanges).
fn check_cluster_ports(ports: &ClusterPortsSettings) -> Result<(), TopologyError> {
    if ports.interval < CLUSTER_PORTS_INTERVAL_MIN {
        return fail(
            "cluster_ports.interval",
            "expected at least 1s: each exchange is a connection per port and peer, and faster ones would use up a node's ephemeral ports",
        );
    }
    if ports.contact_max < ports.interval {
        return fail(
            "cluster_ports.contact_max",
            "expected at least cluster_ports.interval: a peer is lost only after an exchange it missed",
        );
    }
    Ok(())
}

/// The consented purposes: each at most once.
fn check_consent(spec: &TopologySpec) -> Result<(), TopologyError> {
    let Some(consent) = &spec.consent else {
        return Ok(());
    };
    for (i, p) in consent.purposes.iter().enumerate() {
        if consent.purposes[..i].contains(p) {
            return fail(
                &format!("consent.purposes[{i}]"),
                format!("expected each purpose once; {:?} is listed twice", p.word()),
            );
        }
    }
    Ok(())
}

/// Most consecutive polls `monitoring.raise_after` and `clear_after` may ask for.
pub const MAX_ALERT_POLLS: u32 = 100;
/// Longest `monitoring.api_key`, in characters.
pub const MAX_API_KEY_CHARS: usize = 128;

/// The shortest `cluster_ports.interval`: a real cluster's control exchange is seconds
/// apart, and each exchange is a connection per port and peer.
pub const CLUSTER_PORTS_INTERVAL_MIN: Duration = Duration::from_secs(1);

/// The shortest `monitoring.interval`: a round is ten requests per node (`/testall` and
/// nine status endpoints), each on its own connection; monitoring tools poll seconds
/// apart, and polling much faster would use up the monitor's ephemeral ports.
pub const MONITORING_INTERVAL_MIN: Duration = Duration::from_secs(1);

/// The monitoring host's settings.
fn check_monitoring(m: &MonitoringSettings) -> Result<(), TopologyError> {
    for (key, value) in [
        ("monitoring.interval", m.interval),
        ("monitoring.timeout", m.timeout),
    ] {
        if value.is_zero() || value > MAX_SETTING {
            return fail(key, "expected a duration above 0s and at most 1h");
        }
    }
    if m.interval < MONITORING_INTERVAL_MIN {
        return fail(
            "monitoring.interval",
            "expected at least 1s between rounds of polls (each round is ten requests per node)",
        );
    }
    if m.timeout * 2 > m.interval {
        return fail(
            "monitoring.interval",
            "expected an interval of at least twice monitoring.timeout (a poll's connect and answer)",
        );
    }
    for (key, value) in [
        ("monitoring.raise_after", m.raise_after),
        ("monitoring.clear_after", m.clear_after),
    ] {
        if value == 0 || value > MAX_ALERT_POLLS {
            return fail(
                key,
                format!("expected 1 to {MAX_ALERT_POLLS} consecutive polls, found {value}"),
            );
        }
    }
    let key_ok = !m.api_key.is_empty()
        && m.api_key.len() <= MAX_API_KEY_CHARS
        && m.api_key.chars().all(|c| c.is_ascii_graphic());
    if !key_ok {
        return fail(
            "monitoring.api_key",
            format!("expected 1 to {MAX_API_KEY_CHARS} printable ASCII characters without spaces"),
        );
    }
    Ok(())
}

/// The egress, NTP and the node's outbound settings.
fn check_outside(spec: &TopologySpec) -> Result<(), TopologyError> {
    for (i, domain) in spec.egress.allow.iter().enumerate() {
        let ok = domain.contains('.')
            && domain.len() <= MAX_NAME_CHARS
            && hickory_proto::rr::Name::from_ascii(domain).is_ok();
        if !ok {
            return fail(
                &format!("egress.allow[{i}]"),
                format!("expected a domain such as \"facebook.com\", found {domain:?}"),
            );
        }
    }
    if spec.egress.udp_ports.contains(&0) {
        return fail("egress.udp_ports", "expected ports from 1 to 65535");
    }
    let server = &spec.ntp.server;
    if server.len() > MAX_NAME_CHARS || hickory_proto::rr::Name::from_ascii(server).is_err() {
        return fail(
            "ntp.server",
            format!("expected a DNS name such as \"pool.ntp.org\", found {server:?}"),
        );
    }
    if spec.ntp.timeout >= spec.ntp.poll {
        return fail("ntp.timeout", "expected a timeout shorter than ntp.poll");
    }
    if spec.node.social_timeout + Duration::from_secs(1) > spec.lb.response_timeout {
        let message = "expected a social login timeout at least 1s shorter than lb.response_timeout (name resolution adds up to 1s)";
        return fail("node.social_timeout", message);
    }
    Ok(())
}

fn check_node(node: &NodeSettings) -> Result<(), TopologyError> {
    if node.workers == 0 || node.workers > MAX_WORKERS {
        return fail(
            "node.workers",
            format!("expected 1 to {MAX_WORKERS} workers"),
        );
    }
    if node.queue_max > MAX_QUEUE {
        return fail(
            "node.queue_max",
            format!("expected at most {MAX_QUEUE} waiting requests"),
        );
    }
    if node.accounts == 0 {
        return fail("node.accounts", "expected at least 1 account");
    }
    Ok(())
}

fn check_replica_set(spec: &TopologySpec) -> Result<(), TopologyError> {
    let fail = |key: String, message: String| Err(TopologyError { key, message });
    let rs = &spec.replica_set;
    if rs.heartbeat >= rs.election_timeout {
        return fail(
            "replica_set.heartbeat".into(),
            "expected a heartbeat shorter than replica_set.election_timeout".into(),
        );
    }
    if !(0.0..=MAX_ELECTION_JITTER).contains(&rs.election_jitter) {
        return fail(
            "replica_set.election_jitter".into(),
            format!(
                "expected a share of the election timeout from 0 to {MAX_ELECTION_JITTER} (1 is Raft's [T, 2T]), found {}",
                rs.election_jitter
            ),
        );
    }
    if rs.write_timeout + Duration::from_secs(2) > spec.lb.response_timeout {
        let message = "expected a write timeout at least 2s shorter than lb.response_timeout (a forwarded write adds up to 2s)";
        return fail("replica_set.write_timeout".into(), message.into());
    }
    let nodes: Vec<String> = (1..=spec.nodes).map(|i| format!("node-{i}")).collect();
    for name in rs.priority.keys() {
        if !nodes.contains(name) {
            return fail(
                format!("replica_set.priority.{name}"),
                format!(
                    "unknown node {name:?}; expected one of {}",
                    nodes.join(", ")
                ),
            );
        }
    }
    if nodes.iter().all(|n| rs.priority.get(n) == Some(&0)) {
        return fail(
            "replica_set.priority".into(),
            "expected at least one node that may become primary (priority above 0)".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves ha-3 has the fixed addresses of docs/ARCHITECTURE.md section 1.
    #[test]
    fn ha3_addresses() {
        let t = Topology::ha3();
        let names: Vec<_> = t
            .hosts
            .iter()
            .map(|h| format!("{}={}", h.name, h.address))
            .collect();
        assert_eq!(
            names,
            [
                "dns=10.0.1.2",
                "lb=10.0.1.10",
                "node-1=10.0.1.11",
                "node-2=10.0.1.12",
                "node-3=10.0.1.13",
                "smtp=10.0.1.25",
                "egress=10.0.1.1",
                "users=198.51.100.10",
                "facebook.com=203.0.113.10",
                "cdn.auth0.com=203.0.113.20",
                "updates.auth0.com=203.0.113.30",
                "pool.ntp.org=203.0.113.123"
            ]
        );
        assert_eq!(t.zones().login, "login.example.com");
    }

    /// Proves impossible settings are refused with the key that holds them.
    #[test]
    fn rejects_bad_settings() {
        let mut spec = TopologySpec {
            nodes: 8,
            ..Default::default()
        };
        assert_eq!(Topology::from_spec(&spec).unwrap_err().key, "nodes");
        spec.nodes = 3;
        spec.lb.connect_timeout = spec.lb.interval;
        assert_eq!(Topology::from_spec(&spec).unwrap_err().key, "lb.interval");
        spec.lb.connect_timeout = Duration::from_secs(1);
        spec.lb.check_path = "/a b".to_string();
        assert_eq!(Topology::from_spec(&spec).unwrap_err().key, "lb.check_path");
        spec.lb.check_path = "/testall".to_string();
        spec.domain = format!("{}.com", "a".repeat(250));
        assert_eq!(Topology::from_spec(&spec).unwrap_err().key, "domain");
    }
}
