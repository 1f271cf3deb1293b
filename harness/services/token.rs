//! Access tokens: HS256 JWTs stamped from the issuing node's clock and checked against
//! the validating node's clock.
//!
//! Real component: the appliance issues signed tokens at login; any node may later be
//! asked to validate them, because the load balancer has no stickiness (the deployment guide).
//!
//! Modelled: jsonwebtoken signs and checks the signature (HS256, a secret the nodes
//! share); its own time checks are off because it can only read the real clock. The
//! times are checked here against the validating node's wall clock, with a leeway:
//! `nbf` more than `leeway` in this node's future is "not yet valid", `exp` more than
//! `leeway` in its past is "expired". So a node whose clock is skewed rejects good tokens,
//! and its own tokens are rejected elsewhere, for a reason that names the skew.
//!
//! Faults it reacts to: clock faults (`clock` steps and the nemesis's clock kinds) of the
//! issuing node (its stamps) and of the validating node (its judgement); nothing else
//! touches it.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The claims a token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// The issuing node.
    pub iss: String,
    /// Issued at, not before and expiry: seconds since the Unix epoch, by the issuer's clock.
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    /// The token's id, unique across the run: `<issuer>-<incarnation>-<n>`.
    pub jti: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    BadSignature,
    /// `nbf` is this many seconds in the validating node's future (beyond the leeway).
    NotYetValid {
        ahead_s: u64,
    },
    /// `exp` is this many seconds in the validating node's past (beyond the leeway).
    Expired {
        ago_s: u64,
    },
}

impl Rejection {
    pub fn describe(&self) -> String {
        match self {
            Rejection::Malformed => "token malformed".to_string(),
            Rejection::BadSignature => "token has a bad signature".to_string(),
            Rejection::NotYetValid { ahead_s } => {
                format!("token not yet valid: issued {ahead_s}s ahead of this node's clock")
            }
            Rejection::Expired { ago_s } => {
                format!("token expired {ago_s}s ago by this node's clock")
            }
        }
    }
}

/// Issues token `jti` for `user` at `now` (the issuer's wall clock, since the Unix
/// epoch).
pub fn issue(
    secret: &[u8],
    user: &str,
    issuer: &str,
    jti: &str,
    now: Duration,
    lifetime: Duration,
) -> String {
    let iat = now.as_secs();
    let claims = Claims {
        sub: user.to_string(),
        iss: issuer.to_string(),
        iat,
        nbf: iat,
        exp: iat + lifetime.as_secs(),
        jti: jti.to_string(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

/// Checks a token's signature, then its times against `now` (the validator's wall clock).
pub fn validate(
    secret: &[u8],
    token: &str,
    now: Duration,
    leeway: Duration,
) -> Result<Claims, Rejection> {
    let claims = decode(secret, token)?;
    check_times(&claims, now.as_secs(), leeway.as_secs())?;
    Ok(claims)
}

/// Checks a token's signature and shape and returns its claims, times unchecked.
pub fn decode(secret: &[u8], token: &str) -> Result<Claims, Rejection> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims = HashSet::new();
    let claims =
        match jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        {
            Ok(data) => data.claims,
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
                return Err(Rejection::BadSignature);
            }
            Err(_) => return Err(Rejection::Malformed),
        };
    Ok(claims)
}

/// Checks a token's times against `now_s`, the validator's clock in whole seconds (JWT
/// times are whole seconds), with `leeway_s` either way.
pub fn check_times(claims: &Claims, now_s: u64, leeway_s: u64) -> Result<(), Rejection> {
    if claims.nbf > now_s + leeway_s {
        return Err(Rejection::NotYetValid {
            ahead_s: claims.nbf - now_s,
        });
    }
    if now_s > claims.exp + leeway_s {
        return Err(Rejection::Expired {
            ago_s: now_s - claims.exp,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"cluster-secret";
    const T: Duration = Duration::from_secs(1_767_225_600);
    const LEEWAY: Duration = Duration::from_secs(60);
    const LIFE: Duration = Duration::from_secs(300);

    /// Proves a token validates on a clock that agrees with its issuer's, and names the
    /// skew when the validator's clock is behind (not yet valid) or ahead (expired) of it
    /// by more than the leeway, while skews inside the leeway pass.
    #[test]
    fn times_are_checked_against_the_validator_clock() {
        let token = issue(SECRET, "alice", "node-3", "node-3-0-1", T, LIFE);
        assert_eq!(validate(SECRET, &token, T, LEEWAY).unwrap().iss, "node-3");
        assert!(validate(SECRET, &token, T - Duration::from_secs(59), LEEWAY).is_ok());
        assert_eq!(
            validate(SECRET, &token, T - Duration::from_secs(600), LEEWAY),
            Err(Rejection::NotYetValid { ahead_s: 600 })
        );
        assert!(validate(SECRET, &token, T + LIFE + Duration::from_secs(60), LEEWAY).is_ok());
        assert_eq!(
            validate(SECRET, &token, T + Duration::from_secs(600), LEEWAY),
            Err(Rejection::Expired { ago_s: 300 })
        );
    }

    /// Proves a token signed with another secret, or not a token at all, is refused.
    #[test]
    fn signature_and_shape() {
        let forged = issue(b"other", "alice", "node-1", "node-1-0-1", T, LIFE);
        assert_eq!(
            validate(SECRET, &forged, T, LEEWAY),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            validate(SECRET, "v1.alice.node-1.5", T, LEEWAY),
            Err(Rejection::Malformed)
        );
    }
}
