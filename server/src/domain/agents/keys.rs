//! Every shared-cache key of the agent area, and the functions that drop
//! them. A writer that changes a machine row calls [`invalidate_machine`];
//! one that changes a certificate's revocation calls [`mark_revoked`] or
//! [`invalidate_certificate`]. Nothing else writes these strings, so a new
//! cached view of a machine only has to be added here to be dropped by
//! every writer.

use crate::infra::cache::Cache;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// The DER CRL, base64.
pub const CRL: &str = "crl:der";
/// Prefix of the revoked-serial markers.
pub const REVOKED_PREFIX: &str = "cert:revoked:";
/// Prefix of the valid-serial entries (value: `client_id:machine_id`).
pub const VALID_PREFIX: &str = "cert:valid:";
/// Prefix of the CRL entries.
pub const CRL_PREFIX: &str = "crl:";
/// The OS prerequisites, JSON.
pub const REQUIREMENTS: &str = "agent:requirements";

/// Set while a serial is revoked. The value says why, so the gateway can
/// tell a superseded certificate from a revoked one without the database.
pub fn revoked(serial: &str) -> String {
    format!("{REVOKED_PREFIX}{serial}")
}

/// Set while a serial is known valid; the value is the CN it belongs to.
pub fn valid(serial: &str) -> String {
    format!("{VALID_PREFIX}{serial}")
}

/// A machine's heartbeat view (see `heartbeat::BeatView`).
pub fn beat_view(machine_id: Uuid) -> String {
    format!("hb:{machine_id}")
}

/// Set while a machine's last metrics sample showed CPU > 80% or RAM > 85%;
/// the heartbeat then asks for 30 s instead of 60 s. Written by ingest, not
/// a copy of the machine row, so [`invalidate_machine`] leaves it.
pub fn high_load(machine_id: Uuid) -> String {
    format!("load:high:{machine_id}")
}

/// A machine's request budget on the gateway.
pub fn request_budget(machine_id: Uuid) -> String {
    format!("rl:agent:{machine_id}")
}

/// Why a serial is in the revoked set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedAs {
    /// An administrator revoked it (or a reason we do not know).
    Revoked,
    /// A renewal or a re-enrolment replaced it.
    Superseded,
}

impl RevokedAs {
    /// From the `revocation_reason` column.
    pub fn of_reason(reason: Option<&str>) -> Self {
        match reason {
            Some("superseded" | "renewed") => Self::Superseded,
            _ => Self::Revoked,
        }
    }

    fn marker(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
        }
    }

    /// Reads a marker; the `1` older servers wrote counts as revoked.
    pub fn from_marker(marker: &str) -> Self {
        if marker == Self::Superseded.marker() {
            Self::Superseded
        } else {
            Self::Revoked
        }
    }
}

/// Drops everything cached about one machine's row. Every writer of a
/// column a cached view holds calls this after its change commits.
pub async fn invalidate_machine(cache: &dyn Cache, machine_id: Uuid) {
    let _ = cache.delete(&beat_view(machine_id)).await;
}

/// Marks a serial revoked until after it expires, and drops its valid
/// entry and the CRL.
pub async fn mark_revoked(cache: &dyn Cache, serial: &str, expires_at: DateTime<Utc>, why: RevokedAs) {
    let ttl = (expires_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(3600);
    if let Err(e) = cache.set(&revoked(serial), why.marker(), ttl).await {
        tracing::warn!(error = %e, "revocation cache write failed; the database still refuses the certificate");
    }
    let _ = cache.delete(&valid(serial)).await;
    let _ = cache.delete(CRL).await;
}

/// Drops what is cached about a serial whose revocation was cancelled.
pub async fn invalidate_certificate(cache: &dyn Cache, serial: &str) {
    let _ = cache.delete(&revoked(serial)).await;
    let _ = cache.delete(&valid(serial)).await;
    let _ = cache.delete(CRL).await;
}
