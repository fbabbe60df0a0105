//! Report math over the counters written with each event: pure sums, rates and CSV.
use serde::Serialize;
use std::collections::BTreeMap;

mod range;
mod spend;
pub use range::*;
pub use spend::*;

/// Buckets of the time-in-stage histogram grow by 5%, so a median read from it is within 5%.
pub const TIME_BUCKET_GROWTH: f64 = 1.05;

/// The histogram that holds time to hire, beside the stages'.
pub const TIME_TO_HIRE: &str = "_to_hire";

pub fn time_bucket(seconds: i64) -> u32 {
    ((seconds.max(1) as f64).ln() / TIME_BUCKET_GROWTH.ln()).ceil() as u32
}

/// One counter item as the store reads it: a day, a channel and source, and its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCount {
    pub day: String,
    pub channel: String,
    pub source: String,
    pub applicants: u64,
    pub hires: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRow {
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub applicants: u64,
    pub hires: u64,
    /// Hires per applicant, 0 when there were no applicants.
    pub hire_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcesReport {
    pub rows: Vec<SourceRow>,
    pub totals: SourceRow,
}

fn rate(hires: u64, applicants: u64) -> f64 {
    if applicants == 0 {
        0.0
    } else {
        // Four decimals: enough for a rate, and the same in JSON and CSV.
        ((hires as f64 / applicants as f64) * 10_000.0).round() / 10_000.0
    }
}

/// Sums counters by channel, or by channel and source; rows sorted by applicants, then name.
pub fn sources(counts: &[SourceCount], by_source: bool) -> SourcesReport {
    let mut groups: BTreeMap<(String, Option<String>), (u64, u64)> = BTreeMap::new();
    for c in counts {
        let key = (c.channel.clone(), by_source.then(|| c.source.clone()));
        let e = groups.entry(key).or_default();
        e.0 += c.applicants;
        e.1 += c.hires;
    }
    let mut rows: Vec<SourceRow> = groups
        .into_iter()
        .map(|((channel, source), (a, h))| SourceRow {
            channel,
            source,
            applicants: a,
            hires: h,
            hire_rate: rate(h, a),
        })
        .collect();
    rows.sort_by(|x, y| {
        y.applicants.cmp(&x.applicants).then_with(|| (&x.channel, &x.source).cmp(&(&y.channel, &y.source)))
    });
    let (a, h) = rows.iter().fold((0, 0), |(a, h), r| (a + r.applicants, h + r.hires));
    SourcesReport {
        rows,
        totals: SourceRow { channel: "total".into(), source: None, applicants: a, hires: h, hire_rate: rate(h, a) },
    }
}

/// A spreadsheet must never run a cell: values starting with `=`, `+`, `-` or `@` (or a tab or CR)
/// are prefixed with `'`.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// RFC 4180 CSV with a header row, every cell neutralised.
pub fn to_csv(header: &[&str], rows: &[Vec<String>]) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r.iter().map(|c| neutralise(c)))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

pub fn sources_csv(r: &SourcesReport, by_source: bool) -> Result<String, csv::Error> {
    let mut header = vec!["channel"];
    if by_source {
        header.push("source");
    }
    header.extend(["applicants", "hires", "hire_rate"]);
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .chain(std::iter::once(&r.totals))
        .map(|row| {
            let mut cells = vec![row.channel.clone()];
            if by_source {
                cells.push(row.source.clone().unwrap_or_default());
            }
            cells.extend([row.applicants.to_string(), row.hires.to_string(), format!("{:.4}", row.hire_rate)]);
            cells
        })
        .collect();
    to_csv(&header, &rows)
}

/// Durations counted in buckets that grow by 5% (`b<n>` holds durations in (1.05^(n-1), 1.05^n]
/// seconds). A quantile read at a bucket's geometric middle is within 2.5% of the true value.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub stage: String,
    pub buckets: BTreeMap<u32, u64>,
    /// Exact durations (seconds -> count), kept while the set is small.
    pub exact: Option<BTreeMap<u32, u64>>,
}

impl Histogram {
    pub fn samples(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The `q` quantile (0..=1, nearest rank) in seconds, or `None` without samples: exact while every
    /// sample is also kept exactly, otherwise from the buckets.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.samples();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).max(1);
        if let Some(exact) = self.exact.as_ref().filter(|e| e.values().sum::<u64>() == n) {
            let mut seen = 0;
            for (secs, count) in exact {
                seen += count;
                if seen >= rank {
                    return Some(*secs as f64);
                }
            }
        }
        let mut seen = 0;
        for (b, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(if *b == 0 { 1.0 } else { 1.05f64.powf(*b as f64 - 0.5) });
            }
        }
        None
    }
}

/// Seconds as days, two decimals.
pub fn days(seconds: f64) -> f64 {
    (seconds / 86_400.0 * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ch: &str, src: &str, a: u64, h: u64) -> SourceCount {
        SourceCount { day: "2026-11-01".into(), channel: ch.into(), source: src.into(), applicants: a, hires: h }
    }

    #[test]
    fn sums_by_channel_and_source() {
        let counts = [
            c("job_board", "indeed", 10, 1),
            c("job_board", "linkedin", 5, 2),
            c("job_board", "indeed", 2, 0),
            c("unattributed", "unattributed", 3, 0),
        ];
        let by_channel = sources(&counts, false);
        assert_eq!(
            by_channel.rows[0],
            SourceRow { channel: "job_board".into(), source: None, applicants: 17, hires: 3, hire_rate: 0.1765 }
        );
        assert_eq!(by_channel.rows[1].channel, "unattributed");
        assert_eq!((by_channel.totals.applicants, by_channel.totals.hires), (20, 3));
        let by_source = sources(&counts, true);
        assert_eq!(by_source.rows.len(), 3);
        assert_eq!(by_source.rows[0].source.as_deref(), Some("indeed"));
        assert_eq!(sources(&[], false).totals.hire_rate, 0.0);
    }

    #[test]
    fn histogram_quantiles_are_within_the_bound() {
        let mut samples: Vec<i64> = (1..=999).map(|i| i * 3_571).collect();
        samples.sort();
        let mut h = Histogram { stage: "screen".into(), buckets: BTreeMap::new(), exact: None };
        for s in &samples {
            *h.buckets.entry(time_bucket(*s)).or_default() += 1;
        }
        for q in [0.5, 0.9] {
            let exact = samples[((q * samples.len() as f64).ceil() as usize) - 1] as f64;
            let got = h.quantile(q).unwrap();
            assert!((got - exact).abs() / exact <= 0.05, "q={q}: {got} vs {exact}");
        }
        assert_eq!(Histogram { stage: "x".into(), buckets: BTreeMap::new(), exact: None }.quantile(0.5), None);
        // Small sets kept exactly give exact quantiles.
        let exact: BTreeMap<u32, u64> = [(100, 1), (200, 1), (350, 1)].into();
        let mut small = Histogram { stage: "x".into(), buckets: BTreeMap::new(), exact: Some(exact) };
        for s in [100, 200, 350] {
            *small.buckets.entry(time_bucket(s)).or_default() += 1;
        }
        assert_eq!(small.quantile(0.5), Some(200.0));
        assert_eq!(small.quantile(0.9), Some(350.0));
    }

    #[test]
    fn csv_is_rfc4180_and_formula_safe() {
        let r = sources(&[c("other", "=HYPERLINK(\"x\")", 1, 0), c("other", "a,b", 2, 1)], true);
        let csv = sources_csv(&r, true).unwrap();
        assert!(csv.starts_with("channel,source,applicants,hires,hire_rate\r\n"));
        assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
        assert!(csv.contains("\"a,b\""));
        assert!(csv.ends_with("total,,3,1,0.3333\r\n"));
        assert_eq!(neutralise("-1"), "'-1");
        assert_eq!(neutralise("@cmd"), "'@cmd");
        assert_eq!(neutralise("plain"), "plain");
    }
}
