//! The internet's hosts the nodes depend on: a social identity provider, the CDN and the
//! update mirror (public NTP is [`super::ntp`]).
//!
//! Real components: facebook.com (social login's token exchange), cdn.auth0.com (web
//! extensions and the dashboard's assets) and the appliance's update mirror (the network requirements,
//! "Internet Connectivity").
//!
//! Modelled: plain HTTP/1.1 on port 80, one small JSON document per endpoint:
//! - identity provider: `GET /oauth/access_token?code=<code>` answers
//!   `{"access_token", "user_id"}`, the user id derived from the code (the same code
//!   always gives the same user); without a code, `400`.
//! - CDN: `GET /extensions/manifest.json` answers the list of extensions.
//! - update mirror: `GET /appliance/latest` answers the newest version.
//!
//! Anything else is `404`. Every request served is recorded with the address it came
//! from, so the checkers can tell whether it came through the egress.
//!
//! Left out on purpose: TLS (the sites speak plain HTTP through the egress proxy), OAuth's client authentication and
//! redirects, rate limits.
//!
//! Bounds: those of every HTTP server here ([`crate::services::http`]).
//!
//! Port: TCP 80. Faults it reacts to: crash, restart, firewall rules, link faults on its
//! links and a pause (answers stop until resumed), all applied by the world; what the
//! egress lets through (its rules) decides what reaches it.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::env::Env;
use crate::events::EventKind;
use crate::net::Net;
use crate::services::http::{self, Body};
use crate::topology::Role;

/// The port the sites serve on (plain HTTP: the model has no TLS to the internet).
pub const PORT: u16 = 80;

/// The identity provider's token-exchange path.
pub const TOKEN_PATH: &str = "/oauth/access_token";
/// The update mirror's path for the newest version.
pub const LATEST_PATH: &str = "/appliance/latest";
/// The CDN's extension manifest.
pub const MANIFEST_PATH: &str = "/extensions/manifest.json";

/// The version the update mirror announces.
pub const LATEST_VERSION: &str = "2026.11.1";

/// Runs a site (`role` is one of the HTTP sites) until its listener fails.
pub async fn run<N: Net>(env: Env<N>, role: Role) -> std::io::Result<()> {
    let listener = env.net.listen(PORT).await?;
    let service = match role {
        Role::IdentityProvider => "identity-provider",
        Role::Cdn => "cdn",
        Role::UpdateMirror => "update-mirror",
        other => unreachable!("the world runs only HTTP sites here, not {other:?}"),
    };
    env.record(EventKind::ServiceStarted {
        service: service.to_string(),
        port: PORT,
    });
    http::serve(listener, move |req, peer| {
        let env = env.clone();
        async move { handle(&env, role, &req, peer) }
    })
    .await
}

fn handle<N: Net>(
    env: &Env<N>,
    role: Role,
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let response = answer(role, req.method(), req.uri().path(), req.uri().query());
    env.record(EventKind::SiteServed {
        from: peer.ip(),
        what: format!("{} {}", req.method(), req.uri().path()),
        status: Some(response.status().as_u16()),
    });
    response
}

/// A site's answer to one request.
pub fn answer(role: Role, method: &Method, path: &str, query: Option<&str>) -> Response<Body> {
    if method != Method::GET {
        return http::text(405, "method not allowed");
    }
    match (role, path) {
        (Role::IdentityProvider, TOKEN_PATH) => {
            let code = query
                .unwrap_or("")
                .split('&')
                .find_map(|pair| pair.strip_prefix("code="))
                .filter(|c| !c.is_empty());
            match code {
                Some(code) => http::json(
                    200,
                    &serde_json::json!({
                        "access_token": format!("fb-token-{code}"),
                        "user_id": format!("fb-{code}"),
                    }),
                ),
                None => http::json(
                    400,
                    &serde_json::json!({ "error": "missing the authorization code" }),
                ),
            }
        }
        (Role::Cdn, MANIFEST_PATH) => http::json(
            200,
            &serde_json::json!({ "extensions": ["auth0-authz", "auth0-logs-to-provider"] }),
        ),
        (Role::UpdateMirror, LATEST_PATH) => {
            http::json(200, &serde_json::json!({ "version": LATEST_VERSION }))
        }
        _ => http::text(404, "not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves each site answers its own endpoint only, and the token exchange derives the
    /// user from the code and refuses a request without one.
    #[test]
    fn sites_answer_their_endpoints() {
        let get = Method::GET;
        let ok = answer(Role::IdentityProvider, &get, TOKEN_PATH, Some("code=c-42"));
        assert_eq!(ok.status(), 200);
        let no_code = answer(Role::IdentityProvider, &get, TOKEN_PATH, Some("state=x"));
        assert_eq!(no_code.status(), 400);
        assert_eq!(answer(Role::Cdn, &get, TOKEN_PATH, None).status(), 404);
        assert_eq!(answer(Role::Cdn, &get, MANIFEST_PATH, None).status(), 200);
        assert_eq!(
            answer(Role::UpdateMirror, &get, LATEST_PATH, None).status(),
            200
        );
        assert_eq!(
            answer(Role::UpdateMirror, &Method::POST, LATEST_PATH, None).status(),
            405
        );
    }
}
