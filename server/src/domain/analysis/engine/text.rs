//! The engine's own words, in French and English: small match tables, so
//! every finding reads the same whoever narrates it. Machine-supplied text
//! (event sources, mount points) only ever appears quoted.

use entities::enums::Language;

fn fr_en<'a>(lang: Language, fr: &'a str, en: &'a str) -> &'a str {
    match lang {
        Language::Fr => fr,
        Language::En => en,
    }
}

/// A metric's name for people.
pub fn metric_name(lang: Language, metric: &str) -> String {
    let (fr, en) = match metric {
        "cpu_percent" => ("CPU", "CPU"),
        "ram_percent" => ("mémoire", "memory"),
        "disk_latency_ms" => ("latence disque", "disk latency"),
        "io_wait_percent" => ("attente E/S", "IO wait"),
        other => match other.strip_prefix("disk_percent:") {
            Some(mount) => {
                return match lang {
                    Language::Fr => format!("disque « {mount} »"),
                    Language::En => format!("disk “{mount}”"),
                }
            }
            None => (other, other),
        },
    };
    fr_en(lang, fr, en).to_owned()
}

/// The title of an issue code.
pub fn issue_title(lang: Language, code: &str) -> &'static str {
    match code {
        "cpu_high" => fr_en(lang, "Utilisation CPU élevée", "High CPU usage"),
        "ram_high" => fr_en(lang, "Utilisation mémoire élevée", "High memory usage"),
        "disk_full" => fr_en(lang, "Espace disque faible", "Low disk space"),
        "disk_filling" => fr_en(lang, "Disque en cours de remplissage", "Disk filling up"),
        "smart_failing" => fr_en(
            lang,
            "Disque en défaillance (S.M.A.R.T.)",
            "Failing disk (S.M.A.R.T.)",
        ),
        "smart_warning" => fr_en(
            lang,
            "Alerte S.M.A.R.T. sur un disque",
            "S.M.A.R.T. warning on a disk",
        ),
        "security_risks" => fr_en(lang, "Risques de sécurité", "Security risks"),
        "os_outdated" => fr_en(
            lang,
            "Système d'exploitation non conforme",
            "Operating system below requirements",
        ),
        "reboot_required" => fr_en(lang, "Redémarrage en attente", "Reboot pending"),
        "service_failed" => fr_en(lang, "Service en échec", "Failed service"),
        "critical_events" => fr_en(lang, "Événements critiques récents", "Recent critical events"),
        "active_alerts" => fr_en(lang, "Alertes en cours", "Active alerts"),
        "cpu_anomaly" => fr_en(lang, "Anomalie CPU", "CPU anomaly"),
        "ram_anomaly" => fr_en(lang, "Anomalie mémoire", "Memory anomaly"),
        "disk_latency_anomaly" => fr_en(lang, "Anomalie de latence disque", "Disk latency anomaly"),
        "io_wait_anomaly" => fr_en(lang, "Anomalie d'attente E/S", "IO wait anomaly"),
        "cpu_degrading" => fr_en(lang, "Charge CPU en hausse continue", "CPU load rising steadily"),
        "ram_degrading" => fr_en(
            lang,
            "Mémoire en hausse continue (fuite possible)",
            "Memory rising steadily (possible leak)",
        ),
        "disk_latency_spikes" => fr_en(lang, "Pics de latence disque", "Disk latency spikes"),
        "io_wait_spikes" => fr_en(lang, "Pics d'attente E/S", "IO wait spikes"),
        "event_correlated_spike" => fr_en(
            lang,
            "Pic lié à un événement système",
            "Spike linked to a system event",
        ),
        "cpu_drift" => fr_en(lang, "Dérive de la charge CPU", "CPU load drift"),
        "ram_drift" => fr_en(lang, "Dérive de la mémoire", "Memory drift"),
        "disk_latency_drift" => fr_en(lang, "Dérive de la latence disque", "Disk latency drift"),
        "ram_capacity" => fr_en(lang, "Mémoire bientôt saturée", "Memory running out"),
        "recurring_errors" => fr_en(lang, "Erreurs récurrentes", "Recurring errors"),
        _ => fr_en(lang, "Problème détecté", "Problem found"),
    }
}

/// What to do about an issue code: (title, detail).
pub fn advice(lang: Language, code: &str) -> (&'static str, &'static str) {
    let pair = |fr: (&'static str, &'static str), en: (&'static str, &'static str)| match lang {
        Language::Fr => fr,
        Language::En => en,
    };
    match code {
        "disk_full" | "disk_filling" => pair(
            ("Libérer de l'espace disque", "Nettoyer les fichiers temporaires, journaux et caches de paquets, puis identifier les plus gros dossiers ; prévoir une extension du volume si la croissance continue."),
            ("Free disk space", "Clean temporary files, logs and package caches, then find the largest folders; plan to extend the volume if the growth goes on."),
        ),
        "ram_high" | "ram_degrading" | "ram_drift" | "ram_anomaly" | "ram_capacity" => pair(
            ("Identifier les processus gourmands en mémoire", "Lister les processus par mémoire utilisée ; une hausse continue suggère une fuite : redémarrer le service en cause ou ajouter de la RAM."),
            ("Find the memory-hungry processes", "List processes by memory used; a steady rise suggests a leak: restart the service at fault or add RAM."),
        ),
        "cpu_high" | "cpu_degrading" | "cpu_drift" | "cpu_anomaly" => pair(
            ("Identifier les processus gourmands en CPU", "Lister les processus par CPU consommé et vérifier les tâches planifiées aux heures des pics."),
            ("Find the CPU-hungry processes", "List processes by CPU used and check the scheduled tasks at the times of the peaks."),
        ),
        "service_failed" => pair(
            ("Redémarrer le service en échec", "Consulter le journal du service avant de le redémarrer ; un échec répété demande une analyse de la cause."),
            ("Restart the failed service", "Read the service's log before restarting it; repeated failures need their cause found."),
        ),
        "reboot_required" => pair(
            ("Planifier le redémarrage", "Des mises à jour attendent un redémarrage : le planifier dans une fenêtre de maintenance."),
            ("Schedule the reboot", "Updates wait for a reboot: schedule it in a maintenance window."),
        ),
        "smart_failing" | "smart_warning" => pair(
            ("Sauvegarder et remplacer le disque", "Vérifier les sauvegardes immédiatement et planifier le remplacement du disque signalé."),
            ("Back up and replace the disk", "Check the backups now and plan to replace the reported disk."),
        ),
        "disk_latency_spikes" | "io_wait_spikes" | "disk_latency_anomaly" | "io_wait_anomaly" | "disk_latency_drift" => pair(
            ("Diagnostiquer les entrées/sorties disque", "Relever les processus qui sollicitent le disque aux heures des pics ; des pics réguliers désignent souvent une sauvegarde ou une analyse planifiée."),
            ("Diagnose disk IO", "Find the processes using the disk at the times of the spikes; regular spikes often point to a scheduled backup or scan."),
        ),
        "security_risks" | "os_outdated" => pair(
            ("Corriger les risques de sécurité", "Activer pare-feu et antivirus, appliquer les mises à jour de sécurité et mettre le système au niveau requis."),
            ("Fix the security risks", "Turn on the firewall and antivirus, apply the security updates and bring the system to the required level."),
        ),
        "recurring_errors" | "critical_events" | "event_correlated_spike" => pair(
            ("Traiter les erreurs récurrentes", "Examiner la source la plus fréquente dans les journaux : elle précède souvent les pics observés."),
            ("Deal with the recurring errors", "Look into the most frequent source in the logs: it often precedes the spikes seen."),
        ),
        _ => pair(
            ("Examiner la machine", "Vérifier l'état de la machine et les alertes en cours."),
            ("Look into the machine", "Check the machine's state and its active alerts."),
        ),
    }
}

pub fn disk_advice(
    lang: Language,
    used_percent: f64,
    days_until_critical: Option<f64>,
    gb_per_month: f64,
) -> String {
    match (lang, days_until_critical) {
        (Language::Fr, _) if used_percent >= 90.0 => {
            "Critique : libérer de l'espace maintenant (fichiers temporaires, journaux) ou étendre le volume".into()
        }
        (Language::En, _) if used_percent >= 90.0 => {
            "Critical: free space now (temporary files, logs) or extend the volume".into()
        }
        (Language::Fr, Some(d)) if d <= 90.0 => format!(
            "Seuil de 90 % atteint dans {d:.0} jours environ : ajouter {:.0} Go (six mois de croissance) ou nettoyer les fichiers temporaires",
            (gb_per_month * 6.0).max(10.0)
        ),
        (Language::En, Some(d)) if d <= 90.0 => format!(
            "90 % reached in about {d:.0} days: add {:.0} GB (six months of growth) or clean temporary files",
            (gb_per_month * 6.0).max(10.0)
        ),
        (Language::Fr, _) => "Aucune action nécessaire : croissance maîtrisée".into(),
        (Language::En, _) => "No action needed: growth under control".into(),
    }
}

pub fn ram_advice(lang: Language, avg: f64, slope_per_day: f64) -> &'static str {
    if avg >= 90.0 {
        fr_en(
            lang,
            "Ajouter de la mémoire : saturation atteinte",
            "Add memory: it is saturated",
        )
    } else if avg >= 80.0 || slope_per_day * 30.0 >= 5.0 {
        fr_en(
            lang,
            "Surveiller - proche du seuil critique",
            "Watch it - close to the critical threshold",
        )
    } else {
        fr_en(lang, "Aucune action nécessaire", "No action needed")
    }
}

pub fn root_cause(lang: Language, source: &str, event_id: i64, metric: &str, secs_before: i64) -> String {
    let metric = metric_name(lang, metric);
    match lang {
        Language::Fr => format!(
            "L'événement « {source} » ({event_id}) survenu {secs_before} s avant a probablement causé le pic de {metric}"
        ),
        Language::En => format!(
            "The “{source}” event ({event_id}) {secs_before} s before probably caused the {metric} spike"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_title_in_both_languages() {
        for code in super::super::advice::CODES {
            let fr = issue_title(Language::Fr, code);
            let en = issue_title(Language::En, code);
            assert_ne!(fr, "Problème détecté", "{code}");
            assert_ne!(en, "Problem found", "{code}");
            assert!(!advice(Language::Fr, code).0.is_empty());
        }
        assert_eq!(metric_name(Language::Fr, "disk_percent:/var"), "disque « /var »");
    }
}
