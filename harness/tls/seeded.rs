//! Seeded TLS randomness: the simulation's TLS bytes follow the run's seed.
//!
//! A TLS handshake draws randomness in three places: the client's and server's random
//! values, session ids and ticket names (rustls's `SecureRandom`), the ephemeral key
//! exchange (its `SupportedKxGroup`s), and, where the signature scheme needs it, the
//! signature (ECDSA's nonce). Generating the certificate draws two more: its keys and its
//! signatures. In a simulation every one of them draws from one stream of the run's seed
//! ([`crate::seed::Component::Tls`]), so the same scenario and seed give the same TLS
//! bytes on the wire (and the same packet capture); `harness serve`, on real sockets,
//! keeps the operating system's randomness.
//!
//! How:
//! - [`seed_this_thread`] gives the calling thread the run's stream; the world calls it
//!   before it builds any host, and a run lives on one thread (turmoil polls every host
//!   from the thread that steps it). [`super::provider`] returns the seeded provider on a
//!   seeded thread and ring's stock provider elsewhere (served processes never seed).
//!   rustls wants its randomness and key-exchange groups as `'static` objects, so the
//!   stream is thread-local state those objects read, not a field of theirs.
//! - Key exchange: X25519 only (what browsers and rustls prefer), from `x25519-dalek`,
//!   its private key 32 bytes of the stream (ring takes no caller's randomness for its
//!   keys). Both ends are the harness's own, so they always agree on it. X25519, not
//!   P-256 from the `p256` crate: a full handshake makes four key-exchange
//!   multiplications, and `p256`'s cost nearly doubled the reference run's instructions.
//! - Signatures: ECDSA P-256 keys sign with RFC 6979's deterministic nonces (`p256`), in
//!   the handshake ([`KeyProvider`]) and in the generated certificates
//!   ([`CertificateKey`]); any other key (an RSA or P-384 key a scenario loads from
//!   files) signs with ring, whose RSA-PSS salt and ECDSA nonces come from the OS: such
//!   a scenario's handshakes differ from run to run in their signature bytes only.
//!
//! None of this is secure, nor meant to be: a simulation's keys are as public as its seed.

use std::cell::RefCell;
use std::sync::Arc;

use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rustls::crypto::{
    ActiveKeyExchange, GetRandomFailed, SecureRandom, SharedSecret, SupportedKxGroup,
};
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use rustls::sign::{Signer, SigningKey};
use rustls::{NamedGroup, SignatureAlgorithm, SignatureScheme};

/// Bytes of a P-256 private key (a scalar below the group order).
const P256_SECRET_BYTES: usize = 32;

/// Draws of 32 bytes before a P-256 key is given up on: a draw is out of range with
/// probability about 2^-32, so one almost always suffices.
const P256_KEY_DRAWS_MAX: usize = 8;

thread_local! {
    /// The run's TLS stream on this thread, once the world has seeded it.
    static STREAM: RefCell<Option<ChaCha20Rng>> = const { RefCell::new(None) };
}

/// Gives this thread the TLS stream `seed` (a run's [`crate::seed::Component::Tls`]):
/// every TLS configuration built on it from now on draws from that stream, and so does
/// [`fill`]. Seeding again starts the stream afresh (the next run on the thread).
pub fn seed_this_thread(seed: u64) {
    STREAM.with(|s| *s.borrow_mut() = Some(ChaCha20Rng::seed_from_u64(seed)));
}

/// Whether this thread runs a simulation (has been seeded).
pub fn is_seeded() -> bool {
    STREAM.with(|s| s.borrow().is_some())
}

/// Fills `buf` from this thread's stream if it has one, else from the OS (ring).
pub fn fill(buf: &mut [u8]) {
    let seeded = STREAM.with(|s| match s.borrow_mut().as_mut() {
        Some(rng) => {
            rng.fill_bytes(buf);
            true
        }
        None => false,
    });
    if !seeded {
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(buf)
            .expect("the operating system gives random bytes");
    }
}

/// A P-256 private key of [`fill`]'s bytes.
pub fn p256_key() -> p256::SecretKey {
    for _ in 0..P256_KEY_DRAWS_MAX {
        let mut bytes = [0u8; P256_SECRET_BYTES];
        fill(&mut bytes);
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            return key;
        }
    }
    panic!("{P256_KEY_DRAWS_MAX} draws of 32 bytes all fell outside P-256's group order")
}

/// rustls's randomness from the thread's stream.
#[derive(Debug)]
struct Random;

impl SecureRandom for Random {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        assert!(
            is_seeded(),
            "seeded TLS is used on a thread no run has seeded"
        );
        fill(buf);
        Ok(())
    }
}

/// Bytes of an X25519 private key and of its public key (RFC 7748).
const X25519_KEY_BYTES: usize = 32;

/// X25519 key exchange with a private key of the thread's stream.
#[derive(Debug)]
struct X25519Group;

impl SupportedKxGroup for X25519Group {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let mut bytes = [0u8; X25519_KEY_BYTES];
        fill(&mut bytes);
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = x25519_dalek::PublicKey::from(&secret);
        Ok(Box::new(X25519Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X25519Exchange {
    secret: x25519_dalek::StaticSecret,
    public: x25519_dalek::PublicKey,
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let peer: [u8; X25519_KEY_BYTES] = peer_pub_key
            .try_into()
            .map_err(|_| rustls::Error::from(rustls::PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // RFC 8446 section 7.4.2: an all-zero shared secret (a low-order peer key) is
        // refused, as ring refuses it.
        if !shared.was_contributory() {
            return Err(rustls::PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// Loads private keys: P-256 ones sign deterministically (RFC 6979), others with ring.
#[derive(Debug)]
struct KeyProvider;

impl rustls::crypto::KeyProvider for KeyProvider {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        let p256 = match &key_der {
            PrivateKeyDer::Pkcs8(der) => {
                p256::SecretKey::from_pkcs8_der(der.secret_pkcs8_der()).ok()
            }
            PrivateKeyDer::Sec1(der) => p256::SecretKey::from_sec1_der(der.secret_sec1_der()).ok(),
            _ => None,
        };
        match p256 {
            Some(key) => Ok(Arc::new(P256Key(p256::ecdsa::SigningKey::from(key)))),
            None => rustls::crypto::ring::default_provider()
                .key_provider
                .load_private_key(key_der),
        }
    }
}

/// An ECDSA P-256 key signing with RFC 6979 nonces: the same message, the same signature.
#[derive(Debug, Clone)]
struct P256Key(p256::ecdsa::SigningKey);

impl SigningKey for P256Key {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
            .then(|| Box::new(self.clone()) as Box<dyn Signer>)
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        let der = self.0.verifying_key().to_public_key_der().ok()?;
        Some(SubjectPublicKeyInfoDer::from(der.as_bytes().to_vec()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

impl Signer for P256Key {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let signature: p256::ecdsa::Signature = self.0.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP256_SHA256
    }
}

/// ring's provider with the thread's stream as its randomness, X25519 from it, and
/// deterministic P-256 signatures.
pub fn provider() -> rustls::crypto::CryptoProvider {
    static RANDOM: Random = Random;
    static X25519: X25519Group = X25519Group;
    static KEYS: KeyProvider = KeyProvider;
    rustls::crypto::CryptoProvider {
        kx_groups: vec![&X25519],
        secure_random: &RANDOM,
        key_provider: &KEYS,
        ..rustls::crypto::ring::default_provider()
    }
}

/// A generated certificate's key for rcgen: P-256 from [`fill`]'s bytes, signing with
/// RFC 6979 nonces, so the certificate's bytes follow the stream too.
pub struct CertificateKey {
    key: p256::ecdsa::SigningKey,
    /// The SEC1 uncompressed point, what rcgen puts in the SubjectPublicKeyInfo.
    public: Vec<u8>,
}

impl CertificateKey {
    pub fn generate() -> Self {
        let secret = p256_key();
        let public = secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        Self {
            key: p256::ecdsa::SigningKey::from(secret),
            public,
        }
    }

    /// The private key as PKCS#8 DER, what a rustls server is configured with.
    pub fn pkcs8(&self) -> Vec<u8> {
        let secret = p256::SecretKey::from(self.key.as_nonzero_scalar());
        secret
            .to_pkcs8_der()
            .expect("a P-256 key encodes as PKCS#8")
            .as_bytes()
            .to_vec()
    }
}

impl rcgen::PublicKeyData for CertificateKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for CertificateKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature: p256::ecdsa::Signature = self.key.sign(msg);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}
