//! The report counters, numbers only, in the partitions `STATS#JOB#<job>` and `STATS#ALL`: applicants
//! and hires per day, channel and source (`DAY#…`), the funnel per day (`FUNNEL#…`), stage entries
//! (`STAGE#…`), time-in-stage histograms with their exact samples (`TIS#…`) and the demographic
//! aggregates (`EEO#…`). Each is written in the transaction of the event it counts; the readers are
//! one query over a partition's range (more only when a page fills).
use super::tx::{Change, Item, Tx};
use super::{key, n, num, s, store_error, text, Store};
use crate::application::Application;
use crate::attribution::Attribution;
use crate::error::StoreError;
use crate::ids::JobId;
use crate::report::{time_bucket, SourceCount, TIME_TO_HIRE};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// Up to this many samples, a stage's durations are also kept exactly.
pub const EXACT_SAMPLES: u64 = 100;

/// Which exact-duration items a move adds to (see [`EXACT_SAMPLES`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactSamples {
    pub in_stage: bool,
    pub to_hire: bool,
}

/// The funnel of one job over a date range.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunnelCounts {
    pub started: u64,
    pub submitted: u64,
    pub dropped: u64,
    /// Applications that entered each stage (by stage id).
    pub entered: BTreeMap<String, u64>,
}

fn partition(job: Option<&JobId>) -> String {
    match job {
        Some(j) => format!("STATS#JOB#{j}"),
        None => "STATS#ALL".into(),
    }
}

fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A string attribute of a counter item, empty when absent.
fn label(item: &Item, k: &str) -> String {
    text(item, k).unwrap_or_default()
}

/// Counter items: `STATS#JOB#<job>` and `STATS#ALL`, one item per day, channel and source.
pub(super) fn count_applicant(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, a: &Attribution) {
    count_on_source_items(tx, table, job, day, a, "applicants");
}

/// A hire, counted on the same per-day, channel and source items as applicants.
pub(super) fn count_hire(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, a: &Attribution) {
    count_on_source_items(tx, table, job, day, a, "hires");
}

fn count_on_source_items(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, a: &Attribution, field: &str) {
    for pk in [partition(Some(job)), partition(None)] {
        tx.update(
            "counter",
            table,
            Change {
                key: key(pk, format!("DAY#{}#{}#{}", day_key(day), a.channel, a.source)),
                expression: format!("ADD {field} :one SET #day = :day, channel = :ch, #source = :src"),
                names: &[("#day", "day"), ("#source", "source")],
                values: vec![
                    (":one", n(1)),
                    (":day", s(day_key(day))),
                    (":ch", s(a.channel.as_str())),
                    (":src", s(&a.source)),
                ],
                condition: None,
            },
        );
    }
}

/// Funnel counters per job and day: `started`, `submitted`, `dropped`.
pub(super) fn count_funnel(tx: &mut Tx, table: &str, job: &JobId, day: NaiveDate, fields: &[&str]) {
    let expression =
        format!("ADD {} SET #day = :day", fields.iter().map(|f| format!("{f} :one")).collect::<Vec<_>>().join(", "));
    tx.update(
        "funnel",
        table,
        Change {
            key: key(partition(Some(job)), format!("FUNNEL#{}", day_key(day))),
            expression,
            names: &[("#day", "day")],
            values: vec![(":one", n(1)), (":day", s(day_key(day)))],
            condition: None,
        },
    );
}

/// Counts one applicant or hire per demographic answer, per job and in all: numbers only.
pub(super) fn count_demographics(
    tx: &mut Tx,
    table: &str,
    job: &JobId,
    d: &crate::demographics::Demographics,
    field: &'static str,
) {
    for (question, answer) in d.cells() {
        for pk in [partition(Some(job)), partition(None)] {
            tx.update(
                "demographics",
                table,
                Change {
                    key: key(pk, format!("EEO#{question}#{answer}")),
                    expression: "ADD #f :one SET question = :q, answer = :a".into(),
                    names: &[("#f", field)],
                    values: vec![(":one", n(1)), (":q", s(question)), (":a", s(answer))],
                    condition: None,
                },
            );
        }
    }
}

/// A move's counters: the stage the application entered (per day, channel and source), and the time
/// it spent in the stage it left.
pub(super) fn count_move(
    tx: &mut Tx,
    table: &str,
    moved: &Application,
    now: DateTime<Utc>,
    left_stage: &str,
    seconds_in_stage: i64,
    exact: bool,
) {
    let day = day_key(now.date_naive());
    let a = &moved.attribution;
    tx.update(
        "entered",
        table,
        Change {
            key: key(partition(Some(&moved.job_id)), format!("STAGE#{}#{day}#{}#{}", moved.stage, a.channel, a.source)),
            expression: "ADD entered :one SET #stage = :stage, #day = :day, channel = :ch, #source = :src".into(),
            names: &[("#stage", "stage"), ("#day", "day"), ("#source", "source")],
            values: vec![
                (":one", n(1)),
                (":stage", s(&moved.stage)),
                (":day", s(&day)),
                (":ch", s(a.channel.as_str())),
                (":src", s(&a.source)),
            ],
            condition: None,
        },
    );
    add_duration(tx, "time_in_stage", table, &moved.job_id, left_stage, seconds_in_stage, exact);
}

/// Time to hire: from the application to the hire, in the same histogram form as a stage.
pub(super) fn count_time_to_hire(tx: &mut Tx, table: &str, hired: &Application, now: DateTime<Utc>, exact: bool) {
    let to_hire = (now - hired.created_at).num_seconds();
    add_duration(tx, "time_to_hire", table, &hired.job_id, TIME_TO_HIRE, to_hire, exact);
}

/// One duration in a stage's histogram (`TIS#<stage>`: samples, total seconds, a count per bucket)
/// and, while the stage has few samples, in its exact durations.
fn add_duration(tx: &mut Tx, label: &'static str, table: &str, job: &JobId, stage: &str, seconds: i64, exact: bool) {
    let bucket = format!("b{}", time_bucket(seconds));
    tx.update(
        label,
        table,
        Change {
            key: key(partition(Some(job)), format!("TIS#{stage}")),
            expression: "ADD samples :one, seconds :secs, #bucket :one SET #stage = :stage".into(),
            names: &[("#bucket", bucket.as_str()), ("#stage", "stage")],
            values: vec![(":one", n(1)), (":secs", n(seconds.max(0))), (":stage", s(stage))],
            condition: None,
        },
    );
    if exact {
        exact_sample(tx, table, job, stage, seconds);
    }
}

/// One exact duration: `x<seconds>` counts how many samples took exactly that long.
fn exact_sample(tx: &mut Tx, table: &str, job: &JobId, stage: &str, seconds: i64) {
    let attr = format!("x{}", seconds.max(0));
    tx.update(
        "exact",
        table,
        Change {
            key: key(partition(Some(job)), format!("TIS#{stage}#exact")),
            expression: "ADD #x :one SET #stage = :stage".into(),
            names: &[("#x", attr.as_str()), ("#stage", "stage")],
            values: vec![(":one", n(1)), (":stage", s(stage))],
            condition: None,
        },
    );
}

/// The keys of the two histograms a move of an application in `stage` adds to (the stage's, and
/// time to hire), read with the application's context to know how many samples they hold.
pub(super) fn histogram_keys(job: &JobId, stage: &str) -> [Item; 2] {
    let stats = partition(Some(job));
    [key(stats.clone(), format!("TIS#{stage}")), key(stats, format!("TIS#{TIME_TO_HIRE}"))]
}

/// How many samples a histogram item holds.
pub(super) fn samples(item: &Item) -> u64 {
    num(item, "samples")
}

impl Store {
    /// Applicants and hires per day, channel and source, for one job or all.
    pub async fn source_counts(
        &self,
        job: Option<&JobId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<SourceCount>, usize), StoreError> {
        // Sort keys are `DAY#<date>#<channel>#<source>`; `~` sorts after every character a source may hold.
        let (items, queries) = self.range(&partition(job), &format!("DAY#{from}"), &format!("DAY#{to}#~")).await?;
        let counts = items
            .iter()
            .map(|i| SourceCount {
                day: label(i, "day"),
                channel: label(i, "channel"),
                source: label(i, "source"),
                applicants: num(i, "applicants"),
                hires: num(i, "hires"),
            })
            .collect();
        Ok((counts, queries))
    }

    /// Started, submitted and dropped applications, and stage entries, for one job over a range.
    pub async fn funnel_counts(
        &self,
        job: &JobId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(FunnelCounts, usize), StoreError> {
        let pk = partition(Some(job));
        let (days, q1) = self.range(&pk, &format!("FUNNEL#{from}"), &format!("FUNNEL#{to}")).await?;
        // Stage entries sort by stage first: read the job's `STAGE#` items and keep the range's days.
        let (stages, q2) = self.range(&pk, "STAGE#", "STAGE#~").await?;
        let mut f = FunnelCounts::default();
        for d in &days {
            f.started += num(d, "started");
            f.submitted += num(d, "submitted");
            f.dropped += num(d, "dropped");
        }
        let (from, to) = (from.to_string(), to.to_string());
        for st in stages.iter().filter(|i| (from.as_str()..=to.as_str()).contains(&label(i, "day").as_str())) {
            *f.entered.entry(label(st, "stage")).or_default() += num(st, "entered");
        }
        Ok((f, q1 + q2))
    }

    /// The demographic counters of one job or all jobs: one query.
    pub async fn demographic_counts(&self, job: Option<&JobId>) -> Result<Vec<(String, String, u64, u64)>, StoreError> {
        Ok(self
            .with_prefix(&partition(job), "EEO#")
            .await?
            .iter()
            .map(|i| (label(i, "question"), label(i, "answer"), num(i, "applicants"), num(i, "hires")))
            .collect())
    }

    /// Time-in-stage histograms of one job (and time to hire): one query.
    pub async fn time_histograms(&self, job: &JobId) -> Result<Vec<crate::report::Histogram>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :tis)")
            .expression_attribute_values(":pk", s(partition(Some(job))))
            .expression_attribute_values(":tis", s("TIS#"))
            .send()
            .await
            .map_err(store_error)?;
        let counts = |i: &Item, prefix: char| {
            i.iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.parse().ok()?, v.as_n().ok()?.parse().ok()?)))
                .collect::<BTreeMap<u32, u64>>()
        };
        let mut out_h: Vec<crate::report::Histogram> = Vec::new();
        let sk = |i: &Item| label(i, "sk");
        for i in out.items().iter().filter(|i| !sk(i).ends_with("#exact")) {
            let stage = label(i, "stage");
            let exact = out.items().iter().find(|e| sk(e) == format!("TIS#{stage}#exact")).map(|e| counts(e, 'x'));
            out_h.push(crate::report::Histogram { stage, buckets: counts(i, 'b'), exact });
        }
        Ok(out_h)
    }
}
