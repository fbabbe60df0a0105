//! Report math over the counters written with each event: pure sums, rates and CSV.
use serde::Serialize;
use std::collections::BTreeMap;

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

/// Recruitment-marketing spend recorded for one source and month.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Spend {
    /// `YYYY-MM`.
    pub month: String,
    pub channel: String,
    pub source: String,
    pub amount: f64,
    pub currency: String,
}

/// The share of a month's spend that falls in `[from, to]`: pro rata by days.
pub fn month_share(month: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> f64 {
    use chrono::{Datelike, NaiveDate};
    let Ok(first) = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d") else { return 0.0 };
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    let Some(next) = next else { return 0.0 };
    let last = next - chrono::Duration::days(1);
    let (start, end) = (first.max(from), last.min(to));
    if start > end {
        return 0.0;
    }
    ((end - start).num_days() + 1) as f64 / ((last - first).num_days() + 1) as f64
}

/// Adds spend, cost per applicant and cost per hire to a sources report. A row whose spend is in
/// more than one currency gets no figures rather than a wrong sum.
pub fn with_spend(
    report: &SourcesReport,
    spend: &[Spend],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    by_source: bool,
) -> serde_json::Value {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let figures = |row: &SourceRow| {
        let mine: Vec<&Spend> = spend
            .iter()
            .filter(|s| {
                s.channel == row.channel
                    && (!by_source || Some(&s.source) == row.source.as_ref() || row.channel == "total")
            })
            .collect();
        let mine: Vec<&Spend> = if row.channel == "total" { spend.iter().collect() } else { mine };
        let currencies: std::collections::BTreeSet<&str> = mine.iter().map(|s| s.currency.as_str()).collect();
        let mut v = serde_json::to_value(row).unwrap_or_default();
        if currencies.len() == 1 {
            let total: f64 = mine.iter().map(|s| s.amount * month_share(&s.month, from, to)).sum();
            v["spend"] = serde_json::json!(round(total));
            v["currency"] = serde_json::json!(currencies.iter().next());
            v["cost_per_applicant"] = if row.applicants > 0 {
                serde_json::json!(round(total / row.applicants as f64))
            } else {
                serde_json::Value::Null
            };
            v["cost_per_hire"] = if row.hires > 0 {
                serde_json::json!(round(total / row.hires as f64))
            } else {
                serde_json::Value::Null
            };
        } else {
            v["spend"] = serde_json::Value::Null;
            if currencies.len() > 1 {
                v["spend_note"] = serde_json::json!("spend in more than one currency");
            }
        }
        v
    };
    serde_json::json!({"rows": report.rows.iter().map(figures).collect::<Vec<_>>(), "totals": figures(&report.totals)})
}

#[cfg(test)]
mod spend_tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn spend_is_pro_rata_by_day() {
        assert_eq!(month_share("2026-11", d("2026-11-01"), d("2026-11-30")), 1.0);
        assert_eq!(month_share("2026-11", d("2026-11-16"), d("2026-12-31")), 0.5);
        assert_eq!(month_share("2026-02", d("2026-01-01"), d("2026-02-14")), 0.5);
        assert_eq!(month_share("2026-10", d("2026-11-01"), d("2026-11-30")), 0.0);
        let report = sources(
            &[SourceCount {
                day: "2026-11-02".into(),
                channel: "job_board".into(),
                source: "indeed".into(),
                applicants: 10,
                hires: 2,
            }],
            true,
        );
        let spend = [Spend {
            month: "2026-11".into(),
            channel: "job_board".into(),
            source: "indeed".into(),
            amount: 300.0,
            currency: "USD".into(),
        }];
        let v = with_spend(&report, &spend, d("2026-11-01"), d("2026-11-30"), true);
        assert_eq!(
            (
                v["rows"][0]["spend"].as_f64(),
                v["rows"][0]["cost_per_applicant"].as_f64(),
                v["rows"][0]["cost_per_hire"].as_f64()
            ),
            (Some(300.0), Some(30.0), Some(150.0))
        );
        assert_eq!(v["totals"]["spend"], 300.0);
    }
}

/// The longest range one report covers.
pub const MAX_DAYS: i64 = 732;

/// What a report covers, from its query: `from`/`to` (default: the 30 days to today), `job_id`,
/// `format` (json or csv).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub job: Option<crate::ids::JobId>,
    pub csv: bool,
}

impl Range {
    /// Reads the query parameters `get` answers, listing every bad one in `errors`.
    pub fn parse<'a>(
        today: chrono::NaiveDate,
        get: impl Fn(&str) -> Option<&'a str>,
        errors: &mut Vec<crate::FieldError>,
    ) -> Range {
        use crate::FieldError;
        use chrono::NaiveDate;
        let date = |name: &str, default: NaiveDate, errors: &mut Vec<FieldError>| match get(name) {
            None => default,
            Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap_or_else(|_| {
                errors.push(FieldError::new(name, "must be a date, YYYY-MM-DD"));
                default
            }),
        };
        let to = date("to", today, errors);
        let from = date("from", to - chrono::Duration::days(29), errors);
        if from > to {
            errors.push(FieldError::new("from", "must not be after to"));
        } else if (to - from).num_days() > MAX_DAYS {
            errors.push(FieldError::new("from", format!("the range must be at most {MAX_DAYS} days")));
        }
        let csv = either("format", get("format"), ["json", "csv"], errors);
        let job = get("job_id")
            .and_then(|raw| raw.parse().map_err(|_| errors.push(FieldError::new("job_id", "is not a job id"))).ok());
        Range { from, to, job, csv }
    }
}

/// A parameter that is one of two words, absent meaning the first: whether it is the second.
pub fn either(name: &str, raw: Option<&str>, [first, second]: [&str; 2], errors: &mut Vec<crate::FieldError>) -> bool {
    match raw {
        None => false,
        Some(w) if w == first => false,
        Some(w) if w == second => true,
        Some(_) => {
            errors.push(crate::FieldError::new(name, format!("must be {first} or {second}")));
            false
        }
    }
}

/// One stage of a job's funnel: how many applications entered it, and what share of the step before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    pub stage: String,
    pub name: String,
    pub entered: u64,
    pub conversion: f64,
}

/// The funnel through `stages`, given how many applications were submitted and entered each stage.
/// Each stage's conversion is from the step before it: started -> submitted -> first stage -> ...
pub fn funnel(stages: &[crate::stage::Stage], submitted: u64, entered: &BTreeMap<String, u64>) -> Vec<FunnelStep> {
    let mut previous = submitted;
    let mut steps = Vec::new();
    for s in stages {
        let entered =
            if s.kind == crate::stage::StageKind::New { submitted } else { entered.get(&s.id).copied().unwrap_or(0) };
        steps.push(FunnelStep {
            stage: s.id.clone(),
            name: s.name.clone(),
            entered,
            conversion: rate(entered, previous),
        });
        previous = entered;
    }
    steps
}

/// The funnel as CSV: started, submitted and dropped, then each stage.
pub fn funnel_csv(started: u64, submitted: u64, dropped: u64, steps: &[FunnelStep]) -> Result<String, csv::Error> {
    let head = [("started", started), ("submitted", submitted), ("dropped", dropped)];
    let mut rows: Vec<Vec<String>> =
        head.iter().map(|(step, n)| vec![step.to_string(), n.to_string(), String::new()]).collect();
    for s in steps {
        // The conversion as the JSON answer writes it (`0.0`, `0.5`).
        rows.push(vec![s.stage.clone(), s.entered.to_string(), serde_json::Value::from(s.conversion).to_string()]);
    }
    to_csv(&["step", "count", "conversion"], &rows)
}

/// A sources report with spend (`with_spend`) as CSV, its totals last.
pub fn spend_csv(figures: &serde_json::Value, by_source: bool) -> Result<String, csv::Error> {
    let mut header = vec!["channel"];
    if by_source {
        header.push("source");
    }
    header.extend(["applicants", "hires", "hire_rate", "spend", "currency", "cost_per_applicant", "cost_per_hire"]);
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = figures["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&figures["totals"]))
        .map(|r| {
            header
                .iter()
                .map(|h| if *h == "hire_rate" { format!("{:.4}", r[*h].as_f64().unwrap_or(0.0)) } else { cell(&r[*h]) })
                .collect()
        })
        .collect();
    to_csv(&header, &rows)
}

/// Median and 90th percentile days in each stage but the hired one, and time to hire, from
/// `histograms` (a stage without one has no samples).
pub fn time_in_stage(
    stages: &[crate::stage::Stage],
    histograms: &[Histogram],
) -> (Vec<serde_json::Value>, serde_json::Value) {
    use serde_json::json;
    let figures = |stage: &str| {
        let h = histograms.iter().find(|h| h.stage == stage);
        let samples = h.map(|h| h.samples()).unwrap_or(0);
        let q = |p: f64| h.and_then(|h| h.quantile(p)).map(days);
        json!({"samples": samples, "median_days": q(0.5), "p90_days": q(0.9)})
    };
    let per_stage = stages
        .iter()
        .filter(|s| s.kind != crate::stage::StageKind::Hired)
        .map(|s| {
            let mut v = figures(&s.id);
            v["stage"] = json!(s.id);
            v["name"] = json!(s.name);
            v
        })
        .collect();
    (per_stage, figures(TIME_TO_HIRE))
}

#[cfg(test)]
mod range_tests {
    use super::*;
    use crate::stage::{Stage, StageKind};
    use chrono::NaiveDate;

    fn parse(q: &[(&'static str, &'static str)]) -> (Range, Vec<crate::FieldError>) {
        let mut errors = Vec::new();
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let r = Range::parse(today, |n| q.iter().find(|(k, _)| *k == n).map(|(_, v)| *v), &mut errors);
        (r, errors)
    }

    #[test]
    fn ranges() {
        let (r, errors) = parse(&[]);
        assert!(errors.is_empty());
        assert_eq!(
            (r.from.to_string(), r.to.to_string(), r.csv, r.job),
            ("2026-11-01".into(), "2026-11-30".into(), false, None)
        );
        let (r, errors) = parse(&[("format", "csv"), ("from", "2026-11-02"), ("to", "2026-11-03")]);
        assert!(errors.is_empty() && r.csv && r.from.to_string() == "2026-11-02");
        let (_, errors) = parse(&[("format", "xml"), ("from", "x"), ("job_id", "nope")]);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "format", "job_id"]);
        let (_, errors) = parse(&[("from", "2020-01-01")]);
        assert_eq!(errors[0].message, format!("the range must be at most {MAX_DAYS} days"));
        let (_, errors) = parse(&[("from", "2026-12-01")]);
        assert_eq!(errors[0].message, "must not be after to");
    }

    #[test]
    fn funnels() {
        let st = |id: &str, kind| Stage { id: id.into(), name: id.into(), kind };
        let stages = [st("new", StageKind::New), st("screen", StageKind::Screen), st("hired", StageKind::Hired)];
        let entered = BTreeMap::from([("screen".to_string(), 3), ("hired".to_string(), 1)]);
        let steps = funnel(&stages, 4, &entered);
        let got: Vec<(u64, f64)> = steps.iter().map(|s| (s.entered, s.conversion)).collect();
        assert_eq!(got, [(4, 1.0), (3, 0.75), (1, 0.3333)]);
        assert_eq!(funnel(&stages, 0, &BTreeMap::new())[1].conversion, 0.0);
        let csv = funnel_csv(5, 4, 1, &steps).unwrap();
        assert!(csv.starts_with("step,count,conversion\r\nstarted,5,\r\n"), "{csv}");
        assert!(csv.contains("new,4,1.0\r\nscreen,3,0.75\r\n"), "{csv}");
    }
}
