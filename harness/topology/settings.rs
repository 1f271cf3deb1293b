//! The settings of each component, with the reference deployment's values as defaults.
//!
//! These types are part of the scenario format (`[topology]` and its sub-tables), so each
//! field documents its unit and default, and unknown keys are errors.

use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// The part of the deployment a scenario may override. Every field defaults to `ha-3`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopologySpec {
    /// Number of appliance nodes, `node-1` at 10.0.1.11 upward. Default 3; 1 to 7.
    pub nodes: usize,
    /// The deployment's DNS domain; the four appliance names live under it.
    /// Default `"example.com"`.
    pub domain: String,
    /// The load balancer in front of the nodes.
    pub lb: LbSettings,
    /// The appliance service on every node.
    pub node: NodeSettings,
    /// The nodes' replicated database.
    pub replica_set: ReplicaSetSettings,
    /// The corporate SMTP relay and how nodes use it.
    pub smtp: SmtpSettings,
    /// The egress: the nodes' only way to the internet.
    pub egress: EgressSettings,
    /// How nodes keep time.
    pub ntp: NtpSettings,
    /// The DNS server.
    pub dns: DnsSettings,
    /// Link latencies.
    pub network: NetworkSettings,
    /// HTTPS towards the users: the certificate the published names are served with.
    pub tls: TlsSettings,
    /// The dev/test instance `dev-1` and its network.
    pub dev: DevSettings,
    /// Remote maintenance access: the jumphost, SSH to the nodes and its windows.
    pub access: AccessSettings,
    /// What the nodes exchange on 7777, 8721 and 8701.
    pub cluster_ports: ClusterPortsSettings,
    /// The purposes the customer consented to for calls out of the cluster. Default: no
    /// declaration (today's purposes, every one, and no consent verdict); a scenario that
    /// writes `[topology.consent]` has every call the egress lets through judged
    /// against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentSettings>,
    /// What the nodes' update check tells.
    pub updates: UpdateCheckSettings,
    /// The monitoring host `monitor`, polling every node's status endpoints.
    pub monitoring: MonitoringSettings,
    /// Standing firewall rules, in force from the start (a `block` step adds more during
    /// a run). Default: none.
    pub firewall: Vec<FirewallRule>,
    /// Address overrides by host name (`node-3 = ["10.0.1.23"]`); every host keeps its
    /// `ha-3` address unless listed. A list, because a host has one address per network
    /// interface: the appliance supports exactly one (the network requirements), and the simulation models
    /// exactly one, so a run refuses a second; `harness check` names the requirement.
    /// Default: none.
    pub addresses: std::collections::BTreeMap<String, Vec<std::net::Ipv4Addr>>,
}

impl Default for TopologySpec {
    fn default() -> Self {
        Self {
            nodes: 3,
            domain: "example.com".to_string(),
            lb: LbSettings::default(),
            node: NodeSettings::default(),
            replica_set: ReplicaSetSettings::default(),
            smtp: SmtpSettings::default(),
            egress: EgressSettings::default(),
            ntp: NtpSettings::default(),
            dns: DnsSettings::default(),
            network: NetworkSettings::default(),
            tls: TlsSettings::default(),
            dev: DevSettings::default(),
            access: AccessSettings::default(),
            cluster_ports: ClusterPortsSettings::default(),
            consent: None,
            updates: UpdateCheckSettings::default(),
            monitoring: MonitoringSettings::default(),
            firewall: Vec::new(),
            addresses: std::collections::BTreeMap::new(),
        }
    }
}

/// The certificate the four published names are served with, and what the users trust.
///
/// The security and access requirements: a wildcard or multi-domain (SAN) certificate; PFX/PKCS12, or CER/PEM with an
/// RSA private key; every intermediate included. By default the harness generates a CA
/// and a certificate for `names`, valid from an hour before the run starts until
/// `expires` after it, and the users trust that CA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// Users speak TLS to the published names and verify the certificate against the
    /// name they dialed and their own clock. False: plain HTTP on 443 (no certificate at
    /// all). Default true.
    pub enabled: bool,
    /// A certificate file instead of a generated one: a PEM chain (leaf first, then the
    /// intermediates) or a PFX/PKCS12 file (`.pfx` or `.p12`). Relative paths are relative
    /// to the scenario file. Default: generated.
    pub certificate: Option<std::path::PathBuf>,
    /// The PEM private key that goes with a PEM `certificate` (required with one; a PFX
    /// holds its own key).
    pub key: Option<std::path::PathBuf>,
    /// The PFX file's password. Default `""`.
    pub password: Option<String>,
    /// PEM file of the CA certificate(s) the users trust; required with `certificate`.
    pub trust: Option<std::path::PathBuf>,
    /// The DNS names the generated certificate covers (SANs; `"*.example.com"` is a
    /// wildcard). Default: the four published names.
    pub names: Option<Vec<String>>,
    /// How long after the run starts the generated certificate expires. Default `"365d"`.
    #[serde(with = "crate::duration")]
    pub expires: Duration,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            certificate: None,
            key: None,
            password: None,
            trust: None,
            names: None,
            expires: Duration::from_secs(365 * 86_400),
        }
    }
}

/// The single-node dev/test instance `dev-1` (10.0.2.11), which the seeds require beside a
/// production cluster and on "completely isolated networks" from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevSettings {
    /// Run `dev-1`. Default false: a scenario turns it on with `dev.enabled = true`.
    pub enabled: bool,
    /// `"isolated"` (default): the dev LAN 10.0.2.0/24 has no route to production's
    /// 10.0.1.0/24; `"routed"`: someone routed the two (the mistake the network requirements forbid).
    pub network: DevNetwork,
    /// The SMTP relay `dev-1` is configured with. Default: none, its mail stays queued.
    /// `"10.0.1.25"` is production's relay, the setting a cloned configuration keeps.
    pub smtp_relay: Option<std::net::Ipv4Addr>,
    /// Signups per second a tester on `dev-1` makes against it (each sends a
    /// verification mail). Default 0.2; 0 to 100.
    pub signups_per_s: f64,
}

/// How the dev/test LAN is connected to production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevNetwork {
    Isolated,
    Routed,
}

impl Default for DevSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            network: DevNetwork::Isolated,
            smtp_relay: None,
            signups_per_s: 0.2,
        }
    }
}

/// `[topology.access]`: remote maintenance access. The security and access requirements:
/// the vendor's engineers reach the appliance over SSH through a jumphost (or a VPN);
/// "this connection may be enabled for and disabled after the agreed-upon time frames".
/// Off by default: no jumphost, no SSH service, no remote access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessSettings {
    /// Deploy the jumphost `jumphost` (10.0.1.30) and an SSH service on port 22 of every
    /// node. Default false.
    pub jumphost: bool,
    /// The agreed maintenance windows, in simulated time since the start:
    /// `[{ start = "10s", end = "40s" }]`. A session is accepted only inside one, and one
    /// still open at its window's end is closed then. Default: none, which means no remote
    /// access at all. At most [`ACCESS_WINDOWS_MAX`]; each ends after it starts, before
    /// the next starts and at most [`ACCESS_WINDOW_END_MAX`] (2h). Only with `jumphost = true`.
    pub windows: Vec<AccessWindow>,
    /// The hosts the nodes' firewall admits SSH from during a window: the standing rule
    /// for port 22. Default `["jumphost"]`. Any other host makes SSH reachable not
    /// through the jumphost, which `harness check` flags (a run lets it in).
    pub ssh_from: Vec<String>,
    /// The nodes' SSH service is disabled outside the windows. Default true; false
    /// leaves it enabled after a window (the mistake `harness check` flags, and a run
    /// accepts sessions at any time).
    pub closed_outside_windows: bool,
}

/// The jumphost's name, and the name `access.ssh_from` admits by default.
pub const JUMPHOST: &str = "jumphost";

/// The latest a maintenance window may end, in simulated time since the start: past any
/// run (at most 1h of load and 1m of drain), so a window written to last "until the end"
/// fits.
pub const ACCESS_WINDOW_END_MAX: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// The most maintenance windows a topology may declare.
pub const ACCESS_WINDOWS_MAX: usize = 100;

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            jumphost: false,
            windows: Vec::new(),
            ssh_from: vec![JUMPHOST.to_string()],
            closed_outside_windows: true,
        }
    }
}

/// `[topology.monitoring]`: the customer's monitoring host `monitor` (10.0.1.40), which
/// polls each node's authenticated status endpoints and `/testall` and raises and clears
/// alerts (seed 000: "API endpoints used for monitoring must be exposed, but these only
/// provide operational information, not user data"). The appliance's documentation
/// gives the endpoints (`/status/cpu` .. `/status/replicaset`, 204 when healthy) and the
/// key's user name (`api_keys_health`); the timings are the model's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringSettings {
    /// Run the monitoring host. Default false: the host exists only when enabled.
    pub enabled: bool,
    /// Pause between the end of one round of polls of a node and the start of the next.
    /// Default `"5s"`; at least 1s and `timeout` x 2 (a round's first poll, connect and
    /// answer, fits in it), at most 1h.
    #[serde(with = "crate::duration")]
    pub interval: Duration,
    /// Bound on connecting to a node and, separately, on its answer. Default `"1s"`.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
    /// Consecutive failed polls of one endpoint (or of the node at all) that raise an
    /// alert. Default 2; 1 to `MAX_ALERT_POLLS` (100).
    pub raise_after: u32,
    /// Consecutive passed polls that clear a raised alert. Default 2; 1 to 100.
    pub clear_after: u32,
    /// The API key generated in the appliance's dashboard, sent as the password of the
    /// user `api_keys_health` (HTTP basic authentication). Default `"monitoring-key"`;
    /// 1 to 128 printable ASCII characters.
    pub api_key: String,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            raise_after: 2,
            clear_after: 2,
            api_key: "monitoring-key".to_string(),
        }
    }
}

/// Why a node calls out of the cluster: the purposes the seeds name ("No information
/// will be transferred outside the Auth0 nodes without consent"). The model knows a
/// call's purpose by the role of the host it goes to (`Role::purpose`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Social login's token exchange with the identity provider (facebook.com).
    SocialLogin,
    /// The extensions manifest from the CDN (cdn.auth0.com).
    Cdn,
    /// The update check against the update mirror (updates.auth0.com).
    UpdateCheck,
    /// Time from public NTP (pool.ntp.org).
    Ntp,
}

impl Purpose {
    /// Every purpose, in declaration order: today's, all consented by default.
    pub const ALL: [Purpose; 4] = [
        Purpose::SocialLogin,
        Purpose::Cdn,
        Purpose::UpdateCheck,
        Purpose::Ntp,
    ];

    /// The purpose as a scenario writes it: `social-login`.
    pub fn word(self) -> &'static str {
        match self {
            Purpose::SocialLogin => "social-login",
            Purpose::Cdn => "cdn",
            Purpose::UpdateCheck => "update-check",
            Purpose::Ntp => "ntp",
        }
    }
}

/// One maintenance window, `{ start = "10s", end = "40s" }`: from `start` (included) to
/// `end` (excluded), in simulated time since the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessWindow {
    /// When access is enabled. Required.
    #[serde(with = "crate::duration")]
    pub start: Duration,
    /// When access is disabled again. Required; after `start`.
    #[serde(with = "crate::duration")]
    pub end: Duration,
}

impl AccessWindow {
    /// True when `at` falls inside the window.
    pub fn contains(&self, at: Duration) -> bool {
        self.start <= at && at < self.end
    }
}

/// `[topology.consent]`: the outbound purposes the customer consented to. Declaring the
/// table has every call out that the egress lets through judged against it (the check
/// "calls out only with consent"); the egress's own rules are not changed by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentSettings {
    /// The consented purposes, each at most once: `"social-login"`, `"cdn"`,
    /// `"update-check"`, `"ntp"`. Default: all four (today's purposes).
    pub purposes: Vec<Purpose>,
}

impl Default for ConsentSettings {
    fn default() -> Self {
        Self {
            purposes: Purpose::ALL.to_vec(),
        }
    }
}

/// `[topology.updates]`: what the nodes' periodic update check tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateCheckSettings {
    /// Each node's update check compares the mirror's newest version with the one it
    /// runs and records "update available" when the mirror's is newer. Default false
    /// (the check runs all the same, its answer unread); on in any scenario with an
    /// `update` step.
    pub notify: bool,
}

/// `[[topology.firewall]]`: a standing rule, as a `block` step writes one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    /// Source hosts, by name.
    pub from: Vec<String>,
    /// Destination hosts, by name.
    pub to: Vec<String>,
    /// Destination ports; all ports when empty. Default: all.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// `"tcp"`, `"udp"` or `"any"`. Default `"tcp"`.
    #[serde(default = "tcp")]
    pub protocol: crate::faults::Protocol,
    /// `"drop"` or `"reject"`. Required.
    pub action: crate::faults::Disposition,
    /// Also block `to` -> `from` on the same ports. Default true.
    #[serde(default = "yes")]
    pub both_ways: bool,
}

fn tcp() -> crate::faults::Protocol {
    crate::faults::Protocol::Tcp
}

fn yes() -> bool {
    true
}

/// The round-robin layer-7 load balancer and its active health checks.
///
/// The defaults are HAProxy's (`inter 2s`, `rise 2`, `fall 3`) with a 1 s check timeout.
/// Checks follow HAProxy's schedule: the next check of a backend starts a pause after the
/// last one ended, the pause chosen by where the backend stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LbSettings {
    /// Pause between two health checks of a backend that is up with no failure counted
    /// (HAProxy's `inter`), from the end of one to the start of the next. Default `"2s"`.
    #[serde(with = "crate::duration")]
    pub interval: Duration,
    /// Pause between checks while a backend is changing state: up with failures counted,
    /// or down with passes counted (HAProxy's `fastinter`). Default: `interval`.
    #[serde(with = "crate::duration::option")]
    pub fastinter: Option<Duration>,
    /// Pause between checks of a backend that is down with no pass counted (HAProxy's
    /// `downinter`). Default: `interval`.
    #[serde(with = "crate::duration::option")]
    pub downinter: Option<Duration>,
    /// Each pause varies at random by up to this many percent either way, so checks of
    /// many backends do not fall into step (HAProxy's global `spread-checks`). Default 0;
    /// 0 to 50.
    pub spread_checks_pct: u32,
    /// How long a check waits for the answer once connected before it counts as failed
    /// (HAProxy's `timeout check`); connecting is bounded by `connect_timeout`.
    /// Default `"1s"`; `connect_timeout + timeout` at most `interval`.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
    /// Consecutive passed checks that put a down backend back in rotation. Default 2.
    pub rise: u32,
    /// Consecutive failed checks that take an up backend out of rotation. Default 3.
    pub fall: u32,
    /// The health-check path. Default `"/testall"`.
    pub check_path: String,
    /// How long the balancer waits for a backend to accept a connection, for health checks
    /// and requests. A request whose connect times out fails with 504: this model retries
    /// only refusals (HAProxy's `option redispatch` would also retry a connect timeout,
    /// which is as safe, since nothing was sent; the model leaves it out so the cost of a
    /// silent backend shows). Default `"1s"`.
    #[serde(with = "crate::duration")]
    pub connect_timeout: Duration,
    /// How long the balancer waits for a backend's response once connected before the
    /// request fails with 504. Default `"5s"`.
    #[serde(with = "crate::duration")]
    pub response_timeout: Duration,
    /// How many other backends a request is retried on when a backend refuses the
    /// connection. Default 2 (so every backend of `ha-3` is tried once).
    pub retries: u32,
    /// `"https"` (default): SSL offloading; the balancer terminates TLS, adds
    /// `X-Forwarded-For` and `X-Forwarded-Proto: https` and talks plain HTTP to the nodes.
    /// `"tcp"`: the balancer passes each connection's bytes to a node, which terminates
    /// TLS itself; the nodes learn the client's address only from the PROXY header.
    pub mode: LbMode,
    /// In `tcp` mode, the PROXY protocol header the balancer sends first on every
    /// connection to a node: `"v1"` (text, HAProxy's `send-proxy`), `"v2"` (binary,
    /// `send-proxy-v2`) or `"none"` (the nodes see every client as the balancer, as seed
    /// 003 warns). Default `"v2"` in `tcp` mode; not allowed in `https` mode.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// In `https` mode, pass websocket upgrades (`Connection: Upgrade`) through to the
    /// node. Default true; false is a balancer that strips them, and a websocket client
    /// (the AD/LDAP connector) cannot connect through it. `tcp` mode carries any bytes.
    pub websockets: bool,
    /// Client networks (CIDR, such as `"198.51.100.0/24"`) allowed to connect; the
    /// balancer refuses connections from anywhere else. Default: empty, everyone.
    #[serde(deserialize_with = "super::networks::deserialize")]
    pub allow: Vec<Ipv4Net>,
    /// Endpoint filtering: clients outside `admin_networks` reach only `public_paths`; any
    /// other path (the dashboard, `/testall`) gets 403. Needs `https` mode (a TCP balancer
    /// cannot see paths). Default false.
    pub filter_endpoints: bool,
    /// Networks (CIDR) that reach every endpoint when `filter_endpoints` is on. Default
    /// `["10.0.0.0/8"]` (the deployment's own LANs).
    #[serde(deserialize_with = "super::networks::deserialize")]
    pub admin_networks: Vec<Ipv4Net>,
    /// Path prefixes the public may reach when `filter_endpoints` is on: the
    /// authentication endpoints. Default `["/login", "/signup", "/userinfo",
    /// "/connector"]`.
    pub public_paths: Vec<String>,
}

/// How the balancer carries traffic to the nodes (the network requirements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LbMode {
    Https,
    Tcp,
}

/// The PROXY protocol version a TCP-mode balancer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyProtocol {
    None,
    V1,
    V2,
}

impl LbSettings {
    /// The PROXY header the balancer sends to nodes: `None` in `https` mode.
    pub fn proxy_header(&self) -> ProxyProtocol {
        match self.mode {
            LbMode::Https => ProxyProtocol::None,
            LbMode::Tcp => self.proxy_protocol.unwrap_or(ProxyProtocol::V2),
        }
    }
}

impl Default for LbSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            spread_checks_pct: 0,
            timeout: Duration::from_secs(1),
            rise: 2,
            fall: 3,
            check_path: "/testall".to_string(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(5),
            retries: 2,
            mode: LbMode::Https,
            proxy_protocol: None,
            websockets: true,
            allow: Vec::new(),
            filter_endpoints: false,
            admin_networks: vec![Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8)],
            public_paths: ["/login", "/signup", "/userinfo", "/connector"]
                .map(str::to_string)
                .to_vec(),
        }
    }
}

/// The appliance's HTTP service on each node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSettings {
    /// Requests a node works on at once; the rest wait in its queue. Default 8; at most 1024.
    pub workers: usize,
    /// Requests that may wait for a worker; one more gets `503 overloaded`. Default 128;
    /// at most 100,000.
    pub queue_max: usize,
    /// Time a worker spends on `POST /login` (password hashing dominates). Default `"20ms"`.
    #[serde(with = "crate::duration")]
    pub login_time: Duration,
    /// Time a worker spends on `POST /signup` before the write goes to the database (the
    /// wait for the replica set holds no worker). Default `"10ms"`.
    #[serde(with = "crate::duration")]
    pub signup_time: Duration,
    /// Time a worker spends on `GET /userinfo`. Default `"2ms"`.
    #[serde(with = "crate::duration")]
    pub userinfo_time: Duration,
    /// Time a worker spends on `GET /testall`. Default `"1ms"`.
    #[serde(with = "crate::duration")]
    pub testall_time: Duration,
    /// Accounts every node starts with, outside the replicated data (`user-0` ..
    /// `user-{n-1}`, password `password-<i>`): what users log in as before any signup has
    /// been acknowledged. Default 1000.
    pub accounts: u32,
    /// Lifetime of an access token (`exp - iat`). Default `"5m"`.
    #[serde(with = "crate::duration")]
    pub token_lifetime: Duration,
    /// How far a token's times may be off the validating node's clock. Default `"60s"`.
    #[serde(with = "crate::duration")]
    pub token_leeway: Duration,
    /// The secret the nodes sign and check tokens with (HS256). Default
    /// `"cluster-signing-secret"`.
    pub token_secret: String,
    /// Bound on a social login's call to the identity provider (through the egress), name
    /// resolution excluded; after it the login fails with 502. Default `"3s"`; at least 1s
    /// shorter than `lb.response_timeout`.
    #[serde(with = "crate::duration")]
    pub social_timeout: Duration,
    /// How often each node checks the update mirror and refreshes its extensions from
    /// the CDN (both through the egress). Default `"5m"`.
    #[serde(with = "crate::duration")]
    pub update_interval: Duration,
    /// The node's database driver retries a signup once when the member it went through
    /// answered "no primary" (MongoDB's retryable writes, `retryWrites`), after waiting
    /// up to `services::node::RETRY_WAIT_MAX` for a primary other than the one that said
    /// so: a planned step-down then costs no user a failed write. Nothing was written on
    /// a "no primary", so the retry cannot write twice. Default false, so that reports
    /// written before it keep their figures (MongoDB's drivers default to true).
    pub retry_writes: bool,
}

impl Default for NodeSettings {
    fn default() -> Self {
        Self {
            workers: 8,
            queue_max: 128,
            login_time: Duration::from_millis(20),
            signup_time: Duration::from_millis(10),
            userinfo_time: Duration::from_millis(2),
            testall_time: Duration::from_millis(1),
            accounts: 1000,
            token_lifetime: Duration::from_secs(300),
            token_leeway: Duration::from_secs(60),
            token_secret: "cluster-signing-secret".to_string(),
            social_timeout: Duration::from_secs(3),
            update_interval: Duration::from_secs(300),
            retry_writes: false,
        }
    }
}

/// The replica set the nodes form over port 27017 (MongoDB's defaults where it has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSetSettings {
    /// How often the primary sends each secondary its entries or a heartbeat.
    /// Default `"2s"` (MongoDB's `heartbeatIntervalMillis`).
    #[serde(with = "crate::duration")]
    pub heartbeat: Duration,
    /// Silence from the primary after which a secondary stands for election, and from a
    /// majority after which a primary steps down. A random extra of up to
    /// `election_jitter` of it is added per member. Default `"10s"` (MongoDB's
    /// `electionTimeoutMillis`).
    #[serde(with = "crate::duration")]
    pub election_timeout: Duration,
    /// The random part of each member's election timeout, as a share of
    /// `election_timeout`: a member stands after `election_timeout x (1 + u x
    /// election_jitter)`, `u` uniform in [0, 1], drawn afresh each time (divided by the
    /// member's priority). Default 0.15 (MongoDB adds up to 15%); 0 to 1: 1 is the Raft
    /// paper's `[T, 2T]`; 0 is no randomness, and members that lose the primary together
    /// then stand together and can split the vote again and again.
    pub election_jitter: f64,
    /// How long a write waits for a majority before the user gets 504 (MongoDB's
    /// `wtimeout`). Default `"3s"`; at least 2s shorter than `lb.response_timeout`, so the
    /// node's own answer (forwarding included) reaches the user before the balancer gives
    /// up.
    #[serde(with = "crate::duration")]
    pub write_timeout: Duration,
    /// Replication lag above which the primary reports a secondary. Default `"5s"`.
    #[serde(with = "crate::duration")]
    pub lag_threshold: Duration,
    /// A member out of touch with a majority through a primary for longer than this makes
    /// its node's `/testall` fail. Default `"15s"`: longer than an election, so a normal
    /// failover does not take healthy nodes out of the load balancer.
    #[serde(with = "crate::duration")]
    pub contact_max: Duration,
    /// Election priority by node name; unlisted nodes have 1; 0 never becomes primary.
    /// Default: none listed.
    pub priority: std::collections::BTreeMap<String, u32>,
}

impl Default for ReplicaSetSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(2),
            election_timeout: Duration::from_secs(10),
            election_jitter: 0.15,
            write_timeout: Duration::from_secs(3),
            lag_threshold: Duration::from_secs(5),
            contact_max: Duration::from_secs(15),
            priority: std::collections::BTreeMap::new(),
        }
    }
}

/// The SMTP relay (AUTH PLAIN required, the security and access requirements) and the nodes' mail queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// The account the relay accepts. Default `"appliance"`.
    pub username: String,
    /// Its password. Default `"smtp-secret"`.
    pub password: String,
    /// The password the nodes are configured with (a mismatch makes every delivery fail
    /// with 535). Default: the same as `password`.
    pub node_password: Option<String>,
    /// First retry delay after a failed delivery; each further failure doubles it.
    /// Default `"1s"`.
    #[serde(with = "crate::duration")]
    pub retry_initial: Duration,
    /// The longest retry delay. Default `"30s"`.
    #[serde(with = "crate::duration")]
    pub retry_max: Duration,
    /// Bound on one delivery session (connect to QUIT). Default `"5s"`.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            username: "appliance".to_string(),
            password: "smtp-secret".to_string(),
            node_password: None,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        }
    }
}

/// How the egress (10.0.1.1) lets the nodes out (seeds 002 and 003: "NAT or transparent
/// proxy"; a proxy needs an exception so the nodes get through unauthenticated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressSettings {
    /// `"proxy"`: a transparent HTTP proxy that sees the original destination, enforces
    /// `allow` and answers 407 unless the nodes have the exception; `"nat"`: forwards any
    /// TCP connection as it is. Default `"proxy"`.
    pub mode: EgressMode,
    /// Domains the proxy lets through (the name itself or any name under it). Default
    /// `["facebook.com", "cdn.auth0.com", "updates.auth0.com"]`.
    pub allow: Vec<String>,
    /// The nodes pass the proxy without credentials. Default true; false makes every
    /// request from a node get 407.
    pub node_exception: bool,
    /// Bound on reaching an upstream and hearing its answer; after it the proxy answers
    /// 504 (NAT closes the connection). Default `"10s"`.
    #[serde(with = "crate::duration")]
    pub upstream_timeout: Duration,
    /// UDP ports forwarded (NAT, in either mode); other datagrams are dropped. Default
    /// `[123]` (NTP).
    pub udp_ports: Vec<u16>,
    /// A UDP flow with no reply for this long is forgotten. Default `"5s"`.
    #[serde(with = "crate::duration")]
    pub udp_idle: Duration,
}

/// The egress's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EgressMode {
    Proxy,
    Nat,
}

impl Default for EgressSettings {
    fn default() -> Self {
        Self {
            mode: EgressMode::Proxy,
            allow: ["facebook.com", "cdn.auth0.com", "updates.auth0.com"]
                .map(str::to_string)
                .to_vec(),
            node_exception: true,
            upstream_timeout: Duration::from_secs(10),
            udp_ports: vec![123],
            udp_idle: Duration::from_secs(5),
        }
    }
}

/// How nodes keep time: NTP through the egress, step above 128ms, slew below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NtpSettings {
    /// False: nodes never poll, and their clocks keep whatever offset and drift they get.
    /// Default true.
    pub enabled: bool,
    /// The server nodes poll, resolved through the DNS host. Default `"pool.ntp.org"`.
    pub server: String,
    /// Time between two polls (the first is 1s after a node starts). Default `"64s"`
    /// (ntpd's minpoll).
    #[serde(with = "crate::duration")]
    pub poll: Duration,
    /// How long a poll waits for the answer. Default `"1s"`; shorter than `poll`.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
}

impl Default for NtpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            server: "pool.ntp.org".to_string(),
            poll: Duration::from_secs(64),
            timeout: Duration::from_secs(1),
        }
    }
}

/// What the nodes exchange on the cluster ports (`services::cluster_ports`, an assumed
/// model: the seeds name the ports, not what they carry): 7777 cluster control
/// (version and membership), 8721 webtask log batches, 8701 webtask liveness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterPortsSettings {
    /// Run the exchanges. Default false: the ports only answer, as before the exchanges
    /// were modelled, because their connections would move the schedule (and so the
    /// figures) of every scenario that does not look at them.
    pub exchange: bool,
    /// How often each node exchanges with each peer on each port. Default `"5s"`; at
    /// least 1s, at most 1h.
    #[serde(with = "crate::duration")]
    pub interval: Duration,
    /// A peer with which no exchange on a port succeeded for longer than this is lost on
    /// that port (recorded; on 7777, `/testall` fails once a majority is lost). Default
    /// `"15s"`, the replica set's `contact_max`: three missed exchanges. At least
    /// `interval`.
    #[serde(with = "crate::duration")]
    pub contact_max: Duration,
}

impl Default for ClusterPortsSettings {
    fn default() -> Self {
        Self {
            exchange: false,
            interval: Duration::from_secs(5),
            contact_max: Duration::from_secs(15),
        }
    }
}

/// The DNS server, authoritative for the appliance's zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSettings {
    /// TTL of the zone's A records, whole seconds. Default `"60s"`.
    #[serde(with = "crate::duration")]
    pub ttl: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
        }
    }
}

/// One-way latency of each kind of link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// Between hosts of the LAN segment (lb, nodes, dns). Default `"1ms"`.
    #[serde(with = "crate::duration")]
    pub lan_latency: Duration,
    /// Between the users and the deployment. Default `"20ms"`.
    #[serde(with = "crate::duration")]
    pub internet_latency: Duration,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            lan_latency: Duration::from_millis(1),
            internet_latency: Duration::from_millis(20),
        }
    }
}

/// The users' load: what the `users` host sends. A scenario sets it in `[load]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadSettings {
    /// Mean arrivals per second of the Poisson process. Default 50; above 0, at most 2000.
    pub rate_per_s: f64,
    /// Share of arrivals that call `GET /userinfo` with a token from an earlier login.
    /// Default 0.25; 0 to 1.
    pub userinfo_share: f64,
    /// Share of arrivals that log in with facebook.com (`POST /login/social`: the node
    /// exchanges the code with the identity provider through the egress). Default 0;
    /// `userinfo_share + signup_share + social_share` at most 1.
    pub social_share: f64,
    /// Share of arrivals that open the Management Dashboard (`GET /dashboard` at
    /// `manage.<domain>`): what endpoint filtering refuses from the internet. Default 0;
    /// counted with the other shares, at most 1 in all.
    pub dashboard_share: f64,
    /// Share of arrivals that sign up a new user (a write to the replica set). The rest log
    /// in, as a user whose signup was acknowledged earlier (or a preloaded account before
    /// there is one). Default 0.2; `userinfo_share + signup_share` at most 1.
    pub signup_share: f64,
    /// End-to-end bound on one request, name resolution included; after it the request
    /// counts as a timeout. Default `"10s"`; at most `"60s"`.
    #[serde(with = "crate::duration")]
    pub timeout: Duration,
    /// Run one AD/LDAP connector from the users' network: a websocket held open to
    /// `login.<domain>/connector` through the balancer, answering the node's heartbeats and
    /// reconnecting 1s after the connection breaks. Default false.
    pub connector: bool,
}

impl Default for LoadSettings {
    fn default() -> Self {
        Self {
            rate_per_s: 50.0,
            userinfo_share: 0.25,
            signup_share: 0.2,
            social_share: 0.0,
            dashboard_share: 0.0,
            timeout: Duration::from_secs(10),
            connector: false,
        }
    }
}
