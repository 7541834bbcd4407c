//! Certificate administration for the platform (super_admin).

use super::{
    error::{ApiError, Result},
    types::id,
    ContextExt,
};
use crate::domain::{
    auth::Role,
    pki::certificates::{CertFilter, CertRow, CertStatus},
};
use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, SimpleObject, ID,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    /// More than 30 days before expiry.
    Valid,
    /// 7 to 30 days before expiry.
    ExpiringSoon,
    /// Less than 7 days before expiry.
    Expiring,
    Expired,
    Revoked,
}

impl From<CertStatus> for CertificateStatus {
    fn from(s: CertStatus) -> Self {
        match s {
            CertStatus::Valid => Self::Valid,
            CertStatus::ExpiringSoon => Self::ExpiringSoon,
            CertStatus::Expiring => Self::Expiring,
            CertStatus::Expired => Self::Expired,
            CertStatus::Revoked => Self::Revoked,
        }
    }
}

impl From<CertificateStatus> for CertStatus {
    fn from(s: CertificateStatus) -> Self {
        match s {
            CertificateStatus::Valid => Self::Valid,
            CertificateStatus::ExpiringSoon => Self::ExpiringSoon,
            CertificateStatus::Expiring => Self::Expiring,
            CertificateStatus::Expired => Self::Expired,
            CertificateStatus::Revoked => Self::Revoked,
        }
    }
}

#[derive(SimpleObject)]
pub struct Certificate {
    id: ID,
    client_id: ID,
    client_name: String,
    machine_id: ID,
    machine_hostname: String,
    serial: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    revocation_reason: Option<String>,
    status: CertificateStatus,
}

impl From<CertRow> for Certificate {
    fn from(r: CertRow) -> Self {
        Self {
            id: id(r.cert.id),
            client_id: id(r.cert.client_id),
            client_name: r.client_name,
            machine_id: id(r.cert.machine_id),
            machine_hostname: r.hostname,
            serial: r.cert.serial,
            issued_at: r.cert.issued_at,
            expires_at: r.cert.expires_at,
            revoked_at: r.cert.revoked_at,
            revocation_reason: r.cert.revocation_reason,
            status: r.status.into(),
        }
    }
}

#[derive(InputObject, Default)]
pub struct CertificateFilter {
    status: Option<CertificateStatus>,
    client_id: Option<ID>,
    /// Host name or serial.
    search: Option<String>,
}

#[derive(SimpleObject)]
pub struct CertificateStats {
    total: u64,
    valid: u64,
    expiring_soon: u64,
    expiring: u64,
    expired: u64,
    revoked: u64,
}

#[derive(SimpleObject)]
pub struct CertificatePageInfo {
    total_count: u64,
}

fn offset_cursor(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn parse_offset(raw: &str) -> Option<u64> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

#[derive(Default)]
pub struct CertificateQuery;

#[Object]
impl CertificateQuery {
    /// Every issued certificate (super_admin), newest first; `first` up to
    /// 200 (default 50).
    #[graphql(
        complexity = "super::cost::page(Some(first), 50, crate::domain::pki::certificates::MAX_PAGE, child_complexity)"
    )]
    async fn certificates(
        &self,
        ctx: &Context<'_>,
        filter: Option<CertificateFilter>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Certificate, CertificatePageInfo, EmptyFields>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        if !(1..=200).contains(&first) {
            return Err(ApiError::bad_input("first", "must be between 1 and 200"));
        }
        let start = match after {
            None => 0,
            Some(raw) => {
                parse_offset(&raw).ok_or_else(|| ApiError::bad_input("after", "is not a valid cursor"))? + 1
            }
        };
        let filter = filter.unwrap_or_default();
        let domain_filter = CertFilter {
            status: filter.status.map(Into::into),
            client_id: filter
                .client_id
                .as_ref()
                .map(|c| super::types::parse_id("filter.clientId", c))
                .transpose()?,
            search: filter.search,
        };
        let (rows, total) = ctx
            .services()
            .certificates
            .list(&domain_filter, first as u64, start)
            .await?;
        let end = start + rows.len() as u64;
        let mut connection = Connection::with_additional_fields(
            start > 0,
            end < total,
            CertificatePageInfo { total_count: total },
        );
        connection.edges.extend(
            rows.into_iter()
                .enumerate()
                .map(|(i, r)| Edge::new(offset_cursor(start + i as u64), Certificate::from(r))),
        );
        Ok(connection)
    }

    async fn certificate_stats(&self, ctx: &Context<'_>) -> Result<CertificateStats> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let stats = ctx.services().certificates.stats().await?;
        let get = |s: CertStatus| stats.iter().find(|(k, _)| *k == s).map_or(0, |(_, n)| *n);
        Ok(CertificateStats {
            total: stats.iter().map(|(_, n)| n).sum(),
            valid: get(CertStatus::Valid),
            expiring_soon: get(CertStatus::ExpiringSoon),
            expiring: get(CertStatus::Expiring),
            expired: get(CertStatus::Expired),
            revoked: get(CertStatus::Revoked),
        })
    }
}

#[derive(Default)]
pub struct CertificateMutation;

#[Object]
impl CertificateMutation {
    /// Deletes expired and revoked certificates; returns how many.
    async fn purge_inactive_certificates(&self, ctx: &Context<'_>) -> Result<u64> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        Ok(ctx.services().certificates.purge_inactive().await?)
    }

    /// Cancels a revocation.
    async fn restore_certificate(&self, ctx: &Context<'_>, serial: String) -> Result<bool> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        ctx.services().certificates.restore(&serial).await?;
        Ok(true)
    }

    /// Clears cached certificate states (they are rebuilt from the
    /// database); returns how many entries were dropped.
    async fn refresh_certificate_cache(&self, ctx: &Context<'_>) -> Result<u64> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        Ok(ctx.services().certificates.refresh_cache().await?)
    }
}
