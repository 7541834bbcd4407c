//! `GET /api/export/machines`: the tenant's machines as CSV (UTF-8, header
//! row), for spreadsheets and audits. Authenticated like GraphQL (Bearer or
//! the session cookie).

use super::{errors::json_error, graphql::caller};
use crate::{app::AppState, domain::fleet, serve::RemoteAddr};
use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};

const COLUMNS: [&str; 19] = [
    "hostname",
    "status",
    "os",
    "os_version",
    "arch",
    "ip",
    "agent_version",
    "update_channel",
    "last_seen",
    "health_score",
    "os_compliant",
    "cpu_percent",
    "ram_percent",
    "group",
    "labels",
    "maintenance",
    "cert_expires_at",
    "machine_id",
    "created_at",
];

/// Spreadsheets run cells starting with these as formulas; such cells get a
/// leading quote (CSV injection).
fn cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

pub async fn machines(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
) -> Response {
    let auth = caller(&state, &headers, remote.as_deref()).await;
    let Some(principal) = auth.principal else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Sign in or send a Bearer token",
        );
    };
    if principal.password_change_required {
        return json_error(
            StatusCode::FORBIDDEN,
            "PASSWORD_CHANGE_REQUIRED",
            "Change your password first",
        );
    }
    let rows = match state.services.fleet.export(principal.client_id).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "machines export failed");
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Export failed",
            );
        }
    };
    let now = Utc::now();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut write = || -> Result<(), csv::Error> {
        out.write_record(COLUMNS)?;
        for r in &rows {
            let m = &r.machine;
            let status = fleet::State::of(m, now).as_str();
            let labels: Vec<String> = r
                .labels
                .iter()
                .map(|l| format!("{}={}", l.key, l.value))
                .collect();
            let record = [
                cell(&m.hostname),
                status.to_owned(),
                cell(&m.os),
                cell(&m.os_version),
                cell(m.arch.as_deref().unwrap_or_default()),
                cell(&m.ip),
                cell(&m.agent_version),
                m.update_channel.clone(),
                time(m.last_seen),
                m.health_score.to_string(),
                m.is_os_compliant.to_string(),
                r.latest
                    .as_ref()
                    .map(|l| l.cpu_percent.to_string())
                    .unwrap_or_default(),
                r.latest
                    .as_ref()
                    .map(|l| l.ram_percent.to_string())
                    .unwrap_or_default(),
                cell(r.group.as_deref().unwrap_or_default()),
                cell(&labels.join(";")),
                m.maintenance_mode.to_string(),
                time(m.cert_expires_at),
                m.id.to_string(),
                m.created_at.to_rfc3339(),
            ];
            out.write_record(&record)?;
        }
        out.flush()?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::error!(error = %e, "machines export failed");
        return json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Export failed",
        );
    }
    let body = out.into_inner().unwrap_or_default();
    let filename = format!("machines-{}.csv", now.format("%Y%m%d"));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
