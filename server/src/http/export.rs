//! `GET /api/export/machines`: the tenant's machines as CSV (UTF-8, header
//! row), for spreadsheets and audits. Authenticated like GraphQL (Bearer or
//! the session cookie).

use super::{
    errors::{json_error, unavailable},
    graphql::caller,
};
use crate::{
    app::AppState,
    domain::{auth::Principal, fleet, DomainError},
    serve::RemoteAddr,
};
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

/// Spreadsheets run a cell starting with one of these as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Where a spreadsheet may cut one of our cells in several: Excel in French
/// or German splits on `;` (the separator labels are joined with), which the
/// writer does not quote; import dialogs offer comma, tab and `|`; and a
/// tool that ignores quoting cuts at line breaks.
const SEPARATORS: [char; 6] = [';', ',', '\t', '\r', '\n', '|'];

/// Makes agent- and user-supplied text formula-safe (CSV injection): the
/// cell, and every part of it after a separator, that would start with a
/// formula character gets a leading quote, which spreadsheets read as
/// text. Leading spaces and double quotes are looked through: importers
/// trim the former, and the latter open a quoted field once a part is cut
/// out of our quoting.
fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 1);
    let mut part_start = true;
    for (i, c) in value.char_indices() {
        if part_start {
            let rest = value[i..].trim_start_matches([' ', '"']);
            if rest.starts_with(FORMULA_STARTS) {
                out.push('\'');
            }
            part_start = false;
        }
        out.push(c);
        if SEPARATORS.contains(&c) {
            part_start = true;
        }
    }
    out
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// The caller of a REST download, authenticated as GraphQL does (Bearer
/// or the session cookie), or the JSON refusal to answer.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    remote: Option<&RemoteAddr>,
) -> Result<Principal, Response> {
    let auth = caller(state, headers, remote).await;
    if let Some(retry_after) = auth.unavailable {
        return Err(unavailable(retry_after));
    }
    let Some(principal) = auth.principal else {
        return Err(json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Sign in or send a Bearer token",
        ));
    };
    if principal.password_change_required {
        return Err(json_error(
            StatusCode::FORBIDDEN,
            "PASSWORD_CHANGE_REQUIRED",
            "Change your password first",
        ));
    }
    Ok(principal)
}

pub async fn machines(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
) -> Response {
    let principal = match signed_in(&state, &headers, remote.as_deref()).await {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let rows = match state.services.fleet.export(principal.client_id).await {
        Ok(rows) => rows,
        Err(DomainError::Unavailable { retry_after, .. }) => return unavailable(retry_after),
        Err(e) => {
            tracing::error!(error = %e.report(), "machines export failed");
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
                entities::enums::Stored::stored(&m.update_channel),
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
                fleet::in_maintenance(m, now).to_string(),
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

#[cfg(test)]
mod tests {
    use super::{cell, FORMULA_STARTS, SEPARATORS};

    /// Whether any part of `value`, cut at any separator, would start a
    /// formula.
    fn runs_a_formula(value: &str) -> bool {
        value
            .split(SEPARATORS)
            .any(|part| part.trim_start_matches([' ', '"']).starts_with(FORMULA_STARTS))
    }

    #[test]
    fn formula_cells_get_a_leading_quote() {
        for (raw, safe) in [
            ("=1+1", "'=1+1"),
            ("+33 1 23", "'+33 1 23"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("\t=1", "'\t'=1"),
            ("  =1", "'  =1"),
            ("srv-web-01", "srv-web-01"),
            ("Windows 11 Pro", "Windows 11 Pro"),
            ("", ""),
        ] {
            assert_eq!(cell(raw), safe, "{raw:?}");
        }
    }

    #[test]
    fn every_part_after_a_separator_is_neutralised_too() {
        assert_eq!(
            cell("env=prod;x;=HYPERLINK(\"http://evil\";\"y\")"),
            "env=prod;x;'=HYPERLINK(\"http://evil\";\"y\")"
        );
        assert_eq!(cell("a,+1"), "a,'+1");
        assert_eq!(cell("a, -1"), "a,' -1");
        assert_eq!(cell("a|@x"), "a|'@x");
        assert_eq!(cell("a\n=1"), "a\n'=1");
        assert_eq!(cell("a;\t=1"), "a;'\t'=1");
        assert_eq!(cell("a;;=1"), "a;;'=1");
        assert_eq!(cell("x;\"=1\""), "x;'\"=1\"");
        assert_eq!(cell("\"quoted\", fine"), "\"quoted\", fine");
        assert_eq!(cell("role=db;site=par"), "role=db;site=par");
        for hostile in [
            "=cmd|' /C calc'!A0",
            "x;=HYPERLINK(\"http://evil\",\"y\")",
            "ok;@SUM(1);-1;+1",
            "a,=1|=2\t=3\r=4\n=5",
            ";;;=1",
            " ; = 1",
            "a;\"\"-1",
        ] {
            assert!(runs_a_formula(hostile), "{hostile:?} is a real attack");
            assert!(
                !runs_a_formula(&cell(hostile)),
                "{hostile:?} -> {:?}",
                cell(hostile)
            );
        }
    }
}
