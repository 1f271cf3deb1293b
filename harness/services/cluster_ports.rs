//! The appliance's other inter-node ports: cluster control (7777) and webtask (8721, 8701).
//!
//! Real component: the network requirements (seed 003) require every node to reach
//! every other on 7777, 27017, 8721 and 8701, and say no more. What the appliance carries
//! on 7777, 8721 and 8701 is not in the seeds; the model below is an assumption, named as
//! one (docs/ARCHITECTURE.md section 1, "What the documents leave open"):
//!
//! - **7777, cluster control**: each node tells each peer, every `interval`, the version
//!   it runs and the membership it knows (`control <node> version <v> members <list>`),
//!   and the peer answers with its own. This is how a cluster agrees on its
//!   configuration (which nodes it has, what they run); a node that hears no peer cannot
//!   learn a configuration change made through another node's dashboard.
//! - **8721, webtask logs**: each node's webtask runtime (web extensions, rules) writes
//!   one batch of log lines per `interval` and ships it to every peer, so that the real
//!   time logs an administrator watches on any node show every node's lines
//!   (`logs <node> batches <n>`). A batch a peer cannot take waits in the sender's
//!   backlog, at most [`LOG_BACKLOG_MAX_BATCHES`]; past that the oldest is dropped.
//! - **8701, webtask control**: each node's webtask runtime checks every `interval` that
//!   every peer's runtime answers (`webtask <node> ping`), as a controller does before
//!   it schedules a task on it.
//!
//! An exchange is one TCP connection: a line each way, then closed, within
//! [`CONNECT_TIMEOUT`] and [`ANSWER_TIMEOUT`]. A peer with which no exchange on a port
//! succeeded for longer than `contact_max` is *lost* on that port
//! ([`ClusterPortEvent::Lost`]); the next success *regains* it (with the backlog
//! shipped, for the logs). Consequences the rest of the node sees: `/testall` fails
//! while the node reaches, on 7777, fewer than a majority of the cluster, itself
//! included ([`ClusterView::control_health`]): it then cannot tell whether the
//! configuration it serves is the cluster's. One lost peer out of two leaves `/testall`
//! OK (the majority still agrees, and taking the node out of the balancer would turn a
//! control-plane fault into lost capacity); the loss is recorded and reported. The
//! webtask ports' losses are recorded and reported and change no answer on 443.
//!
//! Left out: what the lines would carry in the real appliance (configuration contents,
//! log text, task scheduling). The exchange runs only when the topology enables it
//! (`[topology.cluster_ports] exchange`, default false): its connections would move
//! the simulation's schedule, and so every other scenario's figures.
//!
//! Bounds: answers are one line of at most [`LINE_MAX_BYTES`]; each port keeps at most
//! [`crate::net::MAX_CONNECTIONS_PER_LISTENER`] connections open ([`crate::net`]); one
//! exchange per port and peer at a time, every `interval`.
//!
//! Ports: TCP 7777, 8721, 8701. Faults: firewall rules and partitions between nodes (an
//! exchange that cannot connect or is not answered fails); a crashed, paused or slowed
//! peer (no answer, or a late one); a crash of the node itself starts its view afresh.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::env::Env;
use crate::events::EventKind;
use crate::events::cluster::ClusterPortEvent;
use crate::net::{Listener, Net};

/// What each port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// 7777: configuration version and membership.
    Control,
    /// 8721: webtask log batches.
    WebtaskLogs,
    /// 8701: webtask runtime liveness.
    WebtaskControl,
}

impl Channel {
    /// Every channel, in the order the node starts them.
    pub const ALL: [Channel; 3] = [
        Channel::Control,
        Channel::WebtaskLogs,
        Channel::WebtaskControl,
    ];

    /// The TCP port it runs on.
    pub fn port(self) -> u16 {
        match self {
            Channel::Control => 7777,
            Channel::WebtaskLogs => 8721,
            Channel::WebtaskControl => 8701,
        }
    }

    /// The service's name, as events and the timeline give it.
    pub fn service(self) -> &'static str {
        match self {
            Channel::Control => "cluster-control",
            Channel::WebtaskLogs => "webtask-logs",
            Channel::WebtaskControl => "webtask-control",
        }
    }

    /// The first word of every line on the port, both ways.
    fn word(self) -> &'static str {
        match self {
            Channel::Control => "control",
            Channel::WebtaskLogs => "logs",
            Channel::WebtaskControl => "webtask",
        }
    }
}

/// The ports and what the real appliance runs on them.
pub const PORTS: [(u16, &str); 3] = [
    (7777, "cluster-control"),
    (8721, "webtask-logs"),
    (8701, "webtask-control"),
];

/// How long an exchange waits for its connection: a LAN round trip is 2 ms, so a second
/// means the peer is not there (the replica set's peer connects wait as long).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long an exchange waits for the peer's answer once connected.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest line either side sends or reads, in bytes (a membership of seven nodes
/// and a version fit in a tenth of it).
pub const LINE_MAX_BYTES: u64 = 512;

/// How many webtask log batches wait for one peer before the oldest is dropped: one
/// interval's batch each, so at the default 5 s interval ten minutes of logs.
pub const LOG_BACKLOG_MAX_BATCHES: u32 = 120;

/// A node's cluster-port settings (`[topology.cluster_ports]`) and its peers.
#[derive(Debug, Clone, Default)]
pub struct ClusterPortsConfig {
    /// Every other node of the cluster, by name and address; empty for a set of one
    /// (`dev-1`, a served node).
    pub peers: Vec<(String, IpAddr)>,
    /// Run the exchanges (`exchange`); without it the ports only answer.
    pub exchange: bool,
    /// How often each exchange runs, per peer.
    pub interval: Duration,
    /// How long without a successful exchange before a peer counts as lost.
    pub contact_max: Duration,
}

/// What changed on one port with one peer, for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// No exchange succeeded for `silent`, longer than the bound; `backlog` batches wait.
    Lost { silent: Duration, backlog: u32 },
    /// An exchange succeeded after `silent` without one; it shipped `shipped` batches
    /// and `dropped` were lost to the backlog's bound meanwhile.
    Regained {
        silent: Duration,
        shipped: u32,
        dropped: u32,
    },
}

/// What a node knows of one peer on one port: the last successful exchange, whether
/// the peer counts as lost, and (webtask logs) the batches waiting for it. Plain code:
/// time is passed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLink {
    last_contact: Duration,
    lost: bool,
    backlog: u32,
    dropped: u32,
}

impl PeerLink {
    /// A peer the node starts in touch with at `now` (the cluster was formed at install).
    pub fn new(now: Duration) -> Self {
        Self {
            last_contact: now,
            lost: false,
            backlog: 0,
            dropped: 0,
        }
    }

    /// Whether the peer counts as lost.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// Queues one more log batch for the peer; past [`LOG_BACKLOG_MAX_BATCHES`] the
    /// oldest is dropped. Returns how many batches the next exchange carries.
    pub fn queue_batch(&mut self) -> u32 {
        if self.backlog == LOG_BACKLOG_MAX_BATCHES {
            self.dropped = self.dropped.saturating_add(1);
        } else {
            self.backlog += 1;
        }
        self.backlog
    }

    /// An exchange succeeded at `now`: the backlog shipped.
    pub fn succeeded(&mut self, now: Duration) -> Option<Change> {
        let silent = now.saturating_sub(self.last_contact);
        let change = self.lost.then_some(Change::Regained {
            silent,
            shipped: self.backlog,
            dropped: self.dropped,
        });
        *self = Self::new(now);
        change
    }

    /// An exchange failed at `now`: the peer is lost once no exchange succeeded for
    /// longer than `contact_max` (reported once, until it is regained).
    pub fn failed(&mut self, now: Duration, contact_max: Duration) -> Option<Change> {
        let silent = now.saturating_sub(self.last_contact);
        if self.lost || silent <= contact_max {
            return None;
        }
        self.lost = true;
        Some(Change::Lost {
            silent,
            backlog: self.backlog,
        })
    }
}

/// A node's view of its peers on every cluster port, shared between the exchanges
/// (which update it) and `/testall` (which reads it).
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    links: Arc<Mutex<BTreeMap<(Channel, String), PeerLink>>>,
    /// Nodes in the cluster, this one included.
    nodes: usize,
}

impl ClusterView {
    /// A view of `peers` on every channel, each in touch at `now`; `nodes` counts this
    /// node too.
    pub fn new(peers: &[(String, IpAddr)], now: Duration) -> Self {
        let links = Channel::ALL
            .iter()
            .flat_map(|c| peers.iter().map(move |(name, _)| (*c, name.clone())))
            .map(|key| (key, PeerLink::new(now)))
            .collect();
        Self {
            links: Arc::new(Mutex::new(links)),
            nodes: peers.len() + 1,
        }
    }

    /// Runs `f` on the link to `peer` on `channel`.
    fn with_link<T>(&self, channel: Channel, peer: &str, f: impl FnOnce(&mut PeerLink) -> T) -> T {
        let mut links = self
            .links
            .lock()
            .expect("no code panics while holding the cluster view");
        let link = links
            .get_mut(&(channel, peer.to_string()))
            .expect("every peer has a link on every channel");
        f(link)
    }

    /// `/testall`'s cluster-control check: `Ok` while the node reaches a majority of the
    /// cluster on 7777 (itself included), else which peers it lost.
    pub fn control_health(&self) -> Result<(), String> {
        let links = self
            .links
            .lock()
            .expect("no code panics while holding the cluster view");
        let lost: Vec<&str> = links
            .iter()
            .filter(|((c, _), link)| *c == Channel::Control && link.is_lost())
            .map(|((_, peer), _)| peer.as_str())
            .collect();
        let reached = self.nodes - lost.len();
        if reached * 2 > self.nodes {
            return Ok(());
        }
        Err(format!(
            "reaches {reached} of {} nodes on 7777 (lost {})",
            self.nodes,
            lost.join(", ")
        ))
    }
}

/// The line a node sends to a peer on `channel`, carrying `batches` log batches.
pub fn request_line(
    channel: Channel,
    node: &str,
    version: &str,
    members: &[String],
    batches: u32,
) -> String {
    let word = channel.word();
    match channel {
        Channel::Control => format!(
            "{word} {node} version {version} members {}\n",
            members.join(",")
        ),
        Channel::WebtaskLogs => format!("{word} {node} batches {batches}\n"),
        Channel::WebtaskControl => format!("{word} {node} ping\n"),
    }
}

/// The line a node answers on `channel`: its name and, on 7777, its version.
pub fn answer_line(channel: Channel, node: &str, version: &str) -> String {
    match channel {
        Channel::Control => format!("control {node} version {version}\n"),
        _ => format!("{} {node} ok\n", channel.word()),
    }
}

/// Whether `answer` is a well-formed answer on `channel`.
pub fn answer_ok(channel: Channel, answer: &str) -> bool {
    let mut words = answer.split_whitespace();
    words.next() == Some(channel.word()) && words.next().is_some()
}

/// Listens on every port of [`PORTS`] and, when `config.exchange`, keeps in touch with
/// every peer; returns when one listener fails. `version` names the software running.
pub async fn run<N: Net>(
    env: Env<N>,
    config: ClusterPortsConfig,
    view: ClusterView,
    version: String,
) -> std::io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for channel in Channel::ALL {
        let listener = env.net.listen(channel.port()).await?;
        env.record(EventKind::ServiceStarted {
            service: channel.service().to_string(),
            port: channel.port(),
        });
        let line = answer_line(channel, &env.host, &version);
        tasks.spawn(answer(listener, line, config.exchange));
    }
    if config.exchange {
        let members = members(&env.host, &config.peers);
        for channel in Channel::ALL {
            for (peer, address) in &config.peers {
                let exchange = Exchange {
                    env: env.clone(),
                    view: view.clone(),
                    channel,
                    peer: peer.clone(),
                    to: SocketAddr::new(*address, channel.port()),
                    version: version.clone(),
                    members: members.clone(),
                };
                tokio::spawn(keep_in_touch(exchange, config.interval, config.contact_max));
            }
        }
    }
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(std::io::Error::other(join)),
        None => Ok(()),
    }
}

/// The cluster's members in name order: this node and its peers.
fn members(node: &str, peers: &[(String, IpAddr)]) -> Vec<String> {
    let mut all: Vec<String> = peers.iter().map(|(n, _)| n.clone()).collect();
    all.push(node.to_string());
    all.sort();
    all
}

/// Answers every connection with `line`; when `read_first` (the exchange runs), after
/// reading the caller's line (at most [`LINE_MAX_BYTES`], within [`ANSWER_TIMEOUT`]).
async fn answer<L: Listener>(listener: L, line: String, read_first: bool) -> std::io::Result<()>
where
    L::Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut connections = crate::net::Connections::new(listener);
    loop {
        let (mut stream, _peer, slot) = connections.next().await;
        let line = line.clone();
        tokio::spawn(async move {
            let heard = !read_first
                || crate::timers::timeout(ANSWER_TIMEOUT, read_line(&mut stream))
                    .await
                    .is_ok_and(|read| read.is_ok());
            // A caller that went away, or said nothing, needs no answer.
            if heard && stream.write_all(line.as_bytes()).await.is_ok() {
                stream.shutdown().await.ok();
            }
            drop(slot);
        });
    }
}

/// Reads one line of at most [`LINE_MAX_BYTES`].
async fn read_line<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<String> {
    let mut line = String::new();
    let read = BufReader::new(stream.take(LINE_MAX_BYTES))
        .read_line(&mut line)
        .await?;
    if read == 0 || !line.ends_with('\n') {
        return Err(std::io::Error::other("no complete line"));
    }
    Ok(line)
}

/// One node's exchange with one peer on one port.
struct Exchange<N: Net> {
    env: Env<N>,
    view: ClusterView,
    channel: Channel,
    peer: String,
    to: SocketAddr,
    version: String,
    members: Vec<String>,
}

/// Exchanges with the peer every `interval` (the first after one interval, once every
/// node has started), recording each loss and regain.
async fn keep_in_touch<N: Net>(x: Exchange<N>, interval: Duration, contact_max: Duration) {
    loop {
        crate::timers::sleep(interval).await;
        let batches = match x.channel {
            Channel::WebtaskLogs => x.view.with_link(x.channel, &x.peer, PeerLink::queue_batch),
            _ => 0,
        };
        let line = request_line(x.channel, &x.env.host, &x.version, &x.members, batches);
        let result = talk(&x.env.net, x.to, x.channel, &line).await;
        let now = x.env.clock.elapsed();
        let change = x.view.with_link(x.channel, &x.peer, |link| match &result {
            Ok(()) => link.succeeded(now),
            Err(_) => link.failed(now, contact_max),
        });
        if let Some(change) = change {
            let why = result.err().unwrap_or_default();
            x.env.record(EventKind::ClusterPort(event(&x, change, why)));
        }
    }
}

/// The event for `change` on `x`'s port and peer.
fn event<N: Net>(x: &Exchange<N>, change: Change, why: String) -> ClusterPortEvent {
    let (service, port, peer) = (
        x.channel.service().to_string(),
        x.channel.port(),
        x.peer.clone(),
    );
    match change {
        Change::Lost { silent, backlog } => ClusterPortEvent::Lost {
            service,
            port,
            peer,
            silent_ms: ms(silent),
            why,
            backlog,
        },
        Change::Regained {
            silent,
            shipped,
            dropped,
        } => ClusterPortEvent::Regained {
            service,
            port,
            peer,
            silent_ms: ms(silent),
            shipped,
            dropped,
        },
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One exchange: connect, send `line`, read a well-formed answer; `Err` says why not.
async fn talk<N: Net>(net: &N, to: SocketAddr, channel: Channel, line: &str) -> Result<(), String> {
    use crate::duration::span;
    let mut stream = crate::net::connect_within(net, to, CONNECT_TIMEOUT).await?;
    let exchange = async {
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        read_line(&mut stream)
            .await
            .map_err(|e| format!("no answer: {e}"))
    };
    match crate::timers::timeout(ANSWER_TIMEOUT, exchange).await {
        Err(_elapsed) => Err(format!("no answer within {}", span(ANSWER_TIMEOUT))),
        Ok(Err(why)) => Err(why),
        Ok(Ok(answer)) if answer_ok(channel, &answer) => Ok(()),
        Ok(Ok(answer)) => Err(format!("unexpected answer {:?}", answer.trim_end())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(15);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Proves a peer is lost only once no exchange succeeded for longer than the bound,
    /// is reported lost once, and is regained (with how long it was silent) by the next
    /// success; a success while in touch reports nothing.
    #[test]
    fn a_peer_is_lost_past_the_bound_and_regained_once() {
        let mut link = PeerLink::new(s(0));
        assert_eq!(link.succeeded(s(5)), None);
        assert_eq!(link.failed(s(10), BOUND), None);
        assert_eq!(
            link.failed(s(20), BOUND),
            None,
            "15s silent is not past 15s"
        );
        assert_eq!(
            link.failed(s(25), BOUND),
            Some(Change::Lost {
                silent: s(20),
                backlog: 0
            })
        );
        assert!(link.is_lost());
        assert_eq!(link.failed(s(30), BOUND), None, "lost is reported once");
        assert_eq!(
            link.succeeded(s(35)),
            Some(Change::Regained {
                silent: s(30),
                shipped: 0,
                dropped: 0
            })
        );
        assert!(!link.is_lost());
        assert_eq!(
            link.failed(s(40), BOUND),
            None,
            "the clock restarts at the regain"
        );
    }

    /// Proves log batches back up while a peer cannot take them, ship together on the
    /// next success, and past the backlog's bound the oldest are dropped and counted.
    #[test]
    fn log_batches_back_up_and_ship_on_regain() {
        let mut link = PeerLink::new(s(0));
        for _ in 0..4 {
            link.queue_batch();
        }
        assert_eq!(
            link.failed(s(16), BOUND),
            Some(Change::Lost {
                silent: s(16),
                backlog: 4
            })
        );
        assert_eq!(link.queue_batch(), 5);
        assert_eq!(
            link.succeeded(s(30)),
            Some(Change::Regained {
                silent: s(30),
                shipped: 5,
                dropped: 0
            })
        );
        let mut full = PeerLink::new(s(0));
        for _ in 0..LOG_BACKLOG_MAX_BATCHES + 3 {
            full.queue_batch();
        }
        assert_eq!(full.queue_batch(), LOG_BACKLOG_MAX_BATCHES);
        full.failed(s(16), BOUND);
        assert_eq!(
            full.succeeded(s(17)),
            Some(Change::Regained {
                silent: s(17),
                shipped: LOG_BACKLOG_MAX_BATCHES,
                dropped: 4
            })
        );
    }

    fn peers(names: &[&str]) -> Vec<(String, IpAddr)> {
        names
            .iter()
            .map(|n| (n.to_string(), IpAddr::from([10, 0, 1, 11])))
            .collect()
    }

    /// Proves `/testall`'s rule: a node of three that lost one peer on 7777 still
    /// reaches a majority (OK); one that lost both does not (the answer names them);
    /// losses on the webtask ports do not count; a node of five needs two peers.
    #[test]
    fn testall_fails_without_a_majority_on_7777() {
        let view = ClusterView::new(&peers(&["node-2", "node-3"]), s(0));
        let lose = |channel, peer: &str| {
            view.with_link(channel, peer, |l| l.failed(s(20), BOUND));
        };
        lose(Channel::WebtaskLogs, "node-2");
        lose(Channel::WebtaskControl, "node-3");
        assert_eq!(view.control_health(), Ok(()));
        lose(Channel::Control, "node-2");
        assert_eq!(view.control_health(), Ok(()));
        lose(Channel::Control, "node-3");
        assert_eq!(
            view.control_health(),
            Err("reaches 1 of 3 nodes on 7777 (lost node-2, node-3)".to_string())
        );
        let five = ClusterView::new(&peers(&["node-2", "node-3", "node-4", "node-5"]), s(0));
        for peer in ["node-2", "node-3"] {
            five.with_link(Channel::Control, peer, |l| l.failed(s(20), BOUND));
        }
        assert_eq!(five.control_health(), Ok(()));
        five.with_link(Channel::Control, "node-4", |l| l.failed(s(20), BOUND));
        assert!(five.control_health().is_err());
        assert_eq!(ClusterView::new(&[], s(0)).control_health(), Ok(()));
    }

    /// Proves the lines each port carries and that an answer is checked for its port's
    /// word: a control answer on the logs port is refused.
    #[test]
    fn lines_on_each_port() {
        let members = vec!["node-1".to_string(), "node-2".to_string()];
        assert_eq!(
            request_line(Channel::Control, "node-1", "2026.10.1", &members, 0),
            "control node-1 version 2026.10.1 members node-1,node-2\n"
        );
        assert_eq!(
            request_line(Channel::WebtaskLogs, "node-1", "v", &members, 3),
            "logs node-1 batches 3\n"
        );
        let control = answer_line(Channel::Control, "node-2", "2026.10.1");
        assert!(answer_ok(Channel::Control, &control));
        assert!(!answer_ok(Channel::WebtaskLogs, &control));
        assert!(answer_ok(
            Channel::WebtaskControl,
            &answer_line(Channel::WebtaskControl, "node-2", "v")
        ));
        assert!(!answer_ok(Channel::Control, "control\n"));
        assert_eq!(PORTS.map(|(port, _)| port), Channel::ALL.map(Channel::port));
    }
}
