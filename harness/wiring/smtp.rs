//! The corporate SMTP relay's configuration and its STARTTLS certificate.

use std::sync::Arc;
use std::time::Duration;

use crate::services::smtp::SmtpConfig;
use crate::tls::Identity;
use crate::topology::Topology;

/// The relay's configuration; `starttls` is what STARTTLS upgrades with ([`relay_tls`]).
pub fn smtp_config(
    topology: &Topology,
    starttls: Option<(Arc<rustls::ServerConfig>, Arc<Identity>)>,
) -> SmtpConfig {
    let s = &topology.smtp;
    SmtpConfig {
        hostname: relay_name(topology),
        username: s.username.clone(),
        password: s.password.clone(),
        tls: starttls.map(|(server, _)| server),
    }
}

/// The relay's name, `smtp.<domain>`: what it greets with and its certificate names.
fn relay_name(topology: &Topology) -> String {
    format!("smtp.{}", topology.domain)
}

/// The relay's STARTTLS certificate: a CA of its own and a leaf for its name
/// (`smtp.<domain>`) and `extra` names (a served relay adds the address it listens on),
/// valid like the instance certificate from an hour before `epoch` for
/// `topology.tls.expires`, judged by `clock`. The corporate relay is not the appliance:
/// it never serves the instance certificate. `None` only if the certificate cannot be
/// made (an `extra` name rcgen refuses).
pub fn relay_tls(
    topology: &Topology,
    extra: &[String],
    epoch: Duration,
    clock: Arc<dyn crate::clock::Clock>,
) -> Option<(Arc<rustls::ServerConfig>, Arc<Identity>)> {
    let mut names = vec![relay_name(topology)];
    names.extend_from_slice(extra);
    let identity = Identity::generate(&names, epoch, topology.tls.expires).ok()?;
    let server = crate::tls::server(&identity, clock).ok()?;
    Some((server, Arc::new(identity)))
}
