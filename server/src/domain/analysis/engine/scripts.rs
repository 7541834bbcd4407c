//! Remediation scripts from our own vetted templates, PowerShell for
//! Windows and Bash otherwise. Templates are constants; the only values put
//! into them are ones that passed a strict pattern (a mount point, a
//! service name), single-quoted. Raw machine text is never interpolated:
//! a value that does not match gives no script. The server never runs them.

use super::super::findings::{RemediationScript, ScriptShell};
use entities::enums::Language;

/// What a template is filled with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    None,
    MountPoint(String),
    Service(String),
}

/// The template ids a recommendation may name.
pub const TEMPLATES: [&str; 6] = [
    "clean_disk",
    "top_memory_processes",
    "top_cpu_processes",
    "restart_service",
    "pending_reboot",
    "disk_io_diagnostics",
];

/// The template that answers an issue code.
pub fn template_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "disk_full" | "disk_filling" => "clean_disk",
        "ram_high" | "ram_degrading" | "ram_drift" | "ram_anomaly" | "ram_capacity" => "top_memory_processes",
        "cpu_high" | "cpu_degrading" | "cpu_drift" | "cpu_anomaly" => "top_cpu_processes",
        "service_failed" => "restart_service",
        "reboot_required" => "pending_reboot",
        "disk_latency_spikes"
        | "io_wait_spikes"
        | "disk_latency_anomaly"
        | "io_wait_anomaly"
        | "disk_latency_drift" => "disk_io_diagnostics",
        _ => return None,
    })
}

/// `C:`, `C:\` or an absolute Unix path of plain characters.
pub fn valid_mount(shell: ScriptShell, mount: &str) -> bool {
    match shell {
        ScriptShell::PowerShell => {
            let b = mount.as_bytes();
            (b.len() == 2 || (b.len() == 3 && b[2] == b'\\')) && b[0].is_ascii_alphabetic() && b[1] == b':'
        }
        ScriptShell::Bash => {
            mount.starts_with('/')
                && mount.len() <= 200
                && !mount.contains("..")
                && mount
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
        }
    }
}

/// Letters, digits and `_ . @ -`, at most 100, not starting with `-`.
pub fn valid_service(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
}

const BASH_CLEAN: &str = r#"#!/usr/bin/env bash
# Frees space on {MOUNT}: old temporary files, the systemd journal beyond
# 7 days, package caches. Shows the largest folders afterwards.
set -euo pipefail
MOUNT='{MOUNT}'
df -h -- "$MOUNT"
find /tmp /var/tmp -xdev -type f -atime +7 -delete 2>/dev/null || true
if command -v journalctl >/dev/null; then journalctl --vacuum-time=7d; fi
if command -v apt-get >/dev/null; then apt-get clean; fi
if command -v dnf >/dev/null; then dnf clean all; fi
if command -v yum >/dev/null; then yum clean all; fi
df -h -- "$MOUNT"
du -xh --max-depth=2 -- "$MOUNT" 2>/dev/null | sort -rh | head -20
"#;

const PS_CLEAN: &str = r#"# Frees space on {MOUNT}: temporary files older than 7 days and the
# recycle bin. Shows the largest folders afterwards.
$ErrorActionPreference = 'Continue'
$Drive = '{MOUNT}'.Substring(0, 1)
Get-PSDrive -Name $Drive | Select-Object Name, Used, Free
$limit = (Get-Date).AddDays(-7)
foreach ($dir in @($env:TEMP, "$env:SystemRoot\Temp")) {
    Get-ChildItem -Path $dir -Recurse -Force -File -ErrorAction SilentlyContinue |
        Where-Object { $_.LastWriteTime -lt $limit } |
        Remove-Item -Force -ErrorAction SilentlyContinue
}
Clear-RecycleBin -DriveLetter $Drive -Force -ErrorAction SilentlyContinue
Get-PSDrive -Name $Drive | Select-Object Name, Used, Free
Get-ChildItem -Path ($Drive + ':\') -Directory -Force -ErrorAction SilentlyContinue |
    ForEach-Object { [pscustomobject]@{ Path = $_.FullName; GB = [math]::Round(((Get-ChildItem $_.FullName -Recurse -Force -File -ErrorAction SilentlyContinue | Measure-Object Length -Sum).Sum / 1GB), 2) } } |
    Sort-Object GB -Descending | Select-Object -First 20
"#;

const BASH_TOP_MEMORY: &str = "#!/usr/bin/env bash\n# Lists the processes using the most memory (read only).\nfree -h\nps -eo pid,user,rss,%mem,etime,comm --sort=-rss | head -20\n";
const PS_TOP_MEMORY: &str = "# Lists the processes using the most memory (read only).\nGet-Process | Sort-Object WorkingSet64 -Descending | Select-Object -First 20 Id, ProcessName, @{n='MB';e={[math]::Round($_.WorkingSet64 / 1MB)}}, StartTime\n";
const BASH_TOP_CPU: &str = "#!/usr/bin/env bash\n# Lists the processes using the most CPU (read only).\nuptime\nps -eo pid,user,%cpu,%mem,etime,comm --sort=-%cpu | head -20\n";
const PS_TOP_CPU: &str = "# Lists the processes using the most CPU (read only).\nGet-Process | Sort-Object CPU -Descending | Select-Object -First 20 Id, ProcessName, CPU, StartTime\n";
const BASH_RESTART: &str = "#!/usr/bin/env bash\n# Shows why the service stopped, restarts it and checks it stays up.\nset -euo pipefail\nSERVICE='{SERVICE}'\njournalctl -u \"$SERVICE\" -n 50 --no-pager || true\nsystemctl restart -- \"$SERVICE\"\nsleep 5\nsystemctl status --no-pager -- \"$SERVICE\"\n";
const PS_RESTART: &str = "# Shows the service's recent errors, restarts it and checks it stays up.\n$Name = '{SERVICE}'\nGet-WinEvent -FilterHashtable @{LogName='System'; ProviderName='Service Control Manager'; StartTime=(Get-Date).AddDays(-1)} -MaxEvents 20 -ErrorAction SilentlyContinue\nRestart-Service -Name $Name -Force\nStart-Sleep -Seconds 5\nGet-Service -Name $Name\n";
const BASH_REBOOT: &str = "#!/usr/bin/env bash\n# Says whether a reboot is pending, and schedules one in 10 minutes.\nif [ -f /var/run/reboot-required ]; then cat /var/run/reboot-required.pkgs 2>/dev/null; fi\nif command -v needs-restarting >/dev/null; then needs-restarting -r || true; fi\nshutdown -r +10 'Reboot scheduled to finish installing updates'\n";
const PS_REBOOT: &str = "# Says whether a reboot is pending, and schedules one in 10 minutes.\n$pending = (Test-Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired') -or (Test-Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending')\n\"Reboot pending: $pending\"\nif ($pending) { shutdown.exe /r /t 600 /c 'Reboot scheduled to finish installing updates' }\n";
const BASH_IO: &str = "#!/usr/bin/env bash\n# Samples disk latency and the processes doing IO for one minute (read only).\nif command -v iostat >/dev/null; then iostat -dx 5 12; else cat /proc/diskstats; fi\nif command -v iotop >/dev/null; then iotop -b -o -n 6 -d 10; fi\nvmstat 5 12\n";
const PS_IO: &str = "# Samples disk latency and IO wait for one minute (read only).\nGet-Counter -Counter '\\PhysicalDisk(*)\\Avg. Disk sec/Transfer', '\\PhysicalDisk(*)\\Current Disk Queue Length' -SampleInterval 5 -MaxSamples 12\nGet-Process | Sort-Object IOReadBytes -Descending -ErrorAction SilentlyContinue | Select-Object -First 10 Id, ProcessName\n";

fn warnings(lang: Language, id: &str) -> Vec<String> {
    let common = match lang {
        Language::Fr => "Relire le script avant de l'exécuter, avec les droits administrateur, de préférence dans une fenêtre de maintenance. Le serveur ne l'exécute jamais.",
        Language::En => "Review the script before running it, as an administrator, preferably in a maintenance window. The server never runs it.",
    };
    let specific = match (id, lang) {
        ("clean_disk", Language::Fr) => {
            Some("Supprime définitivement des fichiers temporaires et les journaux de plus de 7 jours.")
        }
        ("clean_disk", Language::En) => {
            Some("Permanently deletes temporary files and logs older than 7 days.")
        }
        ("restart_service", Language::Fr) => Some("Le service est indisponible pendant son redémarrage."),
        ("restart_service", Language::En) => Some("The service is unavailable while it restarts."),
        ("pending_reboot", Language::Fr) => {
            Some("Redémarre la machine dans 10 minutes : prévenir les utilisateurs.")
        }
        ("pending_reboot", Language::En) => Some("Reboots the machine in 10 minutes: warn its users."),
        _ => None,
    };
    std::iter::once(common)
        .chain(specific)
        .map(str::to_owned)
        .collect()
}

/// The script of template `id` for `shell`, filled with `param`; `None`
/// when the template needs a value that is missing or fails its pattern.
pub fn render(id: &str, shell: ScriptShell, param: &Param, lang: Language) -> Option<RemediationScript> {
    let ps = shell == ScriptShell::PowerShell;
    let (template, title) = match id {
        "clean_disk" => (
            if ps { PS_CLEAN } else { BASH_CLEAN },
            ("Nettoyer le disque", "Clean the disk"),
        ),
        "top_memory_processes" => (
            if ps { PS_TOP_MEMORY } else { BASH_TOP_MEMORY },
            ("Processus les plus gourmands en mémoire", "Top memory processes"),
        ),
        "top_cpu_processes" => (
            if ps { PS_TOP_CPU } else { BASH_TOP_CPU },
            ("Processus les plus gourmands en CPU", "Top CPU processes"),
        ),
        "restart_service" => (
            if ps { PS_RESTART } else { BASH_RESTART },
            ("Redémarrer le service", "Restart the service"),
        ),
        "pending_reboot" => (
            if ps { PS_REBOOT } else { BASH_REBOOT },
            ("Redémarrage en attente", "Pending reboot"),
        ),
        "disk_io_diagnostics" => (
            if ps { PS_IO } else { BASH_IO },
            ("Diagnostic des E/S disque", "Disk IO diagnostics"),
        ),
        _ => return None,
    };
    let body = if template.contains("{MOUNT}") {
        match param {
            Param::MountPoint(m) if valid_mount(shell, m) => template.replace("{MOUNT}", m),
            _ => return None,
        }
    } else if template.contains("{SERVICE}") {
        match param {
            Param::Service(s) if valid_service(s) => template.replace("{SERVICE}", s),
            _ => return None,
        }
    } else {
        template.to_owned()
    };
    Some(RemediationScript {
        id: id.to_owned(),
        title: match lang {
            Language::Fr => title.0,
            Language::En => title.1,
        }
        .to_owned(),
        shell,
        body,
        warnings: warnings(lang, id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_before_they_reach_a_template() {
        let clean = render(
            "clean_disk",
            ScriptShell::Bash,
            &Param::MountPoint("/var".into()),
            Language::En,
        )
        .unwrap();
        assert!(clean.body.contains("MOUNT='/var'"));
        assert!(clean.warnings.len() == 2);
        for evil in ["/var'; rm -rf / #", "/a/../etc", "var", "/$(reboot)", "/a b"] {
            assert!(!valid_mount(ScriptShell::Bash, evil), "{evil}");
            assert_eq!(
                render(
                    "clean_disk",
                    ScriptShell::Bash,
                    &Param::MountPoint(evil.into()),
                    Language::En
                ),
                None
            );
        }
        assert!(valid_mount(ScriptShell::PowerShell, "C:\\"));
        assert!(!valid_mount(ScriptShell::PowerShell, "C:\\Users"));
        let restart = render(
            "restart_service",
            ScriptShell::PowerShell,
            &Param::Service("Spooler".into()),
            Language::Fr,
        )
        .unwrap();
        assert!(restart.body.contains("$Name = 'Spooler'"));
        for evil in ["nginx'; reboot", "-h", "a b", ""] {
            assert!(!valid_service(evil), "{evil}");
        }
        assert!(valid_service("getty@tty1.service"));
        assert_eq!(
            render("restart_service", ScriptShell::Bash, &Param::None, Language::En),
            None
        );
    }

    #[test]
    fn every_template_renders_on_both_shells() {
        for id in TEMPLATES {
            for shell in [ScriptShell::Bash, ScriptShell::PowerShell] {
                let param = match id {
                    "clean_disk" if shell == ScriptShell::Bash => Param::MountPoint("/".into()),
                    "clean_disk" => Param::MountPoint("D:".into()),
                    "restart_service" => Param::Service("sshd".into()),
                    _ => Param::None,
                };
                let s = render(id, shell, &param, Language::En).unwrap();
                assert!(!s.body.contains('{') || !s.body.contains("{MOUNT}"), "{id}");
                assert!(!s.body.contains("{SERVICE}"));
                assert!(!s.warnings.is_empty());
            }
        }
    }
}
