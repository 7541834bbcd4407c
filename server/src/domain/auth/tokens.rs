//! Signed JWTs: access (15 min) and refresh (7 days). Every decode checks
//! the algorithm, issuer, audience, expiry and the token kind, so a refresh
//! token is never accepted as an access token or the reverse.

use super::Role;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ACCESS_TTL: Duration = Duration::minutes(15);
pub const REFRESH_TTL: Duration = Duration::days(7);
const ISSUER: &str = "optralis";
const AUDIENCE: &str = "optralis-api";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub typ: TokenKind,
    /// Tenant the token acts in.
    pub cid: Uuid,
    pub role: Role,
    /// Password change required: only changePassword/logout are allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pcr: bool,
    /// Refresh family (refresh tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<Uuid>,
    /// The super_admin acting through an impersonation token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp: Option<Uuid>,
    /// The user's session version when the token was issued (for
    /// impersonation: the super_admin's); a bump ends the token.
    #[serde(default)]
    pub sv: i32,
}

impl Claims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_else(Utc::now)
    }
}

/// What to put in a new token.
pub struct TokenSpec {
    pub kind: TokenKind,
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub role: Role,
    pub password_change_required: bool,
    pub family: Option<Uuid>,
    pub impersonator: Option<Uuid>,
    pub session_version: i32,
    pub ttl: Duration,
    /// Defaults to a fresh v4 id.
    pub jti: Option<Uuid>,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("invalid token")]
    Invalid,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, spec: TokenSpec) -> (String, Claims) {
        let now = Utc::now();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: spec.user_id,
            jti: spec.jti.unwrap_or_else(Uuid::new_v4),
            iat: now.timestamp(),
            exp: (now + spec.ttl).timestamp(),
            typ: spec.kind,
            cid: spec.client_id,
            role: spec.role,
            pcr: spec.password_change_required,
            fam: spec.family,
            imp: spec.impersonator,
            sv: spec.session_version,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, claims)
    }

    pub fn verify(&self, token: &str, kind: TokenKind) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        if data.claims.typ != kind {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: TokenKind, ttl: Duration) -> TokenSpec {
        TokenSpec {
            kind,
            user_id: Uuid::new_v4(),
            client_id: Uuid::new_v4(),
            role: Role::Admin,
            password_change_required: false,
            family: None,
            impersonator: None,
            session_version: 0,
            ttl,
            jti: None,
        }
    }

    #[test]
    fn kinds_keys_and_expiry_are_enforced() {
        let keys = TokenKeys::new(&[7u8; 32]);
        let (access, claims) = keys.issue(spec(TokenKind::Access, ACCESS_TTL));
        assert_eq!(keys.verify(&access, TokenKind::Access).unwrap().jti, claims.jti);
        assert_eq!(
            keys.verify(&access, TokenKind::Refresh).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            TokenKeys::new(&[8u8; 32])
                .verify(&access, TokenKind::Access)
                .unwrap_err(),
            TokenError::Invalid
        );
        let (old, _) = keys.issue(spec(TokenKind::Access, Duration::minutes(-5)));
        assert_eq!(
            keys.verify(&old, TokenKind::Access).unwrap_err(),
            TokenError::Expired
        );
        // alg=none and other algorithms are refused.
        let mut parts: Vec<&str> = access.split('.').collect();
        let none_header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"none","typ":"JWT"}"#,
        );
        parts[0] = &none_header;
        assert!(keys
            .verify(&format!("{}.{}.", parts[0], parts[1]), TokenKind::Access)
            .is_err());
    }
}
