//! Log analysis: error and critical events grouped by source and id, with
//! counts, first and last seen and the latest message, most frequent first.

use super::super::{findings::LogPattern, history::EventGroup};
use std::collections::BTreeMap;

/// Groups kept in the findings.
const MAX_PATTERNS: usize = 50;

/// Merges the per-level groups of one (source, id): the counts add up, the
/// worst level and the latest message win.
pub fn patterns(groups: &[EventGroup]) -> Vec<LogPattern> {
    let mut merged: BTreeMap<(&str, i64), LogPattern> = BTreeMap::new();
    for g in groups {
        let p = merged
            .entry((g.source.as_str(), g.event_id))
            .or_insert_with(|| LogPattern {
                source: g.source.clone(),
                event_id: g.event_id,
                level: g.level.clone(),
                count: 0,
                first_seen: g.first_seen,
                last_seen: g.last_seen,
                sample_message: g.message.clone(),
            });
        p.count += g.count;
        p.first_seen = p.first_seen.min(g.first_seen);
        if g.last_seen > p.last_seen {
            p.last_seen = g.last_seen;
            p.sample_message = g.message.clone();
        }
        if g.level == "critical" {
            p.level = g.level.clone();
        }
    }
    let mut out: Vec<LogPattern> = merged.into_values().collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    out.truncate(MAX_PATTERNS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn levels_of_one_source_and_id_merge_worst_level_latest_message() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let g = |source: &str, id, level: &str, count, first: i64, last: i64, msg: &str| EventGroup {
            source: source.into(),
            event_id: id,
            level: level.into(),
            count,
            first_seen: t + Duration::hours(first),
            last_seen: t + Duration::hours(last),
            message: msg.into(),
        };
        let out = patterns(&[
            g("disk", 7, "error", 10, 5, 20, "bad block"),
            g("disk", 7, "critical", 2, 1, 30, "bad block again"),
            g("Service Control Manager", 7031, "error", 3, 2, 4, "terminated"),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].source, "disk");
        assert_eq!(out[0].count, 12);
        assert_eq!(out[0].level, "critical");
        assert_eq!(out[0].first_seen, t + Duration::hours(1));
        assert_eq!(out[0].last_seen, t + Duration::hours(30));
        assert_eq!(out[0].sample_message, "bad block again");
        assert_eq!(out[1].count, 3);
    }
}
