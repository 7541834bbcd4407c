//! `optralis detect`: replays a `timestamp,value` CSV through the anomaly
//! detector in file order, exactly as it would score the samples live, and
//! writes `timestamp,value,anomaly_score` (the Numenta Anomaly Benchmark's
//! results format).

use crate::domain::analysis::detector::{Detector, Params};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::io::{BufRead, Write};

/// Why a replay stopped, worded for the command line.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("{path}: the first line must be the header `timestamp,value`, found `{found}`")]
    Header { path: String, found: String },
    #[error("{path} line {line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
    #[error("cannot write the results: {0}")]
    Write(std::io::Error),
}

/// Reads `input` (named `path` in messages) and writes one scored line per
/// row to `out`. Nothing is written after the first bad row.
pub fn replay(
    path: &str,
    input: impl BufRead,
    mut out: impl Write,
    params: Params,
) -> Result<usize, ReplayError> {
    let read_error = |source| ReplayError::Open {
        path: path.into(),
        source,
    };
    let mut lines = input.lines();
    let header = lines.next().transpose().map_err(read_error)?.unwrap_or_default();
    let columns: Vec<&str> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::trim)
        .collect();
    if columns != ["timestamp", "value"] {
        return Err(ReplayError::Header {
            path: path.into(),
            found: header,
        });
    }
    let mut detector = Detector::new(params);
    writeln!(out, "timestamp,value,anomaly_score").map_err(ReplayError::Write)?;
    let mut rows = 0;
    for (index, line) in lines.enumerate() {
        let line = line.map_err(read_error)?;
        let row_error = |message: String| ReplayError::Row {
            path: path.into(),
            line: index + 2,
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        let (timestamp, value) = line
            .split_once(',')
            .ok_or_else(|| row_error("expected `timestamp,value`".into()))?;
        let at = parse_timestamp(timestamp.trim())
            .ok_or_else(|| row_error(format!("unreadable timestamp `{timestamp}`")))?;
        let number: f64 = value
            .trim()
            .parse()
            .map_err(|_| row_error(format!("unreadable value `{value}`")))?;
        let score = detector.score(at, number);
        writeln!(out, "{timestamp},{value},{score}").map_err(ReplayError::Write)?;
        rows += 1;
    }
    out.flush().map_err(ReplayError::Write)?;
    Ok(rows)
}

/// NAB's `2014-04-01 00:00:00`, or RFC 3339 as our own exports write it.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}
