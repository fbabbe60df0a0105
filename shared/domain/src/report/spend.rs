//! Recruitment-marketing spend: what each source cost in a range, beside what it brought.
use super::*;
use serde::Serialize;

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
