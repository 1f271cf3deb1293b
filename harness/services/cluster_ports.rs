//! The appliance's other inter-node ports: cluster control and webtask.
//!
//! Real component: the network requirements require every node to reach every other on 7777 (cluster
//! control), 8721 and 8701 (webtask logging and control), besides 27017.
//!
//! Modelled: each port is listened on, and a connection gets one line naming the node and
//! the service, then is closed; enough for a reachability probe (and for the firewall
//! rules of a scenario to have something to block). What flows on these ports in the real
//! appliance is not modelled: no scenario's outcome depends on it yet.
//!
//! Bounds: accepts never fail and each port keeps at most
//! [`crate::net::MAX_CONNECTIONS_PER_LISTENER`] connections open ([`crate::net`]).
//!
//! Ports: TCP 7777, 8721, 8701.
//!
//! Faults it reacts to: those the world applies to the host: crash and restart,
//! partitions, firewall rules and link faults on these ports; a pause leaves new
//! connections completed by the kernel and unanswered until resumed. `slow` does not touch
//! it (there is no service time to multiply).

use tokio::io::AsyncWriteExt;

use crate::env::Env;
use crate::events::EventKind;
use crate::net::{Listener, Net};

/// The ports and what the real appliance runs on them.
pub const PORTS: [(u16, &str); 3] = [
    (7777, "cluster-control"),
    (8721, "webtask-logs"),
    (8701, "webtask-control"),
];

/// Listens on every port of [`PORTS`]; returns when one listener fails.
pub async fn run<N: Net>(env: Env<N>) -> std::io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for (port, service) in PORTS {
        let listener = env.net.listen(port).await?;
        env.record(EventKind::ServiceStarted {
            service: service.to_string(),
            port,
        });
        let host = env.host.clone();
        tasks.spawn(answer(listener, format!("{host} {service} ok\n")));
    }
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(std::io::Error::other(join)),
        None => Ok(()),
    }
}

async fn answer<L: Listener>(listener: L, line: String) -> std::io::Result<()>
where
    L::Stream: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut connections = crate::net::Connections::new(listener);
    loop {
        let (mut stream, _peer, slot) = connections.next().await;
        let line = line.clone();
        tokio::spawn(async move {
            // A prober that went away needs no answer.
            if stream.write_all(line.as_bytes()).await.is_ok() {
                stream.shutdown().await.ok();
            }
            drop(slot);
        });
    }
}
