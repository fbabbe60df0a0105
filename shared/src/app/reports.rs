//! Reports, read from the counters kept in the same transactions as the events (never a scan); the
//! sums, rates and CSV are the domain's (`report`).
use crate::app::AppState;
use crate::auth::{Caller, JobAction};
use crate::error::ApiError;
use crate::ids::JobId;
use crate::job::Job;
use crate::report::{funnel_csv, sources_csv, spend_csv, time_in_stage as figures, with_spend, Range};
use crate::store::Funnel;
use serde_json::{json, Value};

/// A report as JSON, or as CSV when the query asked for it.
#[derive(Debug)]
pub enum Answer {
    Json(Value),
    Csv(String),
}

fn csv(made: Result<String, csv::Error>) -> Result<Answer, ApiError> {
    made.map(Answer::Csv).map_err(|e| ApiError::Unavailable(e.to_string()))
}

/// Applicants and hires per channel (or channel and source) over `r`; with the company's spend when
/// the report is of all jobs.
pub async fn sources(st: &AppState, r: &Range, by_source: bool) -> Result<Answer, ApiError> {
    let (counts, _) = st.store.source_counts(r.job.as_ref(), r.from, r.to).await?;
    let report = crate::report::sources(&counts, by_source);
    // Spend is the company's, per source and month: it belongs in the all-jobs report only.
    let figures = if r.job.is_none() {
        let spend = st.store.spend_between(r.from, r.to).await?;
        with_spend(&report, &spend, r.from, r.to, by_source)
    } else {
        json!({"rows": report.rows, "totals": report.totals})
    };
    if r.csv {
        return csv(if r.job.is_none() { spend_csv(&figures, by_source) } else { sources_csv(&report, by_source) });
    }
    Ok(Answer::Json(json!({"from": r.from, "to": r.to, "job_id": r.job,
        "group": if by_source { "source" } else { "channel" }, "rows": figures["rows"], "totals": figures["totals"]})))
}

/// The job `job_id`'s funnel over `r`: started, submitted, dropped, then each stage in order. For a
/// range that ends today one query, which also brings the job's stages and answers whether the job
/// exists (see `store::funnel`). The stats partition holds nobody's id, so a hiring manager's team is
/// checked on the job first.
pub async fn funnel(st: &AppState, caller: &Caller, job_id: &JobId, r: &Range) -> Result<Answer, ApiError> {
    if !caller.is_staff() {
        crate::app::jobs::load(st, job_id, |job| caller.authorize_job(&job.spec.team_subs(), JobAction::Read)).await?;
    }
    let Funnel { stages, counts: f } = st.store.funnel(job_id, r.from, r.to).await?.ok_or(ApiError::NotFound)?;
    let stages = crate::report::funnel(&stages, f.submitted, &f.entered);
    if r.csv {
        return csv(funnel_csv(f.started, f.submitted, f.dropped, &stages));
    }
    Ok(Answer::Json(json!({"job_id": job_id, "from": r.from, "to": r.to, "started": f.started,
        "submitted": f.submitted, "dropped": f.dropped, "stages": stages})))
}

/// Median and 90th percentile days spent in each of `job`'s stages (counted when an application
/// leaves it), and time to hire, from 5%-bucket histograms: within 2.5% of the exact figures.
pub async fn time_in_stage(st: &AppState, job: &Job) -> Result<Value, ApiError> {
    let histograms = st.store.time_histograms(&job.id).await?;
    let (stages, to_hire) = figures(&job.spec.stages, &histograms);
    Ok(json!({"job_id": job.id, "stages": stages, "time_to_hire": to_hire}))
}
