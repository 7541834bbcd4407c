//! Checks Claude's answer before it is used: the JSON shape, the lengths,
//! one explanation per issue, and that every number it presents as a
//! percentage or a score is one the findings hold. A reply failing any
//! check is discarded whole: our numbers win.

use crate::domain::analysis::Findings;
use serde::Deserialize;

pub const MAX_SUMMARY_CHARS: usize = 2_000;
pub const MAX_EXPLANATION_CHARS: usize = 1_000;

/// Unknown fields are ignored rather than refused: they are dropped, never
/// shown, so refusing them would only throw a good narrative away.
#[derive(Debug, Deserialize)]
pub struct Reply {
    pub summary: String,
    pub explanations: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Invalid {
    #[error("the reply is not the JSON object asked for: {0}")]
    NotJson(String),
    #[error("the summary is empty or longer than {MAX_SUMMARY_CHARS} characters")]
    Summary,
    #[error("{got} explanation(s) for {expected} issue(s)")]
    ExplanationCount { got: usize, expected: usize },
    #[error("explanation {0} is empty or longer than {MAX_EXPLANATION_CHARS} characters")]
    Explanation(usize),
    #[error("the reply states {0} where the findings hold no such number")]
    ChangedNumber(String),
}

pub fn parse_and_check(text: &str, findings: &Findings) -> Result<Reply, Invalid> {
    let reply: Reply =
        serde_json::from_str(strip_fence(text)).map_err(|e| Invalid::NotJson(e.to_string()))?;
    let summary_len = reply.summary.trim().chars().count();
    if summary_len == 0 || summary_len > MAX_SUMMARY_CHARS {
        return Err(Invalid::Summary);
    }
    if reply.explanations.len() != findings.issues.len() {
        return Err(Invalid::ExplanationCount {
            got: reply.explanations.len(),
            expected: findings.issues.len(),
        });
    }
    for (i, e) in reply.explanations.iter().enumerate() {
        let len = e.trim().chars().count();
        if len == 0 || len > MAX_EXPLANATION_CHARS {
            return Err(Invalid::Explanation(i));
        }
    }
    let known = known_numbers(findings);
    for text in std::iter::once(&reply.summary).chain(&reply.explanations) {
        for n in numbers(text).into_iter().filter(|n| n.stated) {
            if !known.iter().any(|k| n.matches(*k)) {
                return Err(Invalid::ChangedNumber(n.text));
            }
        }
    }
    Ok(reply)
}

/// Models sometimes wrap JSON in a Markdown fence despite the prompt; the
/// content is what counts.
fn strip_fence(text: &str) -> &str {
    let text = text.trim();
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Every number the findings hold, in their numeric fields and in their
/// text (titles, descriptions), with each fraction also as a percentage
/// (a confidence of 0.85 reads "85 %"). 0 and 100 are the scale's ends.
pub fn known_numbers(findings: &Findings) -> Vec<f64> {
    fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Number(n) => out.extend(n.as_f64()),
            serde_json::Value::String(s) => out.extend(numbers(s).into_iter().map(|n| n.value)),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = vec![0.0, 100.0];
    walk(
        &serde_json::to_value(findings).expect("findings serialize"),
        &mut out,
    );
    let fractions: Vec<f64> = out.iter().filter(|v| v.abs() <= 1.0).map(|v| v * 100.0).collect();
    out.extend(fractions);
    out.iter_mut().for_each(|v| *v = v.abs());
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    pub text: String,
    pub value: f64,
    pub decimals: i32,
    /// Presented as a percentage (`%`, `/100`, `percent`, `pour cent`) or a
    /// score (right after the word).
    pub stated: bool,
}

impl Number {
    /// Equal at the precision written: 87 % stands for 86.6 or 87.4, not
    /// for 85.
    fn matches(&self, known: f64) -> bool {
        (self.value.abs() - known).abs() < 10f64.powi(-self.decimals) - 1e-9
    }
}

/// The numbers in a text, French (`87,5`) or English (`87.5`, `1,000`).
pub fn numbers(text: &str) -> Vec<Number> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        let mut int = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            int.push(chars[i]);
            i += 1;
        }
        let mut frac = String::new();
        // A separator followed by digits: decimal, unless it is an English
        // thousands comma (exactly three digits after it).
        if i + 1 < chars.len() && matches!(chars[i], '.' | ',') && chars[i + 1].is_ascii_digit() {
            let sep = chars[i];
            let mut j = i + 1;
            let mut digits = String::new();
            while j < chars.len() && chars[j].is_ascii_digit() {
                digits.push(chars[j]);
                j += 1;
            }
            if sep == ',' && digits.len() == 3 && (j >= chars.len() || !chars[j].is_ascii_digit()) {
                int.push_str(&digits);
            } else {
                frac = digits;
            }
            i = j;
        }
        if i < chars.len() && chars[i].is_alphabetic() {
            // `2nd`, `x86_64`, `5min`: not a quantity we check.
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            continue;
        }
        let literal: String = chars[start..i].iter().collect();
        let value: f64 = format!("{int}.{}", if frac.is_empty() { "0" } else { &frac })
            .parse()
            .unwrap_or(0.0);
        let after: String = chars[i..]
            .iter()
            .skip_while(|c| c.is_whitespace())
            .take(10)
            .collect::<String>()
            .to_lowercase();
        let before: String = chars[start.saturating_sub(24)..start].iter().collect();
        let stated = after.starts_with('%')
            || after.starts_with("/100")
            || after.starts_with("percent")
            || after.starts_with("pour cent")
            || after.starts_with("pourcent")
            || after_score(&before);
        out.push(Number {
            text: literal,
            value,
            decimals: frac.len() as i32,
            stated,
        });
    }
    out
}

/// Whether the text before a number ends with "score" (or "santé"),
/// allowing a `:`/`=` and one small word ("score of 72", "score de 72").
fn after_score(before: &str) -> bool {
    let mut rest = before
        .to_lowercase()
        .trim_end()
        .trim_end_matches([':', '='])
        .trim_end()
        .to_owned();
    for word in [" of", " de", " is", " est", " at", " à", " was", " was at"] {
        if let Some(stripped) = rest.strip_suffix(word) {
            rest = stripped
                .trim_end()
                .trim_end_matches([':', '='])
                .trim_end()
                .to_owned();
            break;
        }
    }
    rest.ends_with("score") || rest.ends_with("santé") || rest.ends_with("health")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stated(text: &str) -> Vec<(String, f64)> {
        numbers(text)
            .into_iter()
            .filter(|n| n.stated)
            .map(|n| (n.text, n.value))
            .collect()
    }

    #[test]
    fn percentages_and_scores_are_found_in_both_languages() {
        assert_eq!(
            stated("CPU à 87,5\u{a0}% et RAM 40 %, score de santé : 72/100, 3 alertes le 12 mars"),
            vec![("87,5".into(), 87.5), ("40".into(), 40.0), ("72".into(), 72.0)]
        );
        assert_eq!(
            stated("health score of 72, z-score 4.8, 1,250 events, 12 percent, on 3 May"),
            vec![("72".into(), 72.0), ("4.8".into(), 4.8), ("12".into(), 12.0)]
        );
        assert!(stated("p95 of sda1, 2nd spike, x86_64").is_empty());
    }

    #[test]
    fn a_rounded_number_matches_and_another_does_not() {
        let n = &numbers("87 %")[0];
        assert!(n.matches(87.4) && n.matches(86.6));
        assert!(!n.matches(85.0) && !n.matches(88.0));
        let n = &numbers("87.5%")[0];
        assert!(n.matches(87.46) && !n.matches(87.3));
    }
}
