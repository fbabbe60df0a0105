//! What a report covers (its range and format, from the query), the funnel and time in stage.
use super::*;
use serde::Serialize;
use std::collections::BTreeMap;

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
