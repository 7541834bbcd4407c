//! Which builds a machine takes, and how agent versions compare.

use crate::domain::DomainError;
use entities::enums::{Stored, UpdateChannel};

pub const PLATFORMS: [&str; 2] = ["windows", "linux"];
pub const ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];

/// Which builds a machine takes: its update channel, platform and
/// architecture.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub channel: UpdateChannel,
    pub platform: String,
    pub architecture: String,
}

impl Target {
    /// Checks each part against the known values, naming the bad field.
    pub fn new(channel: &str, platform: &str, architecture: &str) -> Result<Self, DomainError> {
        let pick = |field: &str, value: &str, allowed: &[&str]| {
            let v = value.trim().to_ascii_lowercase();
            if allowed.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(DomainError::invalid(
                    field,
                    format!("must be one of {}", allowed.join(", ")),
                ))
            }
        };
        let channel = UpdateChannel::from_stored(&channel.trim().to_ascii_lowercase()).ok_or_else(|| {
            DomainError::invalid(
                "channel",
                format!("must be one of {}", UpdateChannel::all_stored().join(", ")),
            )
        })?;
        Ok(Self {
            channel,
            platform: pick("platform", platform, &PLATFORMS)?,
            architecture: pick("architecture", architecture, &ARCHITECTURES)?,
        })
    }

    /// The target of a machine from what its agent reported; None for an
    /// OS or architecture we publish no builds for.
    pub fn of_machine(channel: UpdateChannel, os: &str, arch: Option<&str>) -> Option<Self> {
        let os = os.to_ascii_lowercase();
        let platform = if os.contains("windows") {
            "windows"
        } else if os.contains("linux") {
            "linux"
        } else {
            return None;
        };
        let architecture = match arch.unwrap_or("amd64").to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x64" => "amd64",
            "arm64" | "aarch64" => "arm64",
            _ => return None,
        };
        Self::new(&channel.stored(), platform, architecture).ok()
    }
}

/// A version string as agents report it ("1.2.3", "v1.2.3").
pub fn parse_version(v: &str) -> Option<semver::Version> {
    let v = v.trim();
    semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).ok()
}

/// True when `candidate` is strictly newer than what the agent runs. An
/// agent reporting an unparseable version (a developer build) is left alone.
pub fn is_newer(candidate: &str, running: &str) -> bool {
    match (parse_version(candidate), parse_version(running)) {
        (Some(c), Some(r)) => c > r,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_compares_semantic_versions() {
        assert!(is_newer("1.10.0", "1.9.3"));
        assert!(is_newer("v2.0.0", "1.99.99"));
        assert!(is_newer("1.0.0", "1.0.0-rc.1"));
        assert!(!is_newer("1.0.0", "1.0.0"));
        assert!(!is_newer("1.0.0", "dev-build"));
    }

    #[test]
    fn machine_targets_follow_the_reported_os_and_arch() {
        let t = Target::of_machine(UpdateChannel::Stable, "Windows 11 Pro", Some("x86_64")).unwrap();
        assert_eq!(
            (t.platform.as_str(), t.architecture.as_str()),
            ("windows", "amd64")
        );
        let t = Target::of_machine(UpdateChannel::Beta, "Ubuntu Linux", Some("aarch64")).unwrap();
        assert_eq!((t.platform.as_str(), t.architecture.as_str()), ("linux", "arm64"));
        assert!(Target::of_machine(UpdateChannel::Stable, "FreeBSD", None).is_none());
    }
}
