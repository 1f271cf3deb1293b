//! DNS: the LAN's resolver, authoritative for the appliance's zone.
//!
//! Real component: the corporate DNS server that holds the four records every appliance
//! instance needs (the network requirements, "DNS Records"), all pointing at the load balancer.
//!
//! Modelled: a server on UDP and TCP port 53 speaking the real DNS wire format
//! (hickory-proto): A records with a TTL for `manage.`, `config.`, `webtask.` and
//! `login.<domain>`; NOERROR with no answer for other record types of those names;
//! NXDOMAIN for any other name; FORMERR for a message with no question or one that cannot
//! be read past its header. EDNS(0) (RFC 6891): a query with an OPT record gets one back
//! (version 0, UDP size [`EDNS_UDP_BYTES_MAX`], no flags, no options), a higher version
//! BADVERS, two OPT records FORMERR. A UDP answer longer than the client can take (512
//! bytes, or its OPT's size up to [`EDNS_UDP_BYTES_MAX`]) goes out truncated: TC set, the
//! question and OPT only, so the client asks again over TCP. Over TCP (RFC 1035 section
//! 4.2.2, RFC 7766) each message travels behind a two-byte length, a connection carries
//! any number of queries (answered in order), and the same [`Zone::answer`] answers them,
//! up to 65,535 bytes. And the client side the users need: one query over UDP without
//! EDNS, one bounded wait for the answer.
//!
//! Bounds: a TCP connection idle for [`TCP_IDLE_MS`] (no whole query, or an answer left
//! unread) is closed; at most [`TCP_CONNECTIONS_MAX`] are served at once, and one more is
//! closed as soon as it is accepted. A failed accept or receive is retried after a
//! back-off ([`crate::net::error_backoff`] and [`crate::net::accept_next`]: 10 ms
//! doubling to 1 s while errors come in a row), and a failed send loses that one answer: no client can stop the
//! service (one that sent from source port 0 did, before).
//!
//! Left out on purpose: recursion, DNSSEC, EDNS options (COOKIE and the rest are
//! ignored), zone transfers, and a client half that retries a truncated answer over TCP
//! (the zone's answers fit 512 bytes).
//!
//! Faults it reacts to: a crash (power-off: queries vanish; process: UDP queries get the
//! host's port-unreachable, TCP connections are refused), partitions and firewall rules
//! like any host, and the scenario's `dns` step ([`DnsAnswer`], through an [`Answering`]
//! switch the world holds): SERVFAIL to every query, NXDOMAIN for the zone's names,
//! silence (no answer, over UDP and TCP alike), or the zone's names pointing at a wrong
//! address, until `answer = "normal"`. The server itself keeps no cache; its clients do
//! (each answer for its TTL, and no negative caching: [`Resolver`] and the users'
//! browsers), so a fault is felt by a client only once its cached answer expires, and
//! an undone fault at its next lookup.
//!
//! Port: 53, UDP and TCP. Only the UDP socket records `ServiceStarted` (one service, one
//! event; the simulation's event log is the same as before TCP was served); nothing in
//! the simulation speaks TCP to it, `harness serve dns` binds both on one port.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::env::Env;
use crate::events::EventKind;
use crate::faults::service::DnsAnswer;
use crate::net::{Datagrams, Net};

/// The DNS port.
pub const PORT: u16 = 53;

/// Datagrams longer than this are not DNS over UDP without EDNS (RFC 1035 section 2.3.4).
pub const MAX_UDP_BYTES: usize = 512;

/// The largest UDP answer sent to an EDNS client, in bytes, whatever larger size it
/// advertises; also the size the server advertises in its own OPT record, and its receive
/// buffer. 1232 is DNS Flag Day 2020's value: an answer that fits a 1280-byte IPv6 packet
/// is never fragmented.
pub const EDNS_UDP_BYTES_MAX: u16 = 1232;

/// How a reply travels, which bounds its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A datagram: [`MAX_UDP_BYTES`], or the size the query's OPT record advertises (at
    /// least 512, at most [`EDNS_UDP_BYTES_MAX`]); a longer answer is truncated (TC).
    Udp,
    /// A TCP stream: up to 65,535 bytes, the most a two-byte length can say.
    Tcp,
}

/// How long a TCP connection may stay without a whole query arriving (or with an answer
/// the client does not read) before the server closes it, in milliseconds. RFC 7766
/// section 6.2.3 recommends an idle period "on the order of seconds"; a slow client that
/// sends half a length and stalls holds its connection this long and no longer.
pub const TCP_IDLE_MS: u64 = 10_000;

/// TCP connections served at once; one more is closed as soon as it is accepted.
pub const TCP_CONNECTIONS_MAX: usize = 64;

/// The records the server answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Fully qualified names and their addresses, in a fixed order.
    pub records: Vec<(Name, Ipv4Addr)>,
    /// TTL of every record, in seconds.
    pub ttl_s: u32,
}

impl Zone {
    pub fn new(names: &[String], address: Ipv4Addr, ttl_s: u32) -> Self {
        let records: Vec<(String, Ipv4Addr)> = names.iter().map(|n| (n.clone(), address)).collect();
        Self::with_records(&records, ttl_s)
    }

    /// A zone of names with their own addresses.
    pub fn with_records(records: &[(String, Ipv4Addr)], ttl_s: u32) -> Self {
        let records = records
            .iter()
            .map(|(n, address)| {
                (
                    fqdn(n).expect("zone names are checked with the topology"),
                    *address,
                )
            })
            .collect();
        Self { records, ttl_s }
    }

    /// The response to one request, sized for `transport`, or `None` when it is not a
    /// DNS query at all (a real server drops what it cannot read as one). A query that
    /// cannot be parsed past its header gets FORMERR (RFC 1035 section 4.1.1).
    pub fn answer(&self, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
        self.answer_as(request, transport, DnsAnswer::Normal)
    }

    /// The response to one request under a scenario's fault `mode` ([`DnsAnswer`]):
    /// `None` for silence, as for anything that is not a query.
    pub fn answer_as(
        &self,
        request: &[u8],
        transport: Transport,
        mode: DnsAnswer,
    ) -> Option<Vec<u8>> {
        if mode == DnsAnswer::Silence {
            return None;
        }
        let query = match Message::from_vec(request) {
            Ok(query) => query,
            Err(_) => return format_error(request),
        };
        if query.message_type() != MessageType::Query {
            return None;
        }
        let limit = match transport {
            Transport::Udp => query.extensions().as_ref().map_or(MAX_UDP_BYTES, |edns| {
                usize::from(edns.max_payload().clamp(512, EDNS_UDP_BYTES_MAX))
            }),
            Transport::Tcp => usize::from(u16::MAX),
        };
        encode(&self.reply(&query, mode), limit)
    }

    /// The whole reply to a parsed query: EDNS first (RFC 6891), then the question.
    fn reply(&self, query: &Message, mode: DnsAnswer) -> Message {
        let mut reply = Message::new();
        reply
            .set_id(query.id())
            .set_message_type(MessageType::Response)
            .set_op_code(query.op_code())
            .set_authoritative(true)
            .set_recursion_desired(query.recursion_desired());
        reply.add_queries(query.queries().to_vec());
        if let Some(edns) = query.extensions() {
            reply.set_edns(server_edns());
            // RFC 6891 section 6.1.3: a version the server does not implement.
            if edns.version() > 0 {
                reply.set_response_code(ResponseCode::BADVERS);
                return reply;
            }
        }
        match query.queries() {
            [_] if mode == DnsAnswer::Servfail => {
                reply.set_response_code(ResponseCode::ServFail);
            }
            [q] if query.op_code() == OpCode::Query => self.resolve(q, &mut reply, mode),
            _ => {
                reply.set_response_code(ResponseCode::FormErr);
            }
        }
        reply
    }

    fn resolve(&self, q: &Query, reply: &mut Message, mode: DnsAnswer) {
        let name = q.name().to_lowercase();
        let known: Vec<_> = self.records.iter().filter(|(n, _)| *n == name).collect();
        if known.is_empty() || mode == DnsAnswer::Nxdomain {
            reply.set_response_code(ResponseCode::NXDomain);
            return;
        }
        if q.query_type() == RecordType::A {
            for (n, ip) in known {
                let ip = match mode {
                    DnsAnswer::WrongAddress { address } => address,
                    _ => *ip,
                };
                reply.add_answer(Record::from_rdata(n.clone(), self.ttl_s, RData::A(A(ip))));
            }
        }
    }
}

fn fqdn(name: &str) -> Result<Name, String> {
    let mut n = Name::from_str(name).map_err(|e| format!("{name:?} is not a DNS name: {e}"))?;
    n.set_fqdn(true);
    Ok(n.to_lowercase())
}

/// The server's own OPT record (RFC 6891 section 6.1.2): version 0, UDP size
/// [`EDNS_UDP_BYTES_MAX`], no flags (DO is cleared: no DNSSEC here, RFC 3225 section 3)
/// and no options (a client's COOKIE is ignored, RFC 7873 section 5.2.1).
fn server_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_UDP_BYTES_MAX)
        .set_version(0)
        .set_dnssec_ok(false);
    edns
}

/// `reply` on the wire in at most `limit` bytes: whole when it fits, else truncated
/// (RFC 1035 section 4.2.1, RFC 2181 section 9): TC set, no records (never part of an
/// RRset), the question and the OPT record kept (RFC 6891 section 7), and the question
/// dropped too if even that is too long.
fn encode(reply: &Message, limit: usize) -> Option<Vec<u8>> {
    let whole = reply.to_vec().ok()?;
    if whole.len() <= limit {
        return Some(whole);
    }
    let mut truncated = reply.truncate();
    let bytes = truncated.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    truncated.take_queries();
    truncated.to_vec().ok()
}

/// FORMERR for a query whose header reads but whose body does not (RFC 1035 section
/// 4.1.1, "unable to interpret the query"; RFC 6891 section 6.1.1 for two OPT records):
/// the header alone, its id, opcode and RD echoed. `None` for anything else.
fn format_error(request: &[u8]) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(request)).ok()?;
    if header.message_type() != MessageType::Query {
        return None;
    }
    let mut reply = Message::error_msg(header.id(), header.op_code(), ResponseCode::FormErr);
    reply.set_recursion_desired(header.recursion_desired());
    reply.to_vec().ok()
}

/// How the server answers now: the scenario's `dns` step sets it (the world holds a
/// clone), the server reads it for every query. Starts [`DnsAnswer::Normal`].
#[derive(Debug, Clone)]
pub struct Answering(Arc<std::sync::Mutex<DnsAnswer>>);

impl Default for Answering {
    fn default() -> Self {
        Self(Arc::new(std::sync::Mutex::new(DnsAnswer::Normal)))
    }
}

impl Answering {
    /// From now on the server answers so.
    pub fn set(&self, answer: DnsAnswer) {
        *self
            .0
            .lock()
            .expect("no code panics while holding the switch") = answer;
    }

    /// How the server answers now.
    pub fn get(&self) -> DnsAnswer {
        *self
            .0
            .lock()
            .expect("no code panics while holding the switch")
    }
}

/// Runs the server, on UDP and TCP port 53, for ever; an error only when a port cannot be
/// bound.
pub async fn run<N: Net>(env: Env<N>, zone: Zone) -> io::Result<()> {
    run_answering(env, (zone, Answering::default())).await
}

/// [`run`], answering as `answering` says at each query (the simulation's server, whose
/// answers the scenario's steps change).
pub async fn run_answering<N: Net>(
    env: Env<N>,
    (zone, answering): (Zone, Answering),
) -> io::Result<()> {
    let socket = env.net.bind_udp(PORT).await?;
    env.record(EventKind::ServiceStarted {
        service: "dns".to_string(),
        port: PORT,
    });
    // One service on one port: the TCP listener records no event of its own.
    let listener = env.net.listen(PORT).await?;
    let zone = Arc::new(zone);
    tokio::select! {
        biased;
        () = serve_udp(&socket, &zone, &answering) => {}
        () = serve_tcp::<N>(listener, zone.clone(), answering.clone()) => {}
    }
    Ok(())
}

/// Answers datagrams for ever. A failed receive is retried after [`backoff`]; a failed
/// send loses that one answer, as the network could have (a reply to source port 0 fails
/// so on Linux, and on a socket with IP_RECVERR or a connected one, an ICMP error from an
/// earlier send fails the next receive). There is no event kind for either: the service
/// goes on without a word.
async fn serve_udp<S: Datagrams>(socket: &S, zone: &Zone, answering: &Answering) {
    let mut buf = [0u8; EDNS_UDP_BYTES_MAX as usize];
    let mut errors_in_a_row = 0;
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => {
                errors_in_a_row = 0;
                received
            }
            Err(_) => {
                errors_in_a_row += 1;
                crate::timers::sleep(crate::net::error_backoff(errors_in_a_row)).await;
                continue;
            }
        };
        if let Some(reply) = zone.answer_as(&buf[..len], Transport::Udp, answering.get())
            && let Err(lost) = socket.send_to(&reply, from).await
        {
            drop(lost);
        }
    }
}

/// Accepts DNS-over-TCP connections for ever, at most [`TCP_CONNECTIONS_MAX`] served at
/// once: one over the bound is closed as soon as it is accepted (RFC 7766 section 6.2.2
/// lets a server close connections to manage its resources). A failed accept (out of
/// file descriptors, say) is waited out by [`crate::net::accept_next`].
async fn serve_tcp<N: Net>(mut listener: N::Listener, zone: Arc<Zone>, answering: Answering) {
    let slots = Arc::new(tokio::sync::Semaphore::new(TCP_CONNECTIONS_MAX));
    loop {
        let (stream, _peer) = crate::net::accept_next(&mut listener).await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let (zone, answering) = (zone.clone(), answering.clone());
        tokio::spawn(async move {
            serve_answering(stream, &zone, &answering).await;
            drop(slot);
        });
    }
}

/// Answers the queries of one TCP connection, in order, each behind its two-byte length
/// (RFC 1035 section 4.2.2), until the client closes it, sends something that is not a
/// DNS query, or leaves it [`TCP_IDLE_MS`] without a whole query or with an answer
/// unread.
pub async fn serve_connection<S>(stream: S, zone: &Zone)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_answering(stream, zone, &Answering::default()).await;
}

/// [`serve_connection`], answering as `answering` says at each query (silence: the
/// query is read and left unanswered; the client's own timeout ends its wait).
async fn serve_answering<S>(mut stream: S, zone: &Zone, answering: &Answering)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let idle = Duration::from_millis(TCP_IDLE_MS);
    loop {
        let Ok(Ok(Some(request))) = crate::timers::timeout(idle, read_message(&mut stream)).await
        else {
            return;
        };
        let mode = answering.get();
        let Some(reply) = zone.answer_as(&request, Transport::Tcp, mode) else {
            if mode == DnsAnswer::Silence {
                continue;
            }
            return;
        };
        let Ok(framed) = frame(&reply) else {
            return;
        };
        let Ok(Ok(())) = crate::timers::timeout(idle, stream.write_all(&framed)).await else {
            return;
        };
    }
}

/// The next message of a TCP connection; `None` when the client closed it between two.
async fn read_message<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 2];
    if stream.read(&mut length[..1]).await? == 0 {
        return Ok(None);
    }
    stream.read_exact(&mut length[1..]).await?;
    let mut message = vec![0; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut message).await?;
    Ok(Some(message))
}

/// `message` behind its two-byte big-endian length, as TCP carries it.
fn frame(message: &[u8]) -> Result<Vec<u8>, std::num::TryFromIntError> {
    let length = u16::try_from(message.len())?;
    Ok([&length.to_be_bytes()[..], message].concat())
}

/// A positive answer: the address and how long it may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub address: IpAddr,
    pub ttl: Duration,
}

/// Builds the query datagram for an A record. `id` comes from the caller's seeded RNG
/// (never hickory's `Message::query()`, which draws a random id from the OS).
pub fn query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(fqdn(name)?, RecordType::A));
    message
        .to_vec()
        .map_err(|e| format!("cannot encode a query for {name}: {e}"))
}

/// Reads the first A record out of a response to query `id`.
pub fn parse_answer(id: u16, response: &[u8]) -> Result<Answer, String> {
    let message = Message::from_vec(response).map_err(|e| format!("malformed response: {e}"))?;
    if message.id() != id {
        return Err(format!(
            "response id {} does not match query id {id}",
            message.id()
        ));
    }
    match message.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Err("NXDOMAIN".to_string()),
        other => return Err(other.to_string().to_uppercase()),
    }
    message
        .answers()
        .iter()
        .find_map(|r| match r.data() {
            RData::A(a) => Some(Answer {
                address: IpAddr::V4(a.0),
                ttl: Duration::from_secs(u64::from(r.ttl())),
            }),
            _ => None,
        })
        .ok_or_else(|| "no A record in the answer".to_string())
}

/// Asks `server` for `name`'s A record, waiting at most `timeout` for the answer.
pub async fn resolve<N: Net>(
    net: &N,
    server: SocketAddr,
    name: &str,
    id: u16,
    timeout: Duration,
) -> Result<Answer, String> {
    let request = query(id, name)?;
    let socket = net
        .bind_udp(0)
        .await
        .map_err(|e| format!("cannot bind: {e}"))?;
    socket
        .send_to(&request, server)
        .await
        .map_err(|e| format!("cannot send the query: {e}"))?;
    let mut buf = [0u8; MAX_UDP_BYTES];
    let wait = async {
        loop {
            let (len, from) = socket
                .recv_from(&mut buf)
                .await
                .map_err(|e| e.to_string())?;
            // Anything not from the server, or for another id, is not our answer.
            if from == server {
                match parse_answer(id, &buf[..len]) {
                    Err(e) if e.starts_with("response id") => continue,
                    other => return other,
                }
            }
        }
    };
    match crate::timers::timeout(timeout, wait).await {
        Ok(answer) => answer,
        Err(_elapsed) => Err(format!(
            "no answer within {}",
            crate::duration::span(timeout)
        )),
    }
}

/// A host's stub resolver: asks the DNS server, caches each answer for its TTL. Query ids
/// come from a seeded RNG.
pub struct Resolver {
    server: SocketAddr,
    timeout: Duration,
    cache: std::sync::Mutex<std::collections::BTreeMap<String, (Answer, Duration)>>,
    ids: std::sync::Mutex<rand_chacha::ChaCha8Rng>,
}

impl Resolver {
    pub fn new(server: SocketAddr, timeout: Duration, seed: u64) -> Self {
        use rand::SeedableRng;
        Self {
            server,
            timeout,
            cache: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            ids: std::sync::Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The address of `name`, from the cache while its TTL lasts, else from the server.
    pub async fn lookup<N: Net>(
        &self,
        env: &crate::env::Env<N>,
        name: &str,
    ) -> Result<IpAddr, String> {
        let now = env.clock.elapsed();
        let cached = self
            .cache
            .lock()
            .expect("no code panics while holding the cache")
            .get(name)
            .copied();
        if let Some((answer, expires)) = cached
            && now < expires
        {
            return Ok(answer.address);
        }
        let id: u16 = rand::Rng::random(
            &mut *self
                .ids
                .lock()
                .expect("no code panics while holding the ids"),
        );
        let answer = resolve(&env.net, self.server, name, id, self.timeout).await?;
        let expires = env.clock.elapsed() + answer.ttl;
        self.cache
            .lock()
            .expect("no code panics while holding the cache")
            .insert(name.to_string(), (answer, expires));
        Ok(answer.address)
    }
}

#[cfg(test)]
mod tests;
