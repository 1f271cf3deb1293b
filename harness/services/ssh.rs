//! Remote maintenance access: the nodes' SSH service on port 22, and the SSH client the
//! jumphost (and any host a scenario tries a direct attempt from) runs.
//!
//! Real component: OpenSSH's `sshd` on the appliance, behind the node's firewall. The
//! security and access requirements: the vendor's engineers reach the appliance "through
//! SSH access via Jumphost (the preferred method) or over VPN", and "this connection may
//! be enabled for and disabled after the agreed-upon time frames for work".
//!
//! Modelled: the firewall rule and `sshd` together, judged on each connection
//! ([`decide`], plain code over the peer's address and the run's time): a connection
//! from a host `access.ssh_from` does not list (by default anyone but the jumphost) is
//! refused; with no maintenance window declared, or outside every window (unless
//! `access.closed_outside_windows = false`), so is every connection. A refused
//! connection is closed before the server's banner, as `sshd` behind TCP wrappers does
//! (the client sees "Connection closed by remote host"), and the node records why. An
//! accepted one gets the protocol's identification exchange (RFC 4253 section 4.2: each
//! side sends one `SSH-2.0-...` line, at most [`BANNER_MAX_BYTES`]), then a session:
//! lines from the client until it sends `exit` and closes (logout), the connection
//! breaks, or the window ends, when access is disabled and the node closes the session.
//! The node records the session's opening and its end, with its length.
//!
//! Left out on purpose: key exchange, encryption, authentication and the channel
//! protocol (no scenario's outcome depends on them); `ClientAliveInterval` and other
//! idle timeouts; the VPN, which the requirements name as the other path.
//!
//! The client ([`client`]) takes the sessions the world asks for ([`SshRequests`]),
//! one task each: it connects (within [`CONNECT_TIMEOUT`], as `ssh -o
//! ConnectTimeout=10`), reads the server's banner (within [`BANNER_TIMEOUT`]), sends its
//! own, keeps the session for the step's duration and logs out. It records only what
//! failed on its side: no connection, or no banner.
//!
//! Ports: TCP 22 on every node, only when `[topology.access] jumphost = true`. Faults: a
//! node crash ends its sessions (the connection breaks, or is never answered); a
//! firewall rule on 22 refuses or drops the connect before `sshd` sees it, and the client
//! records that; a crashed jumphost loses its open sessions, its queued requests wait
//! for its restart; clock steps change nothing (windows are in the run's time, as the
//! operator who opens and closes them keeps it).

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::env::Env;
use crate::events::EventKind;
use crate::events::access::{SshClose, SshEvent};
use crate::faults::access::{SSH_PORT, SshRefusal, SshSession};
use crate::net::Net;
use crate::topology::AccessWindow;

/// The identification line the nodes' `sshd` sends (Debian 12's OpenSSH).
pub const SERVER_BANNER: &str = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3";
/// The identification line the maintenance client sends.
pub const CLIENT_BANNER: &str = "SSH-2.0-OpenSSH_9.2 maintenance";
/// What the client sends to log out.
const LOGOUT: &str = "exit";
/// The longest identification or session line, CR LF included (RFC 4253 section 4.2).
pub const BANNER_MAX_BYTES: usize = 255;
/// How long the client waits for its TCP connection (`ssh -o ConnectTimeout=10`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long either side waits for the other's identification line (shorter than
/// OpenSSH's `LoginGraceTime` of 120 s, which also covers authentication, not modelled).
pub const BANNER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the nodes' firewall and `sshd` are configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct SshdConfig {
    /// The maintenance windows, in the run's time.
    pub windows: Vec<AccessWindow>,
    /// Refuse every connection outside the windows (the connection disabled after).
    pub closed_outside_windows: bool,
    /// The addresses the firewall admits SSH from (by default the jumphost's).
    pub admitted: Vec<IpAddr>,
    /// Every host's name by address, for the event log.
    pub names: BTreeMap<IpAddr, String>,
}

/// What the node does with one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Accept it, in window `window` (from 1; `None` outside every window with access
    /// left enabled), closing it at `until` (the window's end) if still open.
    Accept {
        window: Option<usize>,
        until: Option<Duration>,
    },
    /// Close it before the banner, for this reason.
    Refuse(SshRefusal),
}

/// The firewall and `sshd`'s decision on a connection from `peer` at `now` (the run's
/// time): first who asks, then when.
pub fn decide(config: &SshdConfig, peer: IpAddr, now: Duration) -> Decision {
    if !config.admitted.contains(&peer) {
        return Decision::Refuse(SshRefusal::NotThroughJumphost);
    }
    let inside = config.windows.iter().position(|w| w.contains(now));
    match (inside, config.closed_outside_windows) {
        (Some(i), _) => Decision::Accept {
            window: Some(i + 1),
            until: Some(config.windows[i].end),
        },
        (None, false) => Decision::Accept {
            window: None,
            until: None,
        },
        (None, true) if config.windows.is_empty() => Decision::Refuse(SshRefusal::NoWindow),
        (None, true) => Decision::Refuse(SshRefusal::OutsideWindow),
    }
}

/// The node's SSH service: listens on port 22 and judges every connection.
pub async fn serve<N: Net>(env: Env<N>, config: SshdConfig) -> std::io::Result<()> {
    let listener = env.net.listen(SSH_PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "ssh".to_string(),
        port: SSH_PORT,
    });
    let config = Arc::new(config);
    let mut connections = crate::net::Connections::new(listener);
    loop {
        let (stream, peer, slot) = connections.next().await;
        let (env, config) = (env.clone(), config.clone());
        tokio::spawn(async move {
            session(&env, &config, stream, peer.ip()).await;
            drop(slot);
        });
    }
}

/// One connection, from its decision to its end.
async fn session<N: Net>(env: &Env<N>, config: &SshdConfig, mut stream: N::Stream, peer: IpAddr) {
    let from = config
        .names
        .get(&peer)
        .cloned()
        .unwrap_or_else(|| peer.to_string());
    let to = env.host.to_string();
    let opened = env.clock.elapsed();
    let until = match decide(config, peer, opened) {
        Decision::Refuse(reason) => {
            env.record(EventKind::Ssh(SshEvent::Refused { from, to, reason }));
            stream.shutdown().await.ok();
            return;
        }
        Decision::Accept { window, until } => {
            let event = SshEvent::Opened {
                from: from.clone(),
                to: to.clone(),
                window,
            };
            env.record(EventKind::Ssh(event));
            until
        }
    };
    let why = match until {
        Some(end) => {
            let left = end.saturating_sub(opened);
            tokio::select! {
                biased;
                why = converse(&mut stream) => why,
                () = crate::timers::sleep(left) => SshClose::WindowEnded,
            }
        }
        None => converse(&mut stream).await,
    };
    stream.shutdown().await.ok();
    let after = env.clock.elapsed().saturating_sub(opened);
    let after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
    let event = SshEvent::Closed {
        from,
        to,
        after_ms,
        why,
    };
    env.record(EventKind::Ssh(event));
}

/// The server's side of an accepted connection: its banner, the client's (within
/// [`BANNER_TIMEOUT`]), then session lines until the client logs out or goes away.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> SshClose {
    if stream
        .write_all(format!("{SERVER_BANNER}\r\n").as_bytes())
        .await
        .is_err()
    {
        return SshClose::Lost;
    }
    let banner = crate::timers::timeout(BANNER_TIMEOUT, read_line(stream)).await;
    if !matches!(banner, Ok(Ok(Some(line))) if line.starts_with("SSH-2.0-")) {
        return SshClose::Lost;
    }
    loop {
        match read_line(stream).await {
            Ok(Some(line)) if line == LOGOUT => return SshClose::Logout,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return SshClose::Lost,
        }
    }
}

/// Reads one line (CR LF or LF), at most [`BANNER_MAX_BYTES`]; `None` at the end of the
/// stream before any byte, an error past the bound.
async fn read_line<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await? == 0 {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        if byte[0] == b'\n' {
            let text = String::from_utf8_lossy(&line);
            return Ok(Some(text.trim_end_matches('\r').to_string()));
        }
        line.push(byte[0]);
        if line.len() >= BANNER_MAX_BYTES {
            return Err(std::io::Error::other("line over 255 bytes"));
        }
    }
}

/// The sessions the world asks a host's client to open, shared between the world (which
/// pushes each step's session) and the client (which takes them in order).
#[derive(Debug, Clone, Default)]
pub struct SshRequests(Arc<(Mutex<VecDeque<SshSession>>, Notify)>);

impl SshRequests {
    /// Queues `session` for the client and wakes it.
    pub fn ask(&self, session: SshSession) {
        self.0
            .0
            .lock()
            .expect("no code panics while holding the requests")
            .push_back(session);
        self.0.1.notify_one();
    }

    /// The next session asked for, waiting for one.
    async fn next(&self) -> SshSession {
        loop {
            let queued = self
                .0
                .0
                .lock()
                .expect("no code panics while holding the requests")
                .pop_front();
            if let Some(session) = queued {
                return session;
            }
            self.0.1.notified().await;
        }
    }
}

/// A host's SSH client: the sessions it is asked for, and where each node is.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub requests: SshRequests,
    /// Every node's address, by name.
    pub nodes: BTreeMap<String, IpAddr>,
}

/// Opens every session the world asks for, each in its own task; runs until the host
/// stops.
pub async fn client<N: Net>(env: Env<N>, config: ClientConfig) -> std::io::Result<()> {
    loop {
        let session = config.requests.next().await;
        let to = config.nodes.get(&session.to).copied();
        let to = to.expect("the loader checks that ssh steps name nodes");
        tokio::spawn(open(env.clone(), SocketAddr::new(to, SSH_PORT), session));
    }
}

/// One session from the client's side; records what failed, if anything.
async fn open<N: Net>(env: Env<N>, to: SocketAddr, session: SshSession) {
    if let Err(error) = connect_and_stay(&env.net, to, &session).await {
        let event = SshEvent::Failed {
            to: session.to,
            error,
        };
        env.record(EventKind::Ssh(event));
    }
}

/// Connects, exchanges banners, keeps the session `duration_ms` (or until the node
/// closes it) and logs out; the error in words when it could not open one.
async fn connect_and_stay<N: Net>(
    net: &N,
    to: SocketAddr,
    session: &SshSession,
) -> Result<(), String> {
    let mut stream = match crate::timers::timeout(CONNECT_TIMEOUT, net.connect(to)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("connect failed: {e}")),
        Err(_) => {
            let waited = crate::duration::span(CONNECT_TIMEOUT);
            return Err(format!("connect timed out after {waited}"));
        }
    };
    match crate::timers::timeout(BANNER_TIMEOUT, read_line(&mut stream)).await {
        Ok(Ok(Some(line))) if line.starts_with("SSH-2.0-") => {}
        Ok(Ok(None)) => return Err("connection closed by the node before its banner".into()),
        Ok(Ok(Some(_)) | Err(_)) => return Err("no SSH banner from the node".into()),
        Err(_) => {
            let waited = crate::duration::span(BANNER_TIMEOUT);
            return Err(format!("no banner within {waited}"));
        }
    }
    let hello = format!("{CLIENT_BANNER}\r\n");
    if stream.write_all(hello.as_bytes()).await.is_err() {
        return Err("connection lost before the session".into());
    }
    let stay = Duration::from_millis(session.duration_ms);
    // The node may close the session first (its window ended): then nothing is left to
    // log out of, and the node has recorded why.
    let closed_by_node = tokio::select! {
        biased;
        _ = read_line(&mut stream) => true,
        () = crate::timers::sleep(stay) => false,
    };
    if !closed_by_node {
        stream
            .write_all(format!("{LOGOUT}\r\n").as_bytes())
            .await
            .ok();
        stream.shutdown().await.ok();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(windows: &[(u64, u64)], closed: bool) -> SshdConfig {
        SshdConfig {
            windows: windows
                .iter()
                .map(|&(s, e)| AccessWindow {
                    start: Duration::from_secs(s),
                    end: Duration::from_secs(e),
                })
                .collect(),
            closed_outside_windows: closed,
            admitted: vec![JUMP],
            names: BTreeMap::new(),
        }
    }

    const JUMP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, 30));
    const USERS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 10));

    fn at(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Proves the decision: the jumphost inside a window is accepted until the window's
    /// end (its start included, its end excluded); outside it, or with no window, it is
    /// refused with the reason; anyone else is refused as not through the jumphost, even
    /// inside a window.
    #[test]
    fn only_the_jumphost_inside_a_window() {
        let c = config(&[(10, 40), (60, 70)], true);
        let accept = |window, end| Decision::Accept {
            window: Some(window),
            until: Some(at(end)),
        };
        assert_eq!(decide(&c, JUMP, at(10)), accept(1, 40));
        assert_eq!(decide(&c, JUMP, at(65)), accept(2, 70));
        let outside = Decision::Refuse(SshRefusal::OutsideWindow);
        assert_eq!(decide(&c, JUMP, at(40)), outside);
        assert_eq!(decide(&c, JUMP, at(5)), outside);
        let direct = Decision::Refuse(SshRefusal::NotThroughJumphost);
        assert_eq!(decide(&c, USERS, at(20)), direct);
        let none = config(&[], true);
        assert_eq!(
            decide(&none, JUMP, at(20)),
            Decision::Refuse(SshRefusal::NoWindow)
        );
    }

    /// Proves that access left enabled after the windows accepts the jumphost at any
    /// time, with no window to close the session, and still refuses anyone else.
    #[test]
    fn left_enabled_accepts_outside_windows() {
        let c = config(&[(10, 40)], false);
        let open = Decision::Accept {
            window: None,
            until: None,
        };
        assert_eq!(decide(&c, JUMP, at(50)), open);
        assert_eq!(
            decide(&c, USERS, at(50)),
            Decision::Refuse(SshRefusal::NotThroughJumphost)
        );
    }

    /// Proves the server's side of the exchange: its banner first, then the client's,
    /// then `exit` is a logout; a connection that ends without it is lost.
    #[tokio::test]
    async fn banner_exchange_then_logout() {
        let mut stream = tokio_test::io::Builder::new()
            .write(format!("{SERVER_BANNER}\r\n").as_bytes())
            .read(format!("{CLIENT_BANNER}\r\nuptime\r\nexit\r\n").as_bytes())
            .build();
        assert_eq!(converse(&mut stream).await, SshClose::Logout);
        let mut gone = tokio_test::io::Builder::new()
            .write(format!("{SERVER_BANNER}\r\n").as_bytes())
            .read(format!("{CLIENT_BANNER}\r\n").as_bytes())
            .build();
        assert_eq!(converse(&mut gone).await, SshClose::Lost);
    }
}
