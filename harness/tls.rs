//! TLS for the published names: the certificate, and rustls configurations whose notion of
//! "now" is the host's own wall clock.
//!
//! Real component: the instance certificate of the security and access requirements (a multi-domain or wildcard
//! certificate for the four published names) served by the load balancer in `https` mode
//! (SSL offloading) or by every node in `tcp` mode, and the users' browsers that verify it.
//!
//! Modelled:
//! - [`Identity`]: a certificate chain (leaf first), its private key, and the CA
//!   certificates the users trust. [`Identity::generate`] makes the default: a CA and a
//!   leaf for the given names (ECDSA P-256, rcgen, keys and RFC 6979 signatures from `p256`), valid from an hour before the
//!   run's epoch until `expires` after it. A scenario may load one from files instead
//!   ([`crate::topology::certs`]).
//! - Every configuration is built with the host's clock as rustls's [`TimeProvider`], so a
//!   client checks a certificate's validity against *its own* wall clock: a skewed client
//!   or an expired certificate fails the handshake for the reason rustls gives ("certificate
//!   expired", "certificate not valid yet"), and a name the certificate does not cover
//!   fails with "certificate not valid for name".
//! - [`health_check_client`]: what a balancer's health check speaks to a TLS backend,
//!   HAProxy's `check-ssl verify none`: the handshake's signatures are checked, the
//!   certificate is not.
//! - Session resumption (TLS 1.3 session tickets). A server issues rustls's default two
//!   tickets after each handshake; they are *stateful*: a ticket names an entry of the
//!   server's session cache ([`SESSION_CACHE_ENTRIES`] entries, oldest evicted first), which
//!   [`with_fresh_sessions`] empties whenever the server starts (a restarted balancer or node
//!   has lost its sessions; in `tcp` mode each node has its own cache, so a ticket resumes
//!   only on the node that issued it). rustls gives stateful tickets a 24 h lifetime.
//!   Stateless tickets (`rustls::crypto::ring::Ticketer`, HAProxy's default) are left out
//!   on purpose: rustls rotates their keys on the real clock, which the simulation never
//!   reads. A client resumes only if it is a [`browser`]: its own ticket store, filled by
//!   its own handshakes. [`client`] (the AD/LDAP connector, anything else dialing the
//!   published names) never resumes.
//! - What resumption skips: a resumed handshake sends no certificate and the client
//!   verifies none (TLS 1.3, RFC 8446 section 2.2: the pre-shared key stands for the
//!   earlier authentication), so a certificate that expires, or a client clock that moves,
//!   after a browser's full handshake goes unnoticed by that browser until its next full
//!   handshake: as in real browsers, which do not re-verify on resumption. A browser that
//!   never completed a full handshake has no ticket and cannot resume.
//!
//! Randomness ([`seeded`]): in a simulation, the certificates' keys and every TLS byte
//! (randoms, key exchange, signatures) draw from one stream of the run's seed, so the same
//! scenario and seed give byte-identical TLS traffic and packet captures; `harness serve`
//! keeps the operating system's randomness. No decision depends on those bytes' values
//! (docs/ARCHITECTURE.md section 4).

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::clock::Clock;

pub mod keylog;
pub mod seeded;

pub use seeded::seed_this_thread;

/// How many TLS sessions a server keeps for resumption (its tickets name them); the oldest
/// is evicted first. 20,000: HAProxy's default `tune.ssl.cachesize`.
pub const SESSION_CACHE_ENTRIES: usize = 20_000;

/// How many servers' tickets one browser keeps (rustls keeps up to 8 TLS 1.3 tickets per
/// server name): the browsers dial two names (`login.<domain>`, `manage.<domain>`).
pub const BROWSER_TICKET_SERVERS: usize = 2;

/// A certificate chain with its key, and what the users trust.
#[derive(Debug)]
pub struct Identity {
    /// Leaf first, then the intermediates, as a server sends them.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The CA certificates the users trust.
    pub trust: Vec<CertificateDer<'static>>,
}

impl Identity {
    /// A CA and a leaf for `names`, valid from an hour before `epoch` (time since the Unix
    /// epoch) until `expires` after it.
    pub fn generate(names: &[String], epoch: Duration, expires: Duration) -> Result<Self, String> {
        let fail = |e: rcgen::Error| format!("cannot generate the certificate: {e}");
        let at = |t: Duration| {
            let secs = i64::try_from(t.as_secs()).map_err(|_| "time out of range".to_string())?;
            time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
        };
        let not_before = at(epoch.saturating_sub(Duration::from_secs(3600)))?;
        let not_after = at(epoch + expires)?;

        let ca_key = seeded::CertificateKey::generate();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "harness test CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = not_before;
        ca.not_after = not_after + time::Duration::days(1);
        let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
        let issuer = rcgen::Issuer::new(ca, &ca_key);

        let leaf_key = seeded::CertificateKey::generate();
        let mut leaf = rcgen::CertificateParams::new(names.to_vec()).map_err(fail)?;
        if let Some(first) = names.first() {
            leaf.distinguished_name
                .push(rcgen::DnType::CommonName, first.as_str());
        }
        leaf.not_before = not_before;
        leaf.not_after = not_after;
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(fail)?;

        Ok(Self {
            chain: vec![leaf_cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(leaf_key.pkcs8().into()),
            trust: vec![ca_cert.der().clone()],
        })
    }
}

/// rustls's "now", read from a host's wall clock.
struct HostTime(Arc<dyn Clock>);

impl std::fmt::Debug for HostTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostTime")
    }
}

impl TimeProvider for HostTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(self.0.wall()))
    }
}

/// The crypto provider a configuration built on this thread uses: the run's seeded one in a
/// simulation ([`seeded::provider`]), ring's own (the OS's randomness) elsewhere.
fn provider() -> Arc<CryptoProvider> {
    if seeded::is_seeded() {
        Arc::new(seeded::provider())
    } else {
        Arc::new(rustls::crypto::ring::default_provider())
    }
}

/// A server presenting `identity`, with `clock` as its time.
pub fn server(identity: &Identity, clock: Arc<dyn Clock>) -> Result<Arc<ServerConfig>, String> {
    let config = ServerConfig::builder_with_details(provider(), Arc::new(HostTime(clock)))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| format!("the certificate and key do not make a TLS server: {e}"))?;
    let mut config = config;
    if let Some(keys) = keylog::current() {
        config.key_log = keys;
    }
    Ok(with_fresh_sessions(&Arc::new(config)))
}

/// `config` with an empty session cache of its own ([`SESSION_CACHE_ENTRIES`]): what a
/// server starts with, so that tickets issued before a crash do not resume after it.
pub fn with_fresh_sessions(config: &Arc<ServerConfig>) -> Arc<ServerConfig> {
    let mut config = (**config).clone();
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    Arc::new(config)
}

/// `client` for one browser: the same trust and clock, with a ticket store of its own
/// (empty: the browser's first handshake with each name is a full one).
pub fn browser(client: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut config = (**client).clone();
    config.resumption = rustls::client::Resumption::in_memory_sessions(
        BROWSER_TICKET_SERVERS * TLS13_TICKETS_PER_SERVER,
    );
    Arc::new(config)
}

/// rustls's in-memory ticket store keeps this many TLS 1.3 tickets per server name (its
/// size is counted in tickets).
const TLS13_TICKETS_PER_SERVER: usize = 8;

/// A client that trusts `identity.trust` and judges validity by `clock`.
pub fn client(identity: &Identity, clock: Arc<dyn Clock>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for ca in &identity.trust {
        roots
            .add(ca.clone())
            .map_err(|e| format!("a trusted CA certificate is unusable: {e}"))?;
    }
    let mut config = ClientConfig::builder_with_details(provider(), Arc::new(HostTime(clock)))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // No session is resumed, so every handshake verifies the certificate; a browser gets
    // a ticket store of its own ([`browser`]).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// HAProxy's `check-ssl verify none`: a TLS client that accepts any certificate but still
/// checks the handshake's signatures.
pub fn health_check_client(clock: Arc<dyn Clock>) -> Arc<ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(AnyCertificate(provider.signature_verification_algorithms));
    let config = ClientConfig::builder_with_details(provider, Arc::new(HostTime(clock)))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// What a failed handshake means, in the words a report can show: rustls's own
/// description of the certificate error, or of whatever else failed.
pub fn describe(error: &std::io::Error) -> String {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(why)) => {
            format!("TLS: invalid certificate: {}", certificate_error(why))
        }
        Some(other) => format!("TLS: {other}"),
        None => format!("TLS handshake failed: {error}"),
    }
}

fn certificate_error(why: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match why {
        E::Expired | E::ExpiredContext { .. } => "expired by this host's clock".to_string(),
        E::NotValidYet | E::NotValidYetContext { .. } => {
            "not valid yet by this host's clock".to_string()
        }
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "not valid for the name dialed".to_string()
        }
        E::UnknownIssuer => "unknown issuer (not signed by a trusted CA)".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Duration);
    impl Clock for Fixed {
        fn elapsed(&self) -> Duration {
            Duration::ZERO
        }
        fn wall(&self) -> Duration {
            self.0
        }
    }

    const EPOCH: Duration = Duration::from_secs(1_767_225_600);

    /// Runs one handshake in memory between a server with `identity` and a client at
    /// `client_time` dialing `name`; the client's error, if any.
    fn handshake(identity: &Identity, client_time: Duration, name: &str) -> Result<(), String> {
        let server_config = server(identity, Arc::new(Fixed(EPOCH))).unwrap();
        let client_config = client(identity, Arc::new(Fixed(client_time))).unwrap();
        handshake_with(server_config, client_config, name).map(|_kind| ())
    }

    /// One in-memory handshake between `server_config` and `client_config` dialing
    /// `name`: its kind, or the first error.
    fn handshake_with(
        server_config: Arc<ServerConfig>,
        client_config: Arc<ClientConfig>,
        name: &str,
    ) -> Result<rustls::HandshakeKind, String> {
        let mut s = rustls::ServerConnection::new(server_config).unwrap();
        let mut c = rustls::ClientConnection::new(
            client_config,
            ServerName::try_from(name.to_string()).unwrap(),
        )
        .unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets().map_err(|e| e.to_string())?;
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf).unwrap();
            }
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().map_err(|e| e.to_string())?;
            if !c.is_handshaking() && !s.is_handshaking() {
                // The tickets come after the handshake: the client takes them in.
                let mut buf = Vec::new();
                while s.wants_write() {
                    s.write_tls(&mut buf).unwrap();
                }
                c.read_tls(&mut buf.as_slice()).unwrap();
                c.process_new_packets().map_err(|e| e.to_string())?;
                return Ok(c.handshake_kind().expect("the handshake is over"));
            }
        }
        Err("handshake did not finish".to_string())
    }

    /// Proves the generated certificate verifies for its names at the epoch, and fails for
    /// another name, for a client whose clock is past its expiry, and for one whose clock
    /// is before its start.
    #[test]
    fn generated_certificate_follows_names_and_client_clock() {
        let names = vec![
            "login.example.com".to_string(),
            "*.api.example.com".to_string(),
        ];
        let id = Identity::generate(&names, EPOCH, Duration::from_secs(60)).unwrap();
        assert_eq!(handshake(&id, EPOCH, "login.example.com"), Ok(()));
        assert_eq!(handshake(&id, EPOCH, "x.api.example.com"), Ok(()));
        let wrong = handshake(&id, EPOCH, "webtask.example.com").unwrap_err();
        assert!(wrong.contains("not valid for name"), "{wrong}");
        let late = handshake(&id, EPOCH + Duration::from_secs(61), "login.example.com");
        let late = late.unwrap_err();
        assert!(late.contains("expired"), "{late}");
        let early = handshake(&id, EPOCH - Duration::from_secs(3601), "login.example.com");
        let early = early.unwrap_err();
        assert!(early.contains("not valid yet"), "{early}");
    }

    /// One full handshake and one application record each way, the server's certificate
    /// generated on this thread: every byte both sides wrote, in order.
    fn wire_bytes() -> Vec<u8> {
        let names = vec!["login.example.com".to_string()];
        let id = Identity::generate(&names, EPOCH, Duration::from_secs(60)).unwrap();
        let srv = server(&id, Arc::new(Fixed(EPOCH))).unwrap();
        let cli = client(&id, Arc::new(Fixed(EPOCH))).unwrap();
        let mut s = rustls::ServerConnection::new(srv).unwrap();
        let name = ServerName::try_from("login.example.com").unwrap();
        let mut c = rustls::ClientConnection::new(cli, name).unwrap();
        std::io::Write::write_all(&mut c.writer(), b"POST /login").unwrap();
        let mut wire = Vec::new();
        for _ in 0..10 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets().unwrap();
            wire.extend_from_slice(&buf);
            if !s.is_handshaking() {
                std::io::Write::write_all(&mut s.writer(), b"HTTP/1.1 200 OK").unwrap();
            }
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf).unwrap();
            }
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().unwrap();
            wire.extend_from_slice(&buf);
        }
        wire
    }

    /// Proves seeded TLS is deterministic: on a thread seeded with the same value twice,
    /// the certificate and every handshake and record byte are the same; another seed
    /// gives other bytes; and an unseeded thread (a served process) gets the OS's
    /// randomness, different every time.
    #[test]
    fn seeded_tls_bytes_follow_the_seed() {
        seed_this_thread(7);
        let first = wire_bytes();
        seed_this_thread(7);
        let again = wire_bytes();
        seed_this_thread(8);
        let other = wire_bytes();
        assert!(
            first.len() > 1000,
            "a handshake with a certificate was carried"
        );
        assert_eq!(first, again, "same seed, same bytes");
        assert_ne!(first, other, "another seed, other bytes");
        let unseeded = std::thread::spawn(|| (wire_bytes(), wire_bytes()))
            .join()
            .unwrap();
        assert_ne!(
            unseeded.0, unseeded.1,
            "the OS's randomness differs per handshake"
        );
    }

    /// Proves what resumption does in the model: a browser's second handshake resumes its
    /// first one's session, even once its clock is past the certificate's expiry (a
    /// resumed handshake verifies no certificate); a new browser's handshake at that time
    /// fails; the users' shared client never resumes; and a server started afresh (an
    /// empty session cache) makes a returning browser do a full handshake.
    #[test]
    fn browsers_resume_without_verifying_and_plain_clients_never_do() {
        use rustls::HandshakeKind::{Full, Resumed};
        let names = vec!["login.example.com".to_string()];
        let id = Identity::generate(&names, EPOCH, Duration::from_secs(60)).unwrap();
        let late = EPOCH + Duration::from_secs(61);
        let srv = server(&id, Arc::new(Fixed(EPOCH))).unwrap();
        let users = |at| client(&id, Arc::new(Fixed(at))).unwrap();
        let name = "login.example.com";
        let shared = users(EPOCH);
        let browser_now = browser(&shared);
        assert_eq!(
            handshake_with(srv.clone(), browser_now.clone(), name),
            Ok(Full)
        );
        assert_eq!(handshake_with(srv.clone(), browser_now, name), Ok(Resumed));
        // The same browser, its clock past the expiry: it still resumes.
        let browser_late = browser(&users(EPOCH));
        assert_eq!(
            handshake_with(srv.clone(), browser_late.clone(), name),
            Ok(Full)
        );
        let mut late_config = (*browser_late).clone();
        late_config.time_provider = Arc::new(HostTime(Arc::new(Fixed(late))));
        let late_config = Arc::new(late_config);
        assert_eq!(handshake_with(srv.clone(), late_config, name), Ok(Resumed));
        let new_late = handshake_with(srv.clone(), browser(&users(late)), name).unwrap_err();
        assert!(new_late.contains("expired"), "{new_late}");
        assert_eq!(handshake_with(srv.clone(), shared.clone(), name), Ok(Full));
        assert_eq!(handshake_with(srv.clone(), shared, name), Ok(Full));
        let returning = browser(&users(EPOCH));
        assert_eq!(
            handshake_with(srv.clone(), returning.clone(), name),
            Ok(Full)
        );
        let restarted = with_fresh_sessions(&srv);
        assert_eq!(handshake_with(restarted, returning, name), Ok(Full));
    }
}
