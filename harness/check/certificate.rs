//! What the security and access requirements (docs/ARCHITECTURE.md section 1) ask of the
//! certificate: the published names covered, valid at the run's epoch, an unencrypted RSA
//! key for PEM, every intermediate included.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::Finding;
use crate::clock::EPOCH_UNIX_S;
use crate::scenario::{ScenarioError, Source};
use crate::topology::certs::{self, KeyAlgorithm, Problem};
use crate::topology::{TlsSettings, Topology};

const HTTPS: &str =
    "security and access requirements: HTTPS towards users, with an SSL certificate";
const NAMES: &str = "security and access requirements: the certificate must cover all four DNS names, by SAN or wildcard";
const NO_PASSWORD: &str = "security and access requirements: if you are using PEM, there is no password on the private key";
const RSA: &str =
    "security and access requirements: if you are using PEM, the key is an RSA Private Key";
const INTERMEDIATES: &str = "security and access requirements: all intermediate certificates must be included in the public key";
const VALID: &str =
    "security and access requirements: an SSL certificate users accept, valid when the run starts";

/// The certificate checks; `Err` when a file cannot be read or is not what its setting
/// expects (the loader's error, exit 2).
pub fn check(
    source: &Source<'_>,
    topology: &Topology,
    checked: &mut Vec<String>,
) -> Result<Vec<Finding>, ScenarioError> {
    let tls = &topology.tls;
    let names = topology.zone_names();
    if !tls.enabled {
        let finding = Finding::new(
            "topology.tls.enabled",
            "users reach the published names over plain HTTP",
            HTTPS,
        );
        return Ok(vec![finding]);
    }
    let Some(certificate) = &tls.certificate else {
        return Ok(generated(tls, &names, checked));
    };
    let mut findings = Vec::new();
    let files = read_files(source, tls, certificate, &mut findings)?;
    let chain: Vec<X509Certificate<'_>> = files.chain.iter().map(|c| parse(c)).collect();
    let trust: Vec<X509Certificate<'_>> = files.trust.iter().map(|c| parse(c)).collect();
    findings.extend(uncovered(
        &dns_names(&chain[0]),
        &names,
        "topology.tls.certificate",
        "the certificate",
    ));
    findings.extend(validity(&chain));
    findings.extend(not_rsa(files.key.as_ref()));
    findings.extend(intermediates(&chain, &trust));
    checked.push(format!(
        "certificate {} covers the 4 names, valid at the run's start, {}, chain to tls.trust",
        chain[0].subject(),
        if files.key.is_some() {
            "unencrypted RSA key"
        } else {
            "PFX"
        }
    ));
    Ok(findings)
}

/// What the certificate files hold, as the checks read it.
struct Files {
    /// The certificate chain, leaf first.
    chain: Vec<CertificateDer<'static>>,
    /// The CA certificates the users trust.
    trust: Vec<CertificateDer<'static>>,
    /// The PEM key's algorithm; `None` for a PFX, or a PEM key with a password on it.
    key: Option<KeyAlgorithm>,
}

/// The generated certificate's checks: its names (`tls.names`, default the published
/// ones) cover the four published names.
fn generated(tls: &TlsSettings, names: &[String], checked: &mut Vec<String>) -> Vec<Finding> {
    let sans = tls.names.clone().unwrap_or_else(|| names.to_vec());
    let findings = uncovered(
        &sans,
        names,
        "topology.tls.names",
        "the generated certificate",
    );
    checked.push("generated certificate covers the 4 names".to_string());
    findings
}

/// Reads the certificate files of `tls`; a PEM key with a password on it is a finding
/// (pushed to `findings`), and the chain and trust are then read without the key.
fn read_files(
    source: &Source<'_>,
    tls: &TlsSettings,
    certificate: &Path,
    findings: &mut Vec<Finding>,
) -> Result<Files, ScenarioError> {
    let base = source.base();
    let refused = |e: certs::CertError| source.error(&format!("topology.{}", e.key), e.message);
    match certs::load(tls, &base) {
        Ok(Some(m)) => {
            let key = (!m.pfx).then(|| certs::key_algorithm(&m.key));
            Ok(Files {
                chain: m.chain,
                trust: m.trust,
                key,
            })
        }
        Ok(None) => unreachable!("a certificate file is set"),
        Err(e) if e.problem == Problem::EncryptedKey => {
            findings.push(Finding::new(
                "topology.tls.key",
                "the private key has a password on it",
                NO_PASSWORD,
            ));
            let chain =
                certs::read_certificates(&certs::resolve(&base, certificate), "tls.certificate")
                    .map_err(refused)?;
            let trust_path = tls
                .trust
                .as_ref()
                .expect("the topology checks trust is set");
            let trust = certs::read_certificates(&certs::resolve(&base, trust_path), "tls.trust")
                .map_err(refused)?;
            Ok(Files {
                chain,
                trust,
                key: None,
            })
        }
        Err(e) => Err(refused(e)),
    }
}

/// A finding at `key` for each published name none of `sans` covers, saying
/// "`certificate` does not cover NAME".
fn uncovered(sans: &[String], names: &[String], key: &str, certificate: &str) -> Vec<Finding> {
    names
        .iter()
        .filter(|name| !sans.iter().any(|san| covers(san, name)))
        .map(|name| Finding::new(key, format!("{certificate} does not cover {name}"), NAMES))
        .collect()
}

/// A finding when the PEM key is not RSA (none for a PFX or an encrypted key: `None`).
fn not_rsa(key: Option<&KeyAlgorithm>) -> Option<Finding> {
    key.filter(|algorithm| **algorithm != KeyAlgorithm::Rsa)
        .map(|algorithm| {
            Finding::new(
                "topology.tls.key",
                format!("the private key is {algorithm}, not RSA"),
                RSA,
            )
        })
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    x509_parser::parse_x509_certificate(der)
        .expect("certs parsed every certificate it returned")
        .1
}

/// The leaf's DNS subject alternative names (the common name is not read: browsers
/// ignore it when the certificate has SANs, and the security and access requirements ask for SAN or wildcard).
fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(name) => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

/// True when a certificate name covers a host name (case-insensitive): the same name, or
/// a wildcard `*.rest` for a name of exactly one more label (RFC 6125: `*.example.com`
/// covers `login.example.com`, not `example.com` nor `a.login.example.com`).
pub fn covers(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => pattern == name,
    }
}

/// Every certificate of the chain valid at the run's epoch.
fn validity(chain: &[X509Certificate<'_>]) -> Vec<Finding> {
    let epoch = i64::try_from(EPOCH_UNIX_S).expect("the epoch fits i64");
    let start = date(epoch);
    let mut findings = Vec::new();
    for cert in chain {
        let validity = cert.validity();
        let (from, until) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        let message = if until < epoch {
            format!(
                "the certificate {} expired on {}, before the run starts ({start})",
                cert.subject(),
                date(until)
            )
        } else if from > epoch {
            format!(
                "the certificate {} is valid only from {}, after the run starts ({start})",
                cert.subject(),
                date(from)
            )
        } else {
            continue;
        };
        findings.push(Finding::new("topology.tls.certificate", message, VALID));
    }
    findings
}

/// `YYYY-MM-DD` of a Unix time.
fn date(unix_s: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(unix_s)
        .map(|t| t.to_datetime().date().to_string())
        .unwrap_or_else(|_| format!("{unix_s}s after 1970"))
}

/// Each certificate of the file issued by the next, and the last issued by a trusted CA
/// (or trusted itself).
fn intermediates(chain: &[X509Certificate<'_>], trust: &[X509Certificate<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pair in chain.windows(2) {
        if !certs::issued_by(&pair[0], &pair[1]) {
            findings.push(Finding::new(
                "topology.tls.certificate",
                format!(
                    "the chain is out of order: {} is not issued by {}, the next certificate in the file",
                    pair[0].subject(),
                    pair[1].subject()
                ),
                INTERMEDIATES,
            ));
        }
    }
    let last = chain
        .last()
        .expect("certs returns at least one certificate");
    let trusted = trust
        .iter()
        .any(|t| t.as_raw() == last.as_raw() || certs::issued_by(last, t));
    if !trusted {
        findings.push(Finding::new(
            "topology.tls.certificate",
            format!(
                "intermediate missing: the chain ends with {}, issued by {}, which neither the file nor tls.trust holds",
                last.subject(),
                last.issuer()
            ),
            INTERMEDIATES,
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a wildcard covers exactly one label, and names compare without case.
    #[test]
    fn wildcard_covers_one_label() {
        assert!(covers("*.example.com", "login.example.com"));
        assert!(covers("LOGIN.example.com", "login.EXAMPLE.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.login.example.com"));
        assert!(!covers("login.example.com", "manage.example.com"));
    }
}
