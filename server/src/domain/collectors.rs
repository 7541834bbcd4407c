//! The eight collectors an agent runs, with the interval bounds the spec
//! sets for each (seconds).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collector {
    Metrics,
    Storage,
    StorageHealth,
    Network,
    Services,
    Security,
    Software,
    Patches,
}

/// Interval bounds: minimum, maximum, default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub min: i32,
    pub max: i32,
    pub default: i32,
}

impl Collector {
    pub const ALL: [Collector; 8] = [
        Self::Metrics,
        Self::Storage,
        Self::StorageHealth,
        Self::Network,
        Self::Services,
        Self::Security,
        Self::Software,
        Self::Patches,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Storage => "storage",
            Self::StorageHealth => "storage_health",
            Self::Network => "network",
            Self::Services => "services",
            Self::Security => "security",
            Self::Software => "software",
            Self::Patches => "patches",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn bounds(self) -> Bounds {
        let (min, max, default) = match self {
            Self::Metrics => (5, 300, 10),
            Self::Storage => (60, 3600, 300),
            Self::StorageHealth => (1800, 86400, 7200),
            Self::Network => (10, 600, 30),
            Self::Services => (30, 1800, 120),
            Self::Security => (300, 86400, 900),
            Self::Software => (3600, 86400, 14400),
            Self::Patches => (3600, 86400, 21600),
        };
        Bounds { min, max, default }
    }

    /// `seconds` brought within this collector's bounds.
    pub fn clamp(self, seconds: i64) -> i32 {
        let b = self.bounds();
        seconds.clamp(i64::from(b.min), i64::from(b.max)) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_defaults_sit_within_bounds() {
        for c in Collector::ALL {
            assert_eq!(Collector::parse(c.name()), Some(c));
            let b = c.bounds();
            assert!(b.min <= b.default && b.default <= b.max, "{c:?}");
        }
        assert_eq!(Collector::parse("inventory"), None);
        assert_eq!(Collector::Metrics.clamp(1), 5);
        assert_eq!(Collector::Metrics.clamp(100_000), 300);
    }
}
