//! Container usage figures computed from a raw sample the way the docker
//! CLI computes `docker stats`, so the panel and the CLI agree.

use super::engine::RawStats;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerStats {
    pub read_at: Option<DateTime<Utc>>,
    pub cpu_percent: f64,
    pub online_cpus: u32,
    /// Usage less reclaimable page cache, as `docker stats` shows it.
    pub memory_usage_bytes: u64,
    pub memory_limit_bytes: u64,
    pub memory_percent: f64,
    pub network_rx_bytes: u64,
    pub network_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    pub pids: Option<u64>,
}

pub fn compute(raw: &RawStats) -> ContainerStats {
    let online_cpus = match raw.cpu.online_cpus {
        0 => raw.cpu.per_cpu_count,
        n => n,
    };
    // Counters only grow; a smaller value means the container restarted
    // between the samples, and there is no rate to give.
    let cpu_delta = raw.cpu.total_usage.saturating_sub(raw.precpu.total_usage);
    let system_delta = raw.cpu.system_usage.saturating_sub(raw.precpu.system_usage);
    // An empty previous sample (a one-shot read) would turn the lifetime
    // average into a "current" figure; better none.
    let has_previous = raw.precpu.system_usage > 0;
    let cpu_percent = if has_previous && cpu_delta > 0 && system_delta > 0 {
        cpu_delta as f64 / system_delta as f64 * f64::from(online_cpus) * 100.0
    } else {
        0.0
    };
    let memory_usage_bytes = match raw.memory_inactive_file {
        Some(cache) if cache < raw.memory_usage => raw.memory_usage - cache,
        _ => raw.memory_usage,
    };
    let memory_percent = if raw.memory_limit > 0 {
        memory_usage_bytes as f64 / raw.memory_limit as f64 * 100.0
    } else {
        0.0
    };
    ContainerStats {
        read_at: raw.read_at,
        cpu_percent,
        online_cpus,
        memory_usage_bytes,
        memory_limit_bytes: raw.memory_limit,
        memory_percent,
        network_rx_bytes: raw.network_rx_bytes,
        network_tx_bytes: raw.network_tx_bytes,
        block_read_bytes: raw.block_read_bytes,
        block_write_bytes: raw.block_write_bytes,
        pids: raw.pids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::docker::engine::CpuSample;

    #[test]
    fn cpu_is_the_share_of_system_time_times_the_cpus() {
        let raw = RawStats {
            cpu: CpuSample {
                total_usage: 1_400_000_000,
                system_usage: 20_000_000_000,
                online_cpus: 4,
                per_cpu_count: 0,
            },
            precpu: CpuSample {
                total_usage: 1_000_000_000,
                system_usage: 16_000_000_000,
                online_cpus: 4,
                per_cpu_count: 0,
            },
            memory_usage: 300 << 20,
            memory_limit: 1 << 30,
            memory_inactive_file: Some(44 << 20),
            ..RawStats::default()
        };
        let s = compute(&raw);
        // 0.4 s of CPU over 4 s of system time on 4 CPUs.
        assert!((s.cpu_percent - 40.0).abs() < 1e-9, "{}", s.cpu_percent);
        assert_eq!(s.memory_usage_bytes, 256 << 20);
        assert!((s.memory_percent - 25.0).abs() < 1e-9);
    }

    #[test]
    fn no_rate_without_a_previous_sample_or_after_a_restart() {
        let mut raw = RawStats {
            cpu: CpuSample {
                total_usage: 5,
                system_usage: 10,
                online_cpus: 0,
                per_cpu_count: 2,
            },
            ..RawStats::default()
        };
        assert_eq!(compute(&raw).cpu_percent, 0.0, "no previous sample");
        raw.precpu = CpuSample {
            total_usage: 9,
            system_usage: 5,
            ..raw.cpu
        };
        assert_eq!(compute(&raw).cpu_percent, 0.0);
        assert_eq!(compute(&raw).online_cpus, 2);
        assert_eq!(compute(&raw).memory_percent, 0.0, "no limit known");
    }
}
