//! Spikes: intermittency (disk latency over 50 ms, IO wait over 15 %,
//! classified random, periodic or escalating) and the correlation of
//! metric spikes with the events that came just before them.

use super::super::{
    findings::{Correlation, EventRef, Intermittency, MetricSpike, Severity, SpikePattern},
    history::{Event, Point},
    stats::{self, round2},
};
use super::text;
use chrono::{DateTime, Duration, Utc};
use entities::enums::Language;
use std::collections::HashMap;

/// The spec's intermittency thresholds.
pub const LATENCY_SPIKE_MS: f64 = 50.0;
pub const IO_WAIT_SPIKE_PERCENT: f64 = 15.0;
/// Inter-spike gaps whose coefficient of variation is below this are
/// regular: a periodic pattern (a backup, a scheduled scan).
const PERIODIC_CV: f64 = 0.25;
/// How far before a spike an event counts as related.
pub const CORRELATION_WINDOW: Duration = Duration::minutes(5);
/// Correlations below this confidence are not reported.
const MIN_CONFIDENCE: f64 = 0.3;
const MAX_CORRELATIONS: usize = 10;

/// One excursion over a threshold: its peak.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spike {
    pub at: DateTime<Utc>,
    pub peak: f64,
}

/// Runs of consecutive points above `threshold`, each reduced to its peak.
pub fn spikes(series: &[Point], threshold: f64) -> Vec<Spike> {
    let mut out: Vec<Spike> = Vec::new();
    let mut inside = false;
    for p in series {
        if p.value > threshold {
            match out.last_mut() {
                Some(s) if inside => {
                    if p.value > s.peak {
                        *s = Spike {
                            at: p.at,
                            peak: p.value,
                        };
                    }
                }
                _ => out.push(Spike {
                    at: p.at,
                    peak: p.value,
                }),
            }
            inside = true;
        } else {
            inside = false;
        }
    }
    out
}

/// Random, periodic or escalating. Escalating wins (it is the one that
/// gets worse): the peaks grow along a line that explains them, or the
/// second half of the period holds at least twice the spikes of the first.
pub fn classify(spikes: &[Spike]) -> (SpikePattern, Option<i64>) {
    if spikes.len() < 4 {
        return (SpikePattern::Random, None);
    }
    let (first, last) = (spikes[0].at, spikes[spikes.len() - 1].at);
    let peaks: Vec<(DateTime<Utc>, f64)> = spikes.iter().map(|s| (s.at, s.peak)).collect();
    if let (Some(fit), Some(mean)) = (
        stats::fit(&peaks, first),
        stats::mean(&peaks.iter().map(|p| p.1).collect::<Vec<_>>()),
    ) {
        let span_days = (last - first).num_seconds() as f64 / 86_400.0;
        if fit.r_squared >= 0.5 && fit.slope_per_day * span_days >= 0.25 * mean {
            return (SpikePattern::Escalating, None);
        }
    }
    let middle = first + (last - first) / 2;
    let early = spikes.iter().filter(|s| s.at < middle).count();
    let late = spikes.len() - early;
    if early > 0 && late >= 2 * early + 2 {
        return (SpikePattern::Escalating, None);
    }
    let gaps: Vec<f64> = spikes
        .windows(2)
        .map(|w| (w[1].at - w[0].at).num_seconds() as f64)
        .collect();
    if let (Some(mean), Some(sd)) = (stats::mean(&gaps), stats::stddev(&gaps)) {
        if mean > 0.0 && sd / mean < PERIODIC_CV {
            return (
                SpikePattern::Periodic,
                stats::median(&gaps).map(|g| g.round() as i64),
            );
        }
    }
    (SpikePattern::Random, None)
}

pub fn intermittency(metric: &str, series: &[Point], threshold: f64) -> Option<Intermittency> {
    let found = spikes(series, threshold);
    let (first, last) = (found.first()?, found.last()?);
    let (pattern, period) = classify(&found);
    let max = found.iter().map(|s| s.peak).fold(f64::MIN, f64::max);
    let severity = match pattern {
        SpikePattern::Escalating => Severity::High,
        _ if max >= 4.0 * threshold => Severity::High,
        SpikePattern::Periodic => Severity::Medium,
        SpikePattern::Random if found.len() >= 10 => Severity::Medium,
        SpikePattern::Random => Severity::Low,
    };
    Some(Intermittency {
        metric: metric.to_owned(),
        threshold,
        spikes: found.len() as u32,
        max: round2(max),
        pattern,
        period_secs: period,
        first_at: first.at,
        last_at: last.at,
        severity,
    })
}

fn level_weight(level: &str) -> f64 {
    match level {
        "critical" => 1.0,
        "error" => 0.9,
        _ => 0.7,
    }
}

/// Events before each spike of `metric`. An event's confidence grows with
/// its proximity to the spike (1 at the spike, 0 at the window's edge) and
/// with recurrence (the same source and id before other spikes of the
/// metric too), and shrinks with the chance of it falling in the window
/// anyway: a source that logs every minute explains nothing.
pub fn correlate(
    metric: &str,
    spikes: &[Spike],
    events: &[Event],
    history_span: Duration,
    lang: Language,
) -> Vec<Correlation> {
    let window = CORRELATION_WINDOW.num_seconds() as f64;
    let before = |s: Spike| {
        let from = s.at - CORRELATION_WINDOW;
        events.iter().filter(move |e| e.at >= from && e.at <= s.at)
    };
    // Spikes each (source, id) preceded, and how often it logs at all.
    let mut preceded: HashMap<(&str, i64), usize> = HashMap::new();
    for s in spikes {
        let mut seen: Vec<(&str, i64)> = before(*s).map(|e| (e.source.as_str(), e.event_id)).collect();
        seen.sort_unstable();
        seen.dedup();
        for key in seen {
            *preceded.entry(key).or_default() += 1;
        }
    }
    let mut rate: HashMap<(&str, i64), usize> = HashMap::new();
    for e in events {
        *rate.entry((e.source.as_str(), e.event_id)).or_default() += 1;
    }
    let span = (history_span.num_seconds() as f64).max(window);
    let mut out = Vec::new();
    for s in spikes {
        let mut related: Vec<(f64, &Event)> = before(*s)
            .map(|e| {
                let key = (e.source.as_str(), e.event_id);
                let proximity = 1.0 - (s.at - e.at).num_seconds() as f64 / window;
                let recurrence = preceded[&key] as f64 / spikes.len() as f64;
                let per_window = rate[&key] as f64 / span * window;
                let by_chance = 1.0 - (-per_window).exp();
                let confidence =
                    proximity * (0.6 + 0.4 * recurrence) * (1.0 - by_chance) * level_weight(&e.level).sqrt();
                (confidence.clamp(0.0, 1.0), e)
            })
            .filter(|(c, _)| *c >= MIN_CONFIDENCE)
            .collect();
        if related.is_empty() {
            continue;
        }
        related.sort_by(|a, b| b.0.total_cmp(&a.0));
        related.truncate(5);
        let (confidence, top) = related[0];
        out.push(Correlation {
            metric_spike: MetricSpike {
                metric: metric.to_owned(),
                value: round2(s.peak),
                at: s.at,
            },
            root_cause: text::root_cause(
                lang,
                &top.source,
                top.event_id,
                metric,
                (s.at - top.at).num_seconds(),
            ),
            related_events: related
                .into_iter()
                .map(|(_, e)| EventRef {
                    source: e.source.clone(),
                    event_id: e.event_id,
                    level: e.level.clone(),
                    message: e.message.clone(),
                    at: e.at,
                })
                .collect(),
            confidence: round2(confidence),
        });
    }
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out.truncate(MAX_CORRELATIONS);
    out
}

/// The spike threshold per metric for correlation.
pub fn spike_threshold(metric: &str) -> f64 {
    match metric {
        "disk_latency_ms" => LATENCY_SPIKE_MS,
        "io_wait_percent" => IO_WAIT_SPIKE_PERCENT,
        _ => 90.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
    }

    /// One point a minute over `hours`, 10 ms, with spikes where `spike`
    /// says.
    fn series(hours: i64, spike: impl Fn(i64) -> Option<f64>) -> Vec<Point> {
        (0..hours * 60)
            .map(|m| Point::new(t0() + Duration::minutes(m), spike(m).unwrap_or(10.0)))
            .collect()
    }

    fn event(at: DateTime<Utc>, source: &str, id: i64) -> Event {
        Event {
            at,
            source: source.into(),
            event_id: id,
            level: "error".into(),
            message: "Installation started".into(),
        }
    }

    #[test]
    fn regular_spikes_are_periodic_with_their_period() {
        // Every 6 hours, two minutes over 50 ms.
        let s = series(48, |m| (m % 360 < 2).then_some(80.0));
        let i = intermittency("disk_latency_ms", &s, LATENCY_SPIKE_MS).unwrap();
        assert_eq!(i.spikes, 8);
        assert_eq!(i.pattern, SpikePattern::Periodic);
        assert_eq!(i.period_secs, Some(6 * 3600));
        assert_eq!(i.max, 80.0);
        assert_eq!(i.severity, Severity::Medium);
    }

    #[test]
    fn growing_spikes_escalate_and_scattered_ones_are_random() {
        let growing = series(48, |m| (m % 360 == 0).then_some(60.0 + m as f64 / 60.0 * 2.0));
        let i = intermittency("disk_latency_ms", &growing, LATENCY_SPIKE_MS).unwrap();
        assert_eq!(i.pattern, SpikePattern::Escalating);
        assert_eq!(i.severity, Severity::High);
        // More and more often: 1, then 2, 4, 8 per quarter of the period.
        let at = [
            0, 700, 1200, 1500, 1700, 1900, 2000, 2100, 2200, 2300, 2400, 2500, 2600, 2700, 2800,
        ];
        let frequent = series(48, |m| at.contains(&m).then_some(70.0));
        assert_eq!(classify(&spikes(&frequent, 50.0)).0, SpikePattern::Escalating);
        let scattered = [13, 400, 450, 1300, 1333, 2600, 2870];
        let random = series(48, |m| scattered.contains(&m).then_some(70.0));
        let i = intermittency("io_wait_percent", &random, 50.0).unwrap();
        assert_eq!(i.pattern, SpikePattern::Random);
        assert_eq!(i.period_secs, None);
        assert_eq!(intermittency("io_wait_percent", &series(2, |_| None), 15.0), None);
    }

    #[test]
    fn an_event_just_before_each_spike_correlates_and_a_random_one_does_not() {
        let spike_minutes = [300, 900, 1500, 2100];
        let s = series(48, |m| spike_minutes.contains(&m).then_some(95.0));
        let found = spikes(&s, 90.0);
        assert_eq!(found.len(), 4);
        let mut events: Vec<Event> = found
            .iter()
            .map(|sp| event(sp.at - Duration::seconds(5), "Windows Update", 19))
            .collect();
        // Noise: a chatty source every ten minutes, and one stray event
        // four minutes before one spike.
        events.extend((0..48 * 6).map(|i| event(t0() + Duration::minutes(i * 10 + 7), "Chatty", 7)));
        events.push(event(found[2].at - Duration::minutes(4), "Stray", 1));
        events.sort_by_key(|e| e.at);
        let c = correlate("cpu_percent", &found, &events, Duration::hours(48), Language::En);
        assert_eq!(c.len(), 4);
        for corr in &c {
            assert!(corr.confidence >= 0.9, "{corr:?}");
            assert_eq!(corr.related_events[0].source, "Windows Update");
            assert!(corr
                .related_events
                .iter()
                .all(|e| e.source != "Stray" && e.source != "Chatty"));
            assert!(corr.root_cause.contains("Windows Update"));
        }
        // Alone, the stray event is far from its spike and never recurs.
        let stray = [event(found[2].at - Duration::minutes(4), "Stray", 1)];
        assert!(correlate("cpu_percent", &found, &stray, Duration::hours(48), Language::En).is_empty());
        // The spec's example: one spike, one event 5 s before.
        let one = [event(found[0].at - Duration::seconds(5), "Windows Update", 19)];
        let c = correlate(
            "cpu_percent",
            &found[..1],
            &one,
            Duration::hours(48),
            Language::Fr,
        );
        assert!(c[0].confidence >= 0.9, "{:?}", c[0]);
    }
}
