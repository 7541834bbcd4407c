//! A sliding window of the last `capacity` values, kept both in arrival
//! order (to know which value leaves) and sorted (for order statistics).
//! Both buffers are allocated once; a push moves at most `capacity` floats.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct SortedWindow {
    capacity: usize,
    arrival: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl SortedWindow {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            arrival: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Only finite values: a NaN would break the ordering.
    pub fn push(&mut self, value: f64) {
        debug_assert!(value.is_finite());
        if self.arrival.len() == self.capacity {
            if let Some(old) = self.arrival.pop_front() {
                let at = self.sorted.partition_point(|v| *v < old);
                self.sorted.remove(at);
            }
        }
        self.arrival.push_back(value);
        let at = self.sorted.partition_point(|v| *v < value);
        self.sorted.insert(at, value);
    }

    /// Median and median absolute deviation, `None` when empty.
    pub fn median_mad(&self) -> Option<(f64, f64)> {
        let a = &self.sorted;
        let n = a.len();
        if n == 0 {
            return None;
        }
        let median = if n % 2 == 1 {
            a[n / 2]
        } else {
            0.5 * (a[n / 2 - 1] + a[n / 2])
        };
        // Deviations below and above the median are each already sorted
        // (walking outwards), so the middle one is found by merging the
        // two runs: O(n) and no scratch buffer.
        let split = a.partition_point(|v| *v < median);
        let (mut left, mut right) = (split, split);
        let mut deviation = 0.0;
        for _ in 0..=n / 2 {
            let below = (left > 0).then(|| median - a[left - 1]);
            let above = (right < n).then(|| a[right] - median);
            deviation = match (below, above) {
                (Some(b), Some(u)) if b <= u => {
                    left -= 1;
                    b
                }
                (_, Some(u)) => {
                    right += 1;
                    u
                }
                (Some(b), None) => {
                    left -= 1;
                    b
                }
                (None, None) => break,
            };
        }
        Some((median, deviation))
    }

    /// The value at quantile `q` in [0, 1] (nearest rank).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.sorted.len();
        (n > 0).then(|| self.sorted[((n - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(values: &[f64]) -> (f64, f64) {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let med = if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        let mut d: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
        d.sort_by(f64::total_cmp);
        (med, d[n / 2])
    }

    #[test]
    fn median_and_mad_match_a_full_sort_as_the_window_slides() {
        let mut w = SortedWindow::new(7);
        let mut all = Vec::new();
        let mut x = 17u64;
        for _ in 0..60 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = ((x >> 33) % 50) as f64 - 20.0;
            w.push(v);
            all.push(v);
            let tail = &all[all.len().saturating_sub(7)..];
            assert_eq!(w.median_mad(), Some(brute(tail)), "{tail:?}");
        }
    }
}
