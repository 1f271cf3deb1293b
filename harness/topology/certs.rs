//! Reading the certificate files `[topology.tls]` names.
//!
//! A deployment serves its published names with a certificate chain and its private key
//! (the security and access requirements): a PEM chain (leaf first, then the intermediates) with a separate PEM key,
//! or one PFX/PKCS12 file (`.pfx` or `.p12`) holding both, opened with `tls.password`. The
//! users verify the chain against `tls.trust`, a PEM file of the CA certificates they
//! trust.
//!
//! This module reads and decodes those files and checks only what a TLS server needs to
//! use them: every file readable and well formed, at least one certificate, exactly one
//! private key of a kind a TLS stack can sign with (RSA, or EC on P-256 or P-384), and the
//! key matching the leaf certificate's public key. Whether the material meets the seeds'
//! requirements (the names it covers, its validity, an RSA key, the intermediates) is
//! judged by `harness check` (`crate::check`), which reports each miss as a finding
//! instead of refusing the file.
//!
//! Failure modes, each a [`CertError`] naming the setting (`tls.certificate`, `tls.key`,
//! `tls.trust`, `tls.password`), the path and what was expected: an unreadable file (with
//! the OS error); no PEM in a PEM file; no certificate in it; a key file without a private
//! key, with a password on it, or of an unsupported kind; a PFX the password does not open
//! (or, built without the `pfx` feature, any PFX); a key that does not match the leaf.
//!
//! Bounds: a file larger than [`MAX_FILE_BYTES`] (1 MiB) is refused before it is decoded,
//! reading no more than one byte past the limit; a file that is not a regular file (a
//! device such as `/dev/zero`, a FIFO, a socket) is refused without being opened.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use crate::topology::{TlsSettings, TopologyError};

/// The largest certificate, key or trust file read (1 MiB): real ones are a few kilobytes;
/// a chain of ten 4096-bit certificates is under 20 KB. Reading stops one byte past it.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The decoded contents of the files `[topology.tls]` names.
#[derive(Debug, PartialEq)]
pub struct Material {
    /// The certificate chain, leaf first, as the file holds it.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (its public key matches the leaf's).
    pub key: PrivateKeyDer<'static>,
    /// The CA certificates the users trust.
    pub trust: Vec<CertificateDer<'static>>,
    /// True when the certificate and key came from one PFX/PKCS12 file.
    pub pfx: bool,
}

/// Why a file cannot be used, with the setting that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError {
    /// `"tls.certificate"`, `"tls.key"`, `"tls.trust"` or `"tls.password"`.
    pub key: &'static str,
    pub message: String,
    pub problem: Problem,
}

/// The kind of a [`CertError`], for callers that treat some as findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The file cannot be read (missing, permissions, too large).
    Unreadable,
    /// The file is not what the setting expects (not PEM, no certificate, no key, ...).
    Malformed,
    /// The PEM key has a password on it (the security and access requirements ask for none).
    EncryptedKey,
    /// The PFX password does not open the file.
    WrongPassword,
    /// The private key does not belong to the leaf certificate.
    KeyMismatch,
    /// The settings do not go together (a key with a PFX, no key with a PEM chain).
    Settings,
}

impl From<CertError> for TopologyError {
    fn from(e: CertError) -> Self {
        TopologyError {
            key: e.key.to_string(),
            message: e.message,
        }
    }
}

/// Reads the files `tls` names (relative paths against `base`, the scenario file's
/// directory). `None` when no certificate file is set (the certificate is generated).
pub fn load_files(tls: &TlsSettings, base: &Path) -> Result<Option<Material>, TopologyError> {
    load(tls, base).map_err(TopologyError::from)
}

/// [`load_files`] with the kind of each failure kept.
pub fn load(tls: &TlsSettings, base: &Path) -> Result<Option<Material>, CertError> {
    let Some(certificate) = &tls.certificate else {
        return Ok(None);
    };
    let certificate = resolve(base, certificate);
    let (chain, key, pfx) = if is_pfx(&certificate) {
        if let Some(key) = &tls.key {
            let message = format!(
                "expected no key file with a PFX certificate (it holds its own key), found {}",
                key.display()
            );
            return Err(error("tls.key", Problem::Settings, message));
        }
        let password = tls.password.as_deref().unwrap_or("");
        let (chain, key) = read_pfx(&certificate, password)?;
        (chain, key, true)
    } else {
        if tls.password.is_some() {
            let message = "expected a password only with a PFX certificate (.pfx or .p12); a PEM key must have none (the security and access requirements)";
            return Err(error(
                "tls.password",
                Problem::Settings,
                message.to_string(),
            ));
        }
        let Some(key) = &tls.key else {
            let message = format!(
                "expected the PEM private key that goes with the PEM certificate {}",
                certificate.display()
            );
            return Err(error("tls.key", Problem::Settings, message));
        };
        let chain = read_certificates(&certificate, "tls.certificate")?;
        let key = read_key(&resolve(base, key))?;
        (chain, key, false)
    };
    check_key_matches(&chain[0], &key, &certificate)?;
    let trust = match &tls.trust {
        Some(trust) => read_certificates(&resolve(base, trust), "tls.trust")?,
        None => {
            let message =
                "expected the PEM file of the CA the users trust, with a certificate file";
            return Err(error("tls.trust", Problem::Settings, message.to_string()));
        }
    };
    Ok(Some(Material {
        chain,
        key,
        trust,
        pfx,
    }))
}

/// A path from the scenario, relative to the scenario file's directory unless absolute.
pub fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// True for a `.pfx` or `.p12` file name (any case).
pub fn is_pfx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"))
}

fn error(key: &'static str, problem: Problem, message: String) -> CertError {
    CertError {
        key,
        message,
        problem,
    }
}

/// The whole file, bounded by [`MAX_FILE_BYTES`]; a file that is not a regular file (a
/// device such as `/dev/zero`, a FIFO) is refused without being read.
fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, CertError> {
    use crate::files::{Refusal, read_bounded};
    let expected = format!(
        "expected a certificate or key file: a regular file of at most {MAX_FILE_BYTES} bytes (1 MiB)"
    );
    let message = match read_bounded(path, MAX_FILE_BYTES) {
        Ok(bytes) => return Ok(bytes),
        Err(Refusal::Io(e)) => format!(
            "cannot read {}: {e}; expected a readable file (a relative path starts at the scenario file's directory)",
            path.display()
        ),
        Err(Refusal::NotAFile(kind)) => format!("{} is {kind}; {expected}", path.display()),
        Err(Refusal::TooLarge) => format!(
            "{} is larger than {MAX_FILE_BYTES} bytes; {expected}",
            path.display()
        ),
    };
    Err(error(key, Problem::Unreadable, message))
}

/// Every PEM section of a file, in order; an error when it holds none or is malformed.
fn sections(path: &Path, key: &'static str) -> Result<Vec<(SectionKind, Vec<u8>)>, CertError> {
    let bytes = read(path, key)?;
    let malformed = |what: String| {
        let message = format!("{}: {what}", path.display());
        error(key, Problem::Malformed, message)
    };
    let mut out = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        out.push(section.map_err(|e| malformed(format!("expected PEM, {}", pem_error(&e))))?);
    }
    if out.is_empty() && !is_encrypted_pem(&bytes) {
        return Err(malformed(
            "expected PEM (\"-----BEGIN ...-----\" sections), found none".to_string(),
        ));
    }
    Ok(out)
}

fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section lacks its end line {:?}",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "a malformed section start {:?}",
            String::from_utf8_lossy(line)
        ),
        pem::Error::Base64Decode(e) => format!("a section's base64 does not decode ({e})"),
        other => other.to_string(),
    }
}

/// A password-protected PEM key: PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional key with
/// a `Proc-Type: 4,ENCRYPTED` header.
fn is_encrypted_pem(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

/// The certificates of a PEM file, in file order; at least one.
pub fn read_certificates(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let chain: Vec<CertificateDer<'static>> = sections(path, key)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if chain.is_empty() {
        let message = format!(
            "{}: expected at least one \"-----BEGIN CERTIFICATE-----\" section, found none",
            path.display()
        );
        return Err(error(key, Problem::Malformed, message));
    }
    for (i, der) in chain.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(der) {
            let message = format!(
                "{}: certificate {} is not a valid X.509 certificate ({e}); expected each CERTIFICATE section to hold one",
                path.display(),
                i + 1
            );
            return Err(error(key, Problem::Malformed, message));
        }
    }
    Ok(chain)
}

/// The one private key of a PEM key file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertError> {
    let key = "tls.key";
    if is_encrypted_pem(&read(path, key)?) {
        let message = format!(
            "{}: the private key has a password on it; expected an unencrypted key (the security and access requirements: there is no password on the private key)",
            path.display()
        );
        return Err(error(key, Problem::EncryptedKey, message));
    }
    let keys: Vec<PrivateKeyDer<'static>> = sections(path, key)?
        .into_iter()
        .filter_map(|(kind, der)| match kind {
            SectionKind::RsaPrivateKey => Some(PrivatePkcs1KeyDer::from(der).into()),
            SectionKind::PrivateKey => Some(PrivatePkcs8KeyDer::from(der).into()),
            SectionKind::EcPrivateKey => Some(PrivateSec1KeyDer::from(der).into()),
            _ => None,
        })
        .collect();
    match <[_; 1]>::try_from(keys) {
        Ok([one]) => Ok(one),
        Err(keys) => {
            let message = format!(
                "{}: expected exactly one private key (\"BEGIN RSA PRIVATE KEY\", \"BEGIN PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\"), found {}",
                path.display(),
                keys.len()
            );
            Err(error(key, Problem::Malformed, message))
        }
    }
}

/// What a private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa,
    /// An elliptic-curve key on the named curve (`"P-256"`, `"P-384"`, or the curve's OID).
    Ec(String),
    /// Anything else, by its algorithm OID.
    Other(String),
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyAlgorithm::Rsa => write!(f, "RSA"),
            KeyAlgorithm::Ec(curve) => write!(f, "EC ({curve})"),
            KeyAlgorithm::Other(oid) => write!(f, "algorithm {oid}"),
        }
    }
}

const EC_OID: rsa::pkcs8::ObjectIdentifier =
    rsa::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256_OID: rsa::pkcs8::ObjectIdentifier =
    rsa::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384_OID: rsa::pkcs8::ObjectIdentifier =
    rsa::pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The kind of a private key. A PKCS#8 key that does not decode is `Other("malformed")`.
pub fn key_algorithm(key: &PrivateKeyDer<'_>) -> KeyAlgorithm {
    match key {
        PrivateKeyDer::Pkcs1(_) => KeyAlgorithm::Rsa,
        PrivateKeyDer::Sec1(der) => {
            let curve = if p256::SecretKey::from_sec1_der(der.secret_sec1_der()).is_ok() {
                "P-256"
            } else if p384::SecretKey::from_sec1_der(der.secret_sec1_der()).is_ok() {
                "P-384"
            } else {
                "unsupported curve"
            };
            KeyAlgorithm::Ec(curve.to_string())
        }
        PrivateKeyDer::Pkcs8(der) => {
            let Ok(info) = rsa::pkcs8::PrivateKeyInfo::try_from(der.secret_pkcs8_der()) else {
                return KeyAlgorithm::Other("malformed".to_string());
            };
            let oid = info.algorithm.oid;
            if oid == rsa::pkcs1::ALGORITHM_OID {
                KeyAlgorithm::Rsa
            } else if oid == EC_OID {
                let curve = match info.algorithm.parameters_oid() {
                    Ok(c) if c == P256_OID => "P-256".to_string(),
                    Ok(c) if c == P384_OID => "P-384".to_string(),
                    Ok(c) => c.to_string(),
                    Err(_) => "unknown curve".to_string(),
                };
                KeyAlgorithm::Ec(curve)
            } else {
                KeyAlgorithm::Other(oid.to_string())
            }
        }
        _ => KeyAlgorithm::Other("unknown".to_string()),
    }
}

/// The public key that goes with a private key, as a certificate's `subjectPublicKey`
/// holds it (an RSA `RSAPublicKey` DER, an uncompressed EC point).
fn public_key(key: &PrivateKeyDer<'_>) -> Result<Vec<u8>, String> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::DecodePrivateKey;
    let rsa_public = |k: rsa::RsaPrivateKey| {
        k.to_public_key()
            .to_pkcs1_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| e.to_string())
    };
    let bad = |e: &dyn std::fmt::Display| {
        format!("the key does not decode ({e}); expected a well-formed private key")
    };
    match (key, key_algorithm(key)) {
        (PrivateKeyDer::Pkcs1(der), _) => rsa_public(
            rsa::RsaPrivateKey::from_pkcs1_der(der.secret_pkcs1_der()).map_err(|e| bad(&e))?,
        ),
        (PrivateKeyDer::Pkcs8(der), KeyAlgorithm::Rsa) => rsa_public(
            rsa::RsaPrivateKey::from_pkcs8_der(der.secret_pkcs8_der()).map_err(|e| bad(&e))?,
        ),
        (PrivateKeyDer::Sec1(der), KeyAlgorithm::Ec(curve)) => match curve.as_str() {
            "P-256" => Ok(p256::SecretKey::from_sec1_der(der.secret_sec1_der())
                .map_err(|e| bad(&e))?
                .public_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec()),
            _ => Ok(p384::SecretKey::from_sec1_der(der.secret_sec1_der())
                .map_err(|e| bad(&e))?
                .public_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec()),
        },
        (PrivateKeyDer::Pkcs8(der), KeyAlgorithm::Ec(curve)) if curve == "P-256" => {
            Ok(p256::SecretKey::from_pkcs8_der(der.secret_pkcs8_der())
                .map_err(|e| bad(&e))?
                .public_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec())
        }
        (PrivateKeyDer::Pkcs8(der), KeyAlgorithm::Ec(curve)) if curve == "P-384" => {
            Ok(p384::SecretKey::from_pkcs8_der(der.secret_pkcs8_der())
                .map_err(|e| bad(&e))?
                .public_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec())
        }
        (_, other) => Err(format!(
            "expected an RSA or EC (P-256, P-384) private key, found {other}"
        )),
    }
}

/// The key must be the leaf certificate's: a server with another key cannot prove it owns
/// the certificate, and every handshake fails.
fn check_key_matches(
    leaf: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
    certificate: &Path,
) -> Result<(), CertError> {
    let public =
        public_key(key).map_err(|message| error("tls.key", Problem::Malformed, message))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .expect("read_certificates and read_pfx parse every certificate");
    if cert.public_key().subject_public_key.data.as_ref() != public.as_slice() {
        let message = format!(
            "the private key does not match the public key of the leaf certificate ({}, the first in {}); expected the key the certificate was issued for",
            cert.subject(),
            certificate.display()
        );
        return Err(error("tls.key", Problem::KeyMismatch, message));
    }
    Ok(())
}

/// The chain (leaf first, then its issuers as far as the file holds them) and the key of
/// a PFX/PKCS12 file.
#[cfg(feature = "pfx")]
fn read_pfx(
    path: &Path,
    password: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CertError> {
    use p12_keystore::error::Error as P12;
    let bytes = read(path, "tls.certificate")?;
    let archive =
        p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, password).map_err(|e| match e {
            P12::MacError(_) | P12::Pkcs5Error(_) | P12::UnpadError => error(
                "tls.password",
                Problem::WrongPassword,
                format!(
                    "the password does not open {} (its integrity check fails); expected the password the file was exported with",
                    path.display()
                ),
            ),
            other => error(
                "tls.certificate",
                Problem::Malformed,
                format!("{}: expected a PFX/PKCS12 file ({other})", path.display()),
            ),
        })?;
    let [key_bag] = <[_; 1]>::try_from(archive.keys).map_err(|keys| {
        let message = format!(
            "{}: expected exactly one private key in the PFX file, found {}",
            path.display(),
            keys.len()
        );
        error("tls.certificate", Problem::Malformed, message)
    })?;
    let key: PrivateKeyDer<'static> =
        PrivatePkcs8KeyDer::from(key_bag.key.as_der().to_vec()).into();
    let mut certs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for bag in archive.certs {
        let der = bag.cert.as_der().to_vec();
        if let Err(e) = x509_parser::parse_x509_certificate(&der) {
            let message = format!(
                "{}: a certificate is not valid X.509 ({e}); expected X.509 certificates in the PFX file",
                path.display()
            );
            return Err(error("tls.certificate", Problem::Malformed, message));
        }
        certs.push((der, bag.local_key_id));
    }
    let key_id = key_bag.local_key_id.map(|id| id.0);
    // The leaf is the certificate bag tagged with the key's id; failing that, the first.
    let leaf = certs
        .iter()
        .position(|(_, id)| key_id.is_some() && id == &key_id)
        .unwrap_or(0);
    if certs.is_empty() {
        let message = format!(
            "{}: expected a certificate in the PFX file, found none",
            path.display()
        );
        return Err(error("tls.certificate", Problem::Malformed, message));
    }
    let mut chain = vec![certs.remove(leaf).0];
    // Then each certificate's issuer, while the file holds it (at most every bag once).
    while let Some(next) = certs
        .iter()
        .position(|(der, _)| issued(chain.last().expect("non-empty"), der))
    {
        chain.push(certs.remove(next).0);
    }
    Ok((chain.into_iter().map(CertificateDer::from).collect(), key))
}

#[cfg(not(feature = "pfx"))]
fn read_pfx(
    path: &Path,
    _password: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CertError> {
    let message = format!(
        "{}: this harness was built without PFX support (cargo feature `pfx`); expected a PEM chain and key",
        path.display()
    );
    Err(error("tls.certificate", Problem::Settings, message))
}

/// True when `issuer` (DER) is the certificate that issued `cert` (DER): its subject is
/// `cert`'s issuer, and their key identifiers agree when both carry one. Signatures are
/// not verified: this orders and judges chains, it does not authenticate them.
pub fn issued(cert: &[u8], issuer: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, issuer))) = (
        x509_parser::parse_x509_certificate(cert),
        x509_parser::parse_x509_certificate(issuer),
    ) else {
        return false;
    };
    issued_by(&cert, &issuer)
}

/// [`issued`] on parsed certificates.
pub fn issued_by(
    cert: &x509_parser::certificate::X509Certificate<'_>,
    issuer: &x509_parser::certificate::X509Certificate<'_>,
) -> bool {
    use x509_parser::extensions::ParsedExtension;
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        return false;
    }
    let authority = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0),
            _ => None,
        });
    let subject = issuer
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        });
    match (authority, subject) {
        (Some(a), Some(s)) => a == s,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certs")
    }

    fn tls(certificate: &str, key: Option<&str>) -> TlsSettings {
        TlsSettings {
            enabled: true,
            certificate: Some(certificate.into()),
            key: key.map(PathBuf::from),
            trust: Some("trust.pem".into()),
            ..TlsSettings::default()
        }
    }

    /// Proves a PEM chain with its PKCS#1 key loads leaf first, with the intermediate and
    /// the trusted root, and that a PFX of the same material loads to the same chain and key.
    #[test]
    fn loads_pem_and_pfx() {
        let pem = load(&tls("good.pem", Some("good.key")), &fixtures())
            .unwrap()
            .unwrap();
        assert_eq!(pem.chain.len(), 2);
        assert_eq!(pem.trust.len(), 1);
        assert_eq!(key_algorithm(&pem.key), KeyAlgorithm::Rsa);
        assert!(issued(&pem.chain[0], &pem.chain[1]));
        assert!(issued(&pem.chain[1], &pem.trust[0]));
        assert!(!issued(&pem.chain[0], &pem.trust[0]));
        if cfg!(feature = "pfx") {
            let mut settings = tls("good.pfx", None);
            settings.password = Some("secret".into());
            let pfx = load(&settings, &fixtures()).unwrap().unwrap();
            assert_eq!(pfx.chain, pem.chain);
            assert!(pfx.pfx);
            assert_eq!(public_key(&pfx.key), public_key(&pem.key));
        }
    }

    /// Proves each broken file is refused with its setting and the kind of problem.
    #[test]
    fn refuses_broken_files() {
        let problem = |settings: TlsSettings| load(&settings, &fixtures()).unwrap_err();
        let e = problem(tls("good.pem", Some("other.key")));
        assert_eq!(
            (e.key, e.problem),
            ("tls.key", Problem::KeyMismatch),
            "{e:?}"
        );
        let e = problem(tls("good.pem", Some("encrypted.key")));
        assert_eq!(
            (e.key, e.problem),
            ("tls.key", Problem::EncryptedKey),
            "{e:?}"
        );
        let e = problem(tls("no-such.pem", Some("good.key")));
        assert_eq!(
            (e.key, e.problem),
            ("tls.certificate", Problem::Unreadable),
            "{e:?}"
        );
        assert!(e.message.contains("no-such.pem: No such file"), "{e:?}");
        let e = problem(tls("good.key", Some("good.key")));
        assert_eq!(
            (e.key, e.problem),
            ("tls.certificate", Problem::Malformed),
            "{e:?}"
        );
        let e = problem(tls("good.pem", Some("good.pem")));
        assert!(
            e.message.contains("expected exactly one private key"),
            "{e:?}"
        );
        let e = problem(tls("make.sh", Some("good.key")));
        assert!(e.message.contains("expected PEM"), "{e:?}");
        let e = problem(tls("good.pem", None));
        assert_eq!((e.key, e.problem), ("tls.key", Problem::Settings), "{e:?}");
        if cfg!(feature = "pfx") {
            let mut settings = tls("good.pfx", None);
            settings.password = Some("wrong".into());
            let e = problem(settings);
            assert_eq!(
                (e.key, e.problem),
                ("tls.password", Problem::WrongPassword),
                "{e:?}"
            );
        }
    }

    /// `f()`, or a failed test when it has not returned within 10 s (a read that never
    /// ends would otherwise hang the suite).
    fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()).expect("the test waits for the answer"));
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what}: still reading after 10s, without a bound"))
    }

    /// Proves every certificate, key and trust file is read with a bound: a FIFO and a
    /// device that never ends (`/dev/zero`) are refused without being read, and so is a
    /// file over [`MAX_FILE_BYTES`], each with an error naming the setting, the file and the
    /// limit (issue 12 item 5: `certificate = "/dev/zero"` read until memory ran out).
    #[test]
    fn reads_are_bounded() {
        let dir = std::env::temp_dir().join(format!("certs-bounded-{}", std::process::id()));
        // A failed earlier run with the same process id left its FIFO and symlink here.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("an earlier run's directory can be removed");
        }
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        let fifo = dir.join("fifo.pem");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'A'; (MAX_FILE_BYTES + 1) as usize]).expect("writable");
        let zero_pfx = dir.join("zero.pfx");
        std::os::unix::fs::symlink("/dev/zero", &zero_pfx).expect("a symlink can be made");
        let fifo_path = fifo.to_str().expect("UTF-8").to_string();
        let cases = [
            (
                "tls.certificate",
                tls(&fifo_path, Some("good.key")),
                fifo.clone(),
            ),
            (
                "tls.certificate",
                tls("/dev/zero", Some("good.key")),
                "/dev/zero".into(),
            ),
            (
                "tls.key",
                tls("good.pem", Some("/dev/zero")),
                "/dev/zero".into(),
            ),
            (
                "tls.certificate",
                tls(zero_pfx.to_str().expect("UTF-8"), None),
                zero_pfx.clone(),
            ),
            (
                "tls.certificate",
                tls(big.to_str().expect("UTF-8"), Some("good.key")),
                big.clone(),
            ),
        ];
        let mut trust = tls("good.pem", Some("good.key"));
        trust.trust = Some("/dev/zero".into());
        let cases = cases
            .into_iter()
            .chain([("tls.trust", trust, "/dev/zero".into())]);
        for (key, settings, file) in cases {
            let what = format!("{key} = {}", file.display());
            let e = within_10s(&what, move || load(&settings, &fixtures())).unwrap_err();
            assert_eq!(
                (e.key, e.problem),
                (key, Problem::Unreadable),
                "{what}: {e:?}"
            );
            assert!(
                e.message.contains(&file.display().to_string()),
                "{what}: {e:?}"
            );
            assert!(e.message.contains("1 MiB"), "{what}: {e:?}");
        }
        std::fs::remove_dir_all(&dir).expect("the test's own directory");
    }

    /// Proves an EC key is recognised as such and matched against its EC leaf.
    #[test]
    fn ec_keys() {
        let m = load(&tls("ec.pem", Some("ec.key")), &fixtures())
            .unwrap()
            .unwrap();
        assert_eq!(key_algorithm(&m.key), KeyAlgorithm::Ec("P-256".into()));
        let e = load(&tls("good.pem", Some("ec.key")), &fixtures()).unwrap_err();
        assert_eq!(e.problem, Problem::KeyMismatch, "{e:?}");
    }
}
