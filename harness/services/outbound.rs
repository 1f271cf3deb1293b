//! What a node does on the internet, always through the egress: social login's token
//! exchange, the periodic update check and extensions refresh, and NTP.
//!
//! Real component: the appliance's outbound dependencies (the network requirements: "for
//! implementations requiring integration with social providers and/or third-party API
//! calls, the VM will need Internet access at all times"; the CDN for web extensions;
//! updates; and time synchronisation).
//!
//! Modelled:
//! - Social login: resolve the identity provider's name through the DNS host (cached by
//!   TTL), then `GET /oauth/access_token?code=...` over plain HTTP, bounded by
//!   `node.social_timeout`. The node's socket layer sends it to the egress; the node does
//!   not know. Every failure is a sentence: the name did not resolve, the egress refused
//!   (its own `egress: ...` reason), the provider could not be reached, no answer in time.
//! - The periodic checks (unless `periodic` is off, as on the dev/test instance, whose LAN
//!   has no way out): every `node.update_interval` (the first 5s after start), `GET
//!   /appliance/latest` on the update mirror and `GET /extensions/manifest.json` on the
//!   CDN, each bounded by `node.social_timeout`, each recorded as an
//!   [`EventKind::Outbound`] with what it got or why not. The mirror answers the newest
//!   version (`{"version": "2026.11.1"}`); where `updates.notify` is on or the scenario
//!   plans an update, the node compares it with the version it runs (its operator's
//!   `services::node::NodeControl`) and, when the mirror's is newer, records
//!   [`EventKind::UpdateAvailable`]: the appliance tells its operator, who chooses when
//!   to apply it (seed 000: "You can control the schedule when available updates are
//!   applied"). Nothing is installed by the check.
//! - NTP: every `ntp.poll` (the first 1s after start, as ntpd's `iburst` syncs at boot),
//!   one request to `ntp.server` through the egress; the measured offset is stepped away
//!   above 128ms and slewed below (at most 500ppm over the poll interval), and both the
//!   measurement and the clock's new setting are recorded. No answer within `ntp.timeout`
//!   is an [`EventKind::NtpFailed`], and the clock keeps drifting.
//!
//! Left out on purpose: several NTP servers and their selection, ntpd's poll-interval
//! adaptation and panic threshold, retries of the periodic checks before their next turn.
//!
//! Faults it reacts to: DNS answers (`dns` steps: a lookup that fails or points wrong
//! fails social login with the name's reason, felt once the node's cached answer
//! expires); the egress's crash, block and rule changes (`egress = { allow, exception }`:
//! its 403 or 407 with its reason); link faults and crashes of the internet's sites (late
//! answers, the `social_timeout`); a pause of the node stops it with the node.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;

use crate::clock::Adjustment;
use crate::env::Env;
use crate::events::{ClockCause, EventKind};
use crate::net::Net;
use crate::services::dns::Resolver;
use crate::services::http::{self, Body, Failure};
use crate::services::internet::{self, LATEST_PATH, MANIFEST_PATH, TOKEN_PATH};
use crate::services::ntp::{self, Correction};
use crate::topology::NtpSettings;

/// How long a node waits for the DNS server.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(1);

/// When the first periodic check runs after a node starts.
const FIRST_CHECK: Duration = Duration::from_secs(5);
/// When the first NTP poll runs after a node starts.
const FIRST_POLL: Duration = Duration::from_secs(1);

/// A node's outbound configuration.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// The DNS server the node resolves names with.
    pub dns: SocketAddr,
    /// The identity provider's name (`facebook.com`).
    pub idp: String,
    pub cdn: String,
    pub updates: String,
    pub social_timeout: Duration,
    pub update_interval: Duration,
    /// Run the periodic update check and extensions refresh. True on production's nodes;
    /// false on `dev-1`, whose LAN has no egress to reach them through.
    pub periodic: bool,
    /// Compare the mirror's newest version with the installed one and record "update
    /// available" (`[topology.updates] notify`; the node turns it on when the scenario
    /// plans an update).
    pub notify_updates: bool,
    pub ntp: NtpSettings,
}

/// Calls `GET path` on `site` (port 80) within `timeout`: the response, or why there is
/// none, as one sentence.
async fn get<N: Net>(
    env: &Env<N>,
    resolver: &Resolver,
    site: &str,
    path_and_query: &str,
    timeout: Duration,
) -> Result<Response<Bytes>, String> {
    let ip = resolver
        .lookup(env, site)
        .await
        .map_err(|e| format!("cannot resolve {site}: {e}"))?;
    let request = hyper::Request::get(path_and_query)
        .header(hyper::header::HOST, site)
        .body(Body::default())
        .expect("requests built from valid parts");
    let to = SocketAddr::new(ip, internet::PORT);
    http::exchange(&env.net, to, request, timeout, timeout)
        .await
        .map_err(|failure| match failure {
            Failure::ConnectTimeout | Failure::ResponseTimeout => {
                format!(
                    "no answer from {site} within {}",
                    crate::duration::span(timeout)
                )
            }
            other => format!("{site} unreachable: {}", other.describe(timeout, timeout)),
        })
}

/// The first line of a body, at most 100 characters, for messages.
fn first_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect()
}

/// Why a non-2xx answer failed: the egress's own reason when it answered (its bodies
/// start with `egress:`), else the site's status and first line.
fn refusal(site: &str, response: &Response<Bytes>) -> String {
    let line = first_line(response.body());
    if line.starts_with("egress:") {
        line
    } else {
        format!("{site} answered {}: {line}", response.status().as_u16())
    }
}

/// Social login's token exchange: the provider's user id for `code`, or why not.
pub async fn exchange_code<N: Net>(
    env: &Env<N>,
    resolver: &Resolver,
    outside: &OutboundConfig,
    code: &str,
) -> Result<String, String> {
    let path = format!("{TOKEN_PATH}?code={code}");
    let response = get(env, resolver, &outside.idp, &path, outside.social_timeout).await?;
    if !response.status().is_success() {
        return Err(refusal(&outside.idp, &response));
    }
    serde_json::from_slice::<serde_json::Value>(response.body())
        .ok()
        .and_then(|v| v.get("user_id")?.as_str().map(str::to_string))
        .ok_or_else(|| format!("{} answered without a user_id", outside.idp))
}

/// The update check and the extensions refresh, every `update_interval`; `installed`
/// reads the version the node runs; each result goes to `vitals` too (the node's status
/// endpoints read it).
pub async fn periodic_checks<N: Net, F: Fn() -> String>(
    env: Env<N>,
    resolver: std::sync::Arc<Resolver>,
    outside: OutboundConfig,
    installed: F,
    vitals: super::status::Vitals,
) {
    if !outside.periodic {
        return;
    }
    let notify = outside.notify_updates;
    crate::timers::sleep(FIRST_CHECK).await;
    loop {
        for (purpose, site, path) in [
            ("update check", &outside.updates, LATEST_PATH),
            ("extensions refresh", &outside.cdn, MANIFEST_PATH),
        ] {
            let answer = match get(&env, &resolver, site, path, outside.social_timeout).await {
                Ok(r) if r.status().is_success() => Ok(r),
                Ok(r) => Err(refusal(site, &r)),
                Err(why) => Err(why),
            };
            vitals.called_out(answer.as_ref().map(|_| ()).map_err(String::as_str));
            env.record(EventKind::Outbound {
                purpose: purpose.to_string(),
                result: match &answer {
                    Ok(r) => Ok(first_line(r.body())),
                    Err(why) => Err(why.clone()),
                },
            });
            if let Ok(r) = &answer
                && notify
                && path == LATEST_PATH
            {
                tell_newer(&env, r.body(), &installed());
            }
        }
        crate::timers::sleep(outside.update_interval).await;
    }
}

/// Records "update available" when the mirror's answer `body` names a version newer than
/// `installed` (an answer without a version is left unread: the check's own record
/// already says what came).
fn tell_newer<N: Net>(env: &Env<N>, body: &[u8], installed: &str) {
    let latest = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("version")?.as_str().map(str::to_string));
    if let Some(latest) = latest
        && newer(&latest, installed)
    {
        env.record(EventKind::UpdateAvailable {
            installed: installed.to_string(),
            latest,
        });
    }
}

/// True when version `a` is newer than `b`: compared part by part (`2026.11.1` against
/// `2026.10.1`), numerically where both parts are numbers, as text otherwise; a version
/// with more parts is newer than its own prefix.
pub fn newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<String> { v.trim().split('.').map(str::to_string).collect() };
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if order != std::cmp::Ordering::Equal {
            return order == std::cmp::Ordering::Greater;
        }
    }
    a.len() > b.len()
}

/// The node's time discipline: poll, measure, step or slew.
pub async fn keep_time<N: Net>(
    env: Env<N>,
    resolver: std::sync::Arc<Resolver>,
    settings: NtpSettings,
) {
    if !settings.enabled {
        return;
    }
    crate::timers::sleep(FIRST_POLL).await;
    loop {
        poll_once(&env, &resolver, &settings).await;
        crate::timers::sleep(settings.poll).await;
    }
}

async fn poll_once<N: Net>(env: &Env<N>, resolver: &Resolver, settings: &NtpSettings) {
    let server = &settings.server;
    let measured = match resolver.lookup(env, server).await {
        Err(e) => Err(format!("cannot resolve {server}: {e}")),
        Ok(ip) => ntp::query(env, SocketAddr::new(ip, ntp::PORT), settings.timeout).await,
    };
    let (offset, delay) = match measured {
        Ok(m) => m,
        Err(reason) => {
            env.record(EventKind::NtpFailed {
                server: server.clone(),
                reason,
            });
            return;
        }
    };
    let clamp =
        |ns: ntp::Nanos| i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX });
    env.record(EventKind::NtpSynced {
        server: server.clone(),
        offset_ns: clamp(offset),
        delay_ns: clamp(delay),
    });
    let (adjustment, cause) = match ntp::correction(offset, settings.poll) {
        Correction::Step(ns) => (
            Adjustment::Step(clamp(ns)),
            ClockCause::NtpStep { by_ns: clamp(ns) },
        ),
        Correction::Slew(ns) => (
            Adjustment::Slew(clamp(ns), settings.poll),
            ClockCause::NtpSlew { by_ns: clamp(ns) },
        ),
    };
    if let Some(setting) = env.clock.adjust(adjustment) {
        env.record(EventKind::ClockChanged {
            node: env.host.to_string(),
            setting,
            cause,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::newer;

    /// Proves versions compare part by part as numbers (`2026.11.1` is newer than
    /// `2026.10.1` and than `2026.9.9`, not than itself), a longer version is newer than
    /// its prefix, and the comparison is no plain text comparison.
    #[test]
    fn versions_compare_by_part() {
        assert!(newer("2026.11.1", "2026.10.1"));
        assert!(!newer("2026.10.1", "2026.11.1"));
        assert!(!newer("2026.11.1", "2026.11.1"));
        assert!(newer("2026.10.1", "2026.9.9"));
        assert!(newer("2026.10.1.1", "2026.10.1"));
        assert!(!newer("2026.10", "2026.10.1"));
    }
}
