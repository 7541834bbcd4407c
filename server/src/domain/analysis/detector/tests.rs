use super::*;
use chrono::TimeZone;

/// A deterministic pseudo-random stream in [-1, 1] (no test depends on a seed
/// the run picks).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn at(i: usize) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + 300 * i as i64, 0).unwrap()
}

fn run(values: &[f64]) -> Vec<f64> {
    let mut detector = Detector::new(Params::default());
    values
        .iter()
        .enumerate()
        .map(|(i, v)| detector.score(at(i), *v))
        .collect()
}

fn max_of(scores: &[f64]) -> f64 {
    scores.iter().copied().fold(0.0, f64::max)
}

#[test]
fn a_spike_in_noise_scores_high_and_the_noise_low() {
    let mut noise = Noise(1);
    let mut values: Vec<f64> = (0..3000).map(|_| 50.0 + 2.0 * noise.next()).collect();
    values[2500] = 80.0;
    let scores = run(&values);
    assert!(scores[2500] > 0.9, "spike {}", scores[2500]);
    let before = max_of(&scores[1000..2500]);
    assert!(before < 0.6, "noise alone reached {before}");
}

#[test]
fn a_level_shift_is_flagged_then_absorbed() {
    let mut noise = Noise(2);
    let values: Vec<f64> = (0..4000)
        .map(|i| if i < 2000 { 20.0 } else { 35.0 } + noise.next())
        .collect();
    let scores = run(&values);
    let at_shift = max_of(&scores[2000..2010]);
    assert!(at_shift > 0.9, "shift scored {at_shift}");
    let settled = max_of(&scores[3000..]);
    assert!(settled < 0.6, "still alarming long after the shift: {settled}");
}

#[test]
fn a_steady_periodic_series_stays_low() {
    let mut noise = Noise(3);
    // A daily cycle at one point every five minutes, for ten days.
    let values: Vec<f64> = (0..2880)
        .map(|i| {
            let phase = i as f64 / 288.0 * std::f64::consts::TAU;
            40.0 + 20.0 * phase.sin() + 0.5 * noise.next()
        })
        .collect();
    let scores = run(&values);
    let late = max_of(&scores[1000..]);
    assert!(late < 0.6, "periodic series reached {late}");
}

#[test]
fn scores_are_finite_and_in_the_unit_interval_whatever_the_input() {
    let mut noise = Noise(4);
    let mut values: Vec<f64> = (0..1500)
        .map(|i| noise.next() * 10f64.powi((i % 7) * 10 - 30))
        .collect();
    values[700] = f64::MAX;
    values[701] = -f64::MAX;
    values[702] = f64::MIN_POSITIVE;
    for s in run(&values) {
        assert!(s.is_finite() && (0.0..=1.0).contains(&s), "{s}");
    }
}

#[test]
fn a_constant_series_scores_low_and_a_change_in_it_scores_one() {
    let mut values = vec![7.0; 600];
    values.push(7.5);
    let scores = run(&values);
    let flat = max_of(&scores[..600]);
    assert!(flat < 0.1, "constant series reached {flat}");
    assert_eq!(scores[600], 1.0);
}

#[test]
fn nan_and_infinities_score_zero_and_leave_the_state_alone() {
    let mut noise = Noise(5);
    let values: Vec<f64> = (0..1200).map(|_| 10.0 + noise.next()).collect();
    let mut clean = Detector::new(Params::default());
    let mut poisoned = Detector::new(Params::default());
    for (i, v) in values.iter().enumerate() {
        let expected = clean.score(at(i), *v);
        if i % 100 == 50 {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                assert_eq!(poisoned.score(at(i), bad), 0.0);
            }
        }
        assert_eq!(poisoned.score(at(i), *v), expected, "point {i}");
    }
}

/// Five days of a two-level daily rhythm (busy 9:00–18:00, idle otherwise)
/// with noise; on day 6 the busy period does not come.
#[test]
fn a_missing_daily_peak_is_found_by_the_daily_profile() {
    let mut noise = Noise(7);
    let per_day = 288;
    let values: Vec<f64> = (0..7 * per_day)
        .map(|i| {
            let slot = i % per_day;
            let busy = (108..216).contains(&slot) && i / per_day != 5;
            (if busy { 80.0 } else { 20.0 }) + 2.0 * noise.next()
        })
        .collect();
    let scores = run(&values);
    let routine = max_of(&scores[3 * per_day + 120..5 * per_day]);
    let missing = max_of(&scores[5 * per_day + 108..5 * per_day + 216]);
    assert!(missing > 0.5, "the missing peak scored {missing}");
    assert!(
        missing > 2.0 * routine,
        "missing {missing} vs routine days {routine}"
    );
}
