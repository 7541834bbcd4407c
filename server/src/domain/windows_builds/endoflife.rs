//! Reads endoflife.date's `windows.json` (one entry per release cycle and
//! edition) into the builds we keep: one per (os type, build), named as
//! the dashboard shows them.

use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Builds below Windows 10 LTSC 2019 are no longer supported by the agent.
pub const MIN_BUILD: i32 = 17763;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OsType {
    Client,
    Server,
}

impl OsType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Self::Client),
            "server" => Some(Self::Server),
            _ => None,
        }
    }
}

/// A build read from the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedBuild {
    pub os_type: OsType,
    pub build_number: i32,
    pub name: String,
    pub release_date: Option<NaiveDate>,
}

/// What one document gave: the builds to keep, and how many entries were
/// left out (IoT/Embedded, too old, not Windows 10/11/Server, unreadable,
/// or a second edition of a build already kept).
#[derive(Debug, Default)]
pub struct Feed {
    pub builds: Vec<FeedBuild>,
    pub skipped: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    cycle: String,
    #[serde(default)]
    release_label: Option<String>,
    #[serde(default)]
    release_date: Option<String>,
    /// "10.0.26100"; absent on a few very old cycles.
    #[serde(default)]
    latest: Option<String>,
}

/// Parses the document; an answer that is not a JSON array of release
/// entries is an error (the caller keeps the table as it is).
pub fn parse(body: &[u8]) -> Result<Feed, serde_json::Error> {
    // Entries are read one by one so a single odd entry is skipped, not
    // fatal; the outer shape must still be an array of objects.
    let raw: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(body)?;
    let mut kept: BTreeMap<(OsType, i32), (Rank, FeedBuild)> = BTreeMap::new();
    let mut skipped = 0;
    for value in raw {
        let Some((rank, build)) = serde_json::from_value::<Entry>(value.into())
            .ok()
            .and_then(|e| read(&e))
        else {
            skipped += 1;
            continue;
        };
        match kept.get(&(build.os_type, build.build_number)) {
            Some((held, _)) if *held >= rank => skipped += 1,
            Some(_) => {
                skipped += 1;
                kept.insert((build.os_type, build.build_number), (rank, build));
            }
            None => {
                kept.insert((build.os_type, build.build_number), (rank, build));
            }
        }
    }
    Ok(Feed {
        builds: kept.into_values().map(|(_, b)| b).collect(),
        skipped,
    })
}

/// Which name wins when several editions share a build. On Windows 10 the
/// LTSC name wins (1809 and 21H2 live on as LTSC 2019 and 2021 long after
/// their feature updates ended); on Windows 11 the feature update's name
/// wins ("Windows 11 (24H2)", not "LTSC 2024"), as the seed has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Lesser,
    Preferred,
}

fn read(e: &Entry) -> Option<(Rank, FeedBuild)> {
    let cycle = e.cycle.to_ascii_lowercase();
    let label = e
        .release_label
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ["iot", "embedded"]
        .iter()
        .any(|w| cycle.contains(w) || label.contains(w))
    {
        return None;
    }
    let build_number = build_of(e.latest.as_deref()?)?;
    if build_number < MIN_BUILD {
        return None;
    }
    let release_date = e
        .release_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let parts: Vec<&str> = cycle.split('-').collect();
    let lts = parts.contains(&"lts") || parts.contains(&"ltsc");
    let (os_type, name, rank) = match parts.as_slice() {
        _ if cycle.contains("server") || label.contains("server") => {
            let digits = |s: &'_ str| -> Option<String> {
                s.split(|c: char| !c.is_ascii_digit())
                    .find(|p| p.len() == 4 && p.starts_with("20"))
                    .map(str::to_owned)
            };
            let year = digits(&cycle).or_else(|| digits(&label))?;
            (OsType::Server, format!("Windows Server {year}"), Rank::Preferred)
        }
        ["10", version, ..] if lts => (
            OsType::Client,
            format!("Windows 10 LTSC {}", ltsc_year(version, release_date)?),
            Rank::Preferred,
        ),
        ["11", version, ..] if lts => (
            OsType::Client,
            format!("Windows 11 LTSC {}", ltsc_year(version, release_date)?),
            Rank::Lesser,
        ),
        [major @ ("10" | "11"), version, ..] => {
            let rank = if *major == "11" {
                Rank::Preferred
            } else {
                Rank::Lesser
            };
            (
                OsType::Client,
                format!("Windows {major} ({})", version.to_ascii_uppercase()),
                rank,
            )
        }
        _ => return None,
    };
    Some((
        rank,
        FeedBuild {
            os_type,
            build_number,
            name,
            release_date,
        },
    ))
}

/// "10.0.26100" → 26100.
pub fn build_of(latest: &str) -> Option<i32> {
    let mut parts = latest.trim().split('.');
    let (major, _minor, build) = (parts.next()?, parts.next()?, parts.next()?);
    if major != "10" {
        return None;
    }
    build.parse().ok()
}

/// LTSC releases are named after the year they shipped; Microsoft's own
/// names differ from the release date for 1809 (shipped late 2018, named
/// 2019), so the known ones are spelled out.
fn ltsc_year(version: &str, released: Option<NaiveDate>) -> Option<String> {
    let known = match version {
        "1507" => Some("2015"),
        "1607" => Some("2016"),
        "1809" => Some("2019"),
        "21h2" => Some("2021"),
        "24h2" => Some("2024"),
        _ => None,
    };
    known
        .map(str::to_owned)
        .or_else(|| released.map(|d| d.format("%Y").to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(entry: serde_json::Value) -> Option<FeedBuild> {
        let feed = parse(serde_json::json!([entry]).to_string().as_bytes()).unwrap();
        feed.builds.into_iter().next()
    }

    #[test]
    fn names_follow_the_dashboards_format() {
        let w11 = one(serde_json::json!({"cycle": "11-24h2-w", "releaseLabel": "11 24H2 (W)", "releaseDate": "2024-10-01", "latest": "10.0.26100"})).unwrap();
        assert_eq!(
            (w11.os_type, w11.build_number, w11.name.as_str()),
            (OsType::Client, 26100, "Windows 11 (24H2)")
        );
        assert_eq!(w11.release_date, NaiveDate::from_ymd_opt(2024, 10, 1));
        let ltsc = one(serde_json::json!({"cycle": "10-1809-e-lts", "releaseLabel": "10 1809 (E) (LTS)", "latest": "10.0.17763"})).unwrap();
        assert_eq!(ltsc.name, "Windows 10 LTSC 2019");
        let server = one(serde_json::json!({"cycle": "server-2025", "releaseLabel": "Server 2025 (LTSC)", "latest": "10.0.26100"})).unwrap();
        assert_eq!(
            (server.os_type, server.name.as_str()),
            (OsType::Server, "Windows Server 2025")
        );
    }

    #[test]
    fn iot_embedded_old_and_foreign_entries_are_skipped() {
        for entry in [
            serde_json::json!({"cycle": "11-24h2-iot-lts", "latest": "10.0.26100"}),
            serde_json::json!({"cycle": "10-21h2-e-lts", "releaseLabel": "10 21H2 Embedded", "latest": "10.0.19044"}),
            serde_json::json!({"cycle": "10-1803-e", "latest": "10.0.17134"}),
            serde_json::json!({"cycle": "8.1", "latest": "6.3.9600"}),
            serde_json::json!({"cycle": "10-22h2-e"}),
            serde_json::json!({"no": "cycle"}),
        ] {
            assert_eq!(one(entry.clone()), None, "{entry}");
        }
    }

    #[test]
    fn one_name_per_build_ltsc_first_on_windows_10_only() {
        let body = serde_json::json!([
            {"cycle": "10-21h2-e", "latest": "10.0.19044"},
            {"cycle": "10-21h2-e-lts", "latest": "10.0.19044"},
            {"cycle": "10-21h2-w", "latest": "10.0.19044"},
            {"cycle": "11-24h2-e-lts", "latest": "10.0.26100"},
            {"cycle": "11-24h2-e", "latest": "10.0.26100"},
        ]);
        let feed = parse(body.to_string().as_bytes()).unwrap();
        let names: Vec<_> = feed.builds.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["Windows 10 LTSC 2021", "Windows 11 (24H2)"]);
        assert_eq!(feed.skipped, 3);
    }

    #[test]
    fn a_document_that_is_not_a_list_of_entries_is_refused() {
        assert!(parse(b"<html>").is_err());
        assert!(parse(br#"{"cycle": "11-24h2-e"}"#).is_err());
        assert_eq!(build_of("10.0.22631.4460"), Some(22631));
        assert_eq!(build_of("6.1.7601"), None);
    }
}
