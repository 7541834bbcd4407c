//! Cost of scoring one point with the live anomaly detector, as a ratio
//! against the cheapest streaming detector there is (a running mean and
//! variance, the "windowed Gaussian" of NAB's scoreboard) over the same
//! points in the same run.
//!
//! Run: cargo bench -p optralis --bench detector

use chrono::{DateTime, Duration, TimeZone, Utc};
use optralis::domain::analysis::detector::{Detector, Params};
use std::{hint::black_box, time::Instant};

const POINTS: usize = 500_000;

fn series() -> Vec<(DateTime<Utc>, f64)> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..POINTS)
        .map(|i| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 4.0;
            let daily = 10.0 * ((i % 288) as f64 / 288.0 * std::f64::consts::TAU).sin();
            let spike = if i % 5_000 == 4_999 { 40.0 } else { 0.0 };
            (
                start + Duration::minutes(5 * i as i64),
                50.0 + daily + noise + spike,
            )
        })
        .collect()
}

fn main() {
    let points = series();

    let started = Instant::now();
    let (mut n, mut mean, mut m2, mut sum) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    for (_, v) in &points {
        n += 1.0;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
        let sd = (m2 / n).sqrt().max(1e-9);
        sum += ((v - mean).abs() / sd).min(10.0) / 10.0;
    }
    black_box(sum);
    let gaussian = started.elapsed().as_secs_f64() / POINTS as f64;

    let started = Instant::now();
    let mut detector = Detector::new(Params::default());
    let mut sum = 0.0;
    for (at, v) in &points {
        sum += detector.score(*at, *v);
    }
    black_box(sum);
    let ours = started.elapsed().as_secs_f64() / POINTS as f64;

    println!("detector cost per point over {POINTS} points");
    println!("  running Gaussian (baseline): {:.3} µs", gaussian * 1e6);
    println!(
        "  Optralis detector:           {:.3} µs = {:.0}x baseline",
        ours * 1e6,
        ours / gaussian
    );
}
