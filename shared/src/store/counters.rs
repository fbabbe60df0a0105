//! The report counters, numbers only, in the partitions `STATS#JOB#<job>` and `STATS#ALL`: applicants
//! and hires per day, channel and source (`DAY#<date>#<channel>#<source>`), the funnel (`FUNNEL#…`:
//! per day started, submitted, dropped, and stage entries, beside a copy of the job's stage list; see
//! `funnel`), time-in-stage histograms (`TIS#<stage>`) with their exact samples (`TIS#<stage>#exact`)
//! and the demographic aggregates (`EEO#<question>#<answer>`). Each is written in the transaction of
//! the event it counts, and spread over `COUNTER_SHARDS` items (see `shards`): shard 0 is the key
//! above, shard `k` the key and `#<k>`; one transaction adds to one shard of each counter it touches.
//! The readers are one query over a partition's range, as unsharded (more only when a page fills), and
//! sum the shards by the labels the items carry as attributes (day, channel, source, stage, question,
//! answer).
use super::shards::Shard;
use super::tx::{Change, Item, Tx};
use super::{key, n, num, s, text, Store};
use crate::application::Application;
use crate::attribution::Attribution;
use crate::error::StoreError;
use crate::ids::JobId;
use crate::report::{time_bucket, SourceCount, TIME_TO_HIRE};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// Up to this many samples, a stage's durations are also kept exactly (in each shard's exact item: see
/// [`exact_keys`]).
pub const EXACT_SAMPLES: u64 = 100;

/// Where a transaction's counter updates go: the table, and the one shard they all add to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub table: &'a str,
    pub shard: Shard,
}

/// Which exact-duration items a move adds to (see [`EXACT_SAMPLES`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactSamples {
    pub in_stage: bool,
    pub to_hire: bool,
}

pub(super) fn partition(job: Option<&JobId>) -> String {
    match job {
        Some(j) => format!("STATS#JOB#{j}"),
        None => "STATS#ALL".into(),
    }
}

pub(super) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The sort-key bounds of the `DAY#` or `FUNNEL#` counters (`kind`) from day `from` to day `to`, every
/// shard included: `<kind>#<from>` to `<kind>#<to>#~`, as `~` sorts after `#`, the digits of a shard
/// and every character of a channel or source.
pub(super) fn days_between(kind: &str, from: NaiveDate, to: NaiveDate) -> (String, String) {
    (format!("{kind}#{}", day_key(from)), format!("{kind}#{}#~", day_key(to)))
}

/// A string attribute of a counter item, empty when absent.
pub(super) fn label(item: &Item, k: &str) -> String {
    text(item, k).unwrap_or_default()
}

/// Counter items: `STATS#JOB#<job>` and `STATS#ALL`, one item per day, channel and source.
pub(super) fn count_applicant(tx: &mut Tx, at: Target, job: &JobId, day: NaiveDate, a: &Attribution) {
    count_on_source_items(tx, at, job, day, a, "applicants");
}

/// A hire, counted on the same per-day, channel and source items as applicants.
pub(super) fn count_hire(tx: &mut Tx, at: Target, job: &JobId, day: NaiveDate, a: &Attribution) {
    count_on_source_items(tx, at, job, day, a, "hires");
}

fn count_on_source_items(tx: &mut Tx, at: Target, job: &JobId, day: NaiveDate, a: &Attribution, field: &str) {
    for pk in [partition(Some(job)), partition(None)] {
        tx.update(
            "counter",
            at.table,
            Change {
                key: key(pk, at.shard.sk(format_args!("DAY#{}#{}#{}", day_key(day), a.channel, a.source))),
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

/// Counts one applicant or hire per demographic answer, per job and in all: numbers only.
pub(super) fn count_demographics(
    tx: &mut Tx,
    at: Target,
    job: &JobId,
    d: &crate::demographics::Demographics,
    field: &'static str,
) {
    for (question, answer) in d.cells() {
        for pk in [partition(Some(job)), partition(None)] {
            tx.update(
                "demographics",
                at.table,
                Change {
                    key: key(pk, at.shard.sk(format_args!("EEO#{question}#{answer}"))),
                    expression: "ADD #f :one SET question = :q, answer = :a".into(),
                    names: &[("#f", field)],
                    values: vec![(":one", n(1)), (":q", s(question)), (":a", s(answer))],
                    condition: None,
                },
            );
        }
    }
}

/// The time an application spent in the stage it left (a move's; the stage it entered is the
/// funnel's, see `funnel`).
pub(super) fn count_time_in_stage(tx: &mut Tx, at: Target, job: &JobId, left_stage: &str, seconds: i64, exact: bool) {
    add_duration(tx, "time_in_stage", at, job, left_stage, seconds, exact);
}

/// Time to hire: from the application to the hire, in the same histogram form as a stage.
pub(super) fn count_time_to_hire(tx: &mut Tx, at: Target, hired: &Application, now: DateTime<Utc>, exact: bool) {
    let to_hire = (now - hired.created_at).num_seconds();
    add_duration(tx, "time_to_hire", at, &hired.job_id, TIME_TO_HIRE, to_hire, exact);
}

/// One duration in a stage's histogram (`TIS#<stage>`: samples, total seconds, a count per bucket)
/// and, while the stage has few samples, in its exact durations.
fn add_duration(tx: &mut Tx, label: &'static str, at: Target, job: &JobId, stage: &str, seconds: i64, exact: bool) {
    let bucket = format!("b{}", time_bucket(seconds));
    tx.update(
        label,
        at.table,
        Change {
            key: key(partition(Some(job)), at.shard.sk(format_args!("TIS#{stage}"))),
            expression: "ADD samples :one, seconds :secs, #bucket :one SET #stage = :stage".into(),
            names: &[("#bucket", bucket.as_str()), ("#stage", "stage")],
            values: vec![(":one", n(1)), (":secs", n(seconds.max(0))), (":stage", s(stage))],
            condition: None,
        },
    );
    if exact {
        exact_sample(tx, at, job, stage, seconds);
    }
}

/// One exact duration: `x<seconds>` counts how many samples took exactly that long.
fn exact_sample(tx: &mut Tx, at: Target, job: &JobId, stage: &str, seconds: i64) {
    let attr = format!("x{}", seconds.max(0));
    tx.update(
        "exact",
        at.table,
        Change {
            key: key(partition(Some(job)), at.shard.sk(format_args!("TIS#{stage}#exact"))),
            expression: "ADD #x :one SET #stage = :stage".into(),
            names: &[("#x", attr.as_str()), ("#stage", "stage")],
            values: vec![(":one", n(1)), (":stage", s(stage))],
            condition: None,
        },
    );
}

/// The keys of the two exact-duration items a move of an application in `stage` would add to (the
/// stage's and time to hire's, in the move's shard), read with the application's context.
///
/// A move also records its exact duration while its shard's exact item holds fewer than
/// [`EXACT_SAMPLES`] (the sum of its `x…` counts, [`exact_samples`]; items written before shards count
/// the same way). The histogram's total would take every shard's key; this is one key per histogram in
/// the context's single `BatchGetItem`, and no count item that every move writes. So each exact item
/// holds at most [`EXACT_SAMPLES`] durations (more only if moves raced), and a stage is exact until
/// its first shard fills: for at least its first [`EXACT_SAMPLES`] samples, as before sharding. The
/// other shards may fill on after that, unused; the report takes exact samples only while they
/// account for every sample in the histograms.
pub(super) fn exact_keys(job: &JobId, stage: &str, shard: Shard) -> [Item; 2] {
    let stats = partition(Some(job));
    [
        key(stats.clone(), shard.sk(format_args!("TIS#{stage}#exact"))),
        key(stats, shard.sk(format_args!("TIS#{TIME_TO_HIRE}#exact"))),
    ]
}

/// How many durations an exact item holds: the sum of its `x<seconds>` counts.
pub(super) fn exact_samples(item: &Item) -> u64 {
    counts(item, 'x').values().sum()
}

/// The counts of an item's attributes named `<prefix><number>` (`b<bucket>`, `x<seconds>`), by number.
fn counts(item: &Item, prefix: char) -> BTreeMap<u32, u64> {
    item.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.parse().ok()?, v.as_n().ok()?.parse().ok()?)))
        .collect()
}

/// Adds `more` into `into`, count by count.
fn add_counts(into: &mut BTreeMap<u32, u64>, more: BTreeMap<u32, u64>) {
    for (k, v) in more {
        *into.entry(k).or_default() += v;
    }
}

/// Source counts summed over shards, by day, channel and source.
fn merge_sources(items: &[Item]) -> Vec<SourceCount> {
    let mut merged: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    for i in items {
        let e = merged.entry((label(i, "day"), label(i, "channel"), label(i, "source"))).or_default();
        e.0 += num(i, "applicants");
        e.1 += num(i, "hires");
    }
    merged
        .into_iter()
        .map(|((day, channel, source), (applicants, hires))| SourceCount { day, channel, source, applicants, hires })
        .collect()
}

/// Demographic counts summed over shards: (question, answer, applicants, hires).
fn merge_demographics(items: &[Item]) -> Vec<(String, String, u64, u64)> {
    let mut merged: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for i in items {
        let e = merged.entry((label(i, "question"), label(i, "answer"))).or_default();
        e.0 += num(i, "applicants");
        e.1 += num(i, "hires");
    }
    merged.into_iter().map(|((q, a), (applicants, hires))| (q, a, applicants, hires)).collect()
}

/// Histograms and exact samples (`TIS#…` items of every shard) summed per stage. An item is a stage's
/// exact samples when its key, past `TIS#<stage>` (the stage from its attribute), is `#exact`, with or
/// without a shard: a stage id holds no `#`, and a shard number is never `exact`.
fn merge_histograms(items: &[Item]) -> Vec<crate::report::Histogram> {
    let mut merged: BTreeMap<String, crate::report::Histogram> = BTreeMap::new();
    for i in items {
        let stage = label(i, "stage");
        let Some(rest) = label(i, "sk").strip_prefix(&format!("TIS#{stage}")).map(str::to_string) else { continue };
        let h = merged.entry(stage.clone()).or_insert_with(|| crate::report::Histogram {
            stage,
            buckets: BTreeMap::new(),
            exact: None,
        });
        if rest == "#exact" || rest.starts_with("#exact#") {
            add_counts(h.exact.get_or_insert_with(BTreeMap::new), counts(i, 'x'));
        } else {
            add_counts(&mut h.buckets, counts(i, 'b'));
        }
    }
    merged.into_values().collect()
}

impl Store {
    /// The table and shard of the counters a transaction adds to.
    pub(super) fn counters(&self, shard: Shard) -> Target<'_> {
        Target { table: &self.table, shard }
    }

    /// Applicants and hires per day, channel and source, for one job or all, summed over shards.
    pub async fn source_counts(
        &self,
        job: Option<&JobId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<SourceCount>, usize), StoreError> {
        // Sort keys are `DAY#<date>#<channel>#<source>`, then `#<shard>` but for shard 0.
        let (from, to) = days_between("DAY", from, to);
        let (items, queries) = self.range(&partition(job), &from, &to).await?;
        Ok((merge_sources(&items), queries))
    }

    /// The demographic counters of one job or all jobs, summed over shards: one query.
    pub async fn demographic_counts(&self, job: Option<&JobId>) -> Result<Vec<(String, String, u64, u64)>, StoreError> {
        Ok(merge_demographics(&self.with_prefix(&partition(job), "EEO#").await?))
    }

    /// Time-in-stage histograms of one job (and time to hire), summed over shards: one query.
    pub async fn time_histograms(&self, job: &JobId) -> Result<Vec<crate::report::Histogram>, StoreError> {
        Ok(merge_histograms(&self.with_prefix(&partition(Some(job)), "TIS#").await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter item: string labels, then number counts.
    fn item(sk: &str, labels: &[(&str, &str)], counts: &[(&str, u64)]) -> Item {
        let mut i = key("STATS#ALL", sk);
        i.extend(labels.iter().map(|(k, v)| (k.to_string(), s(*v))));
        i.extend(counts.iter().map(|(k, v)| (k.to_string(), n(v))));
        i
    }

    #[test]
    fn source_counts_sum_their_shards_by_day_channel_and_source() {
        fn day<'a>(d: &'a str, src: &'a str) -> [(&'a str, &'a str); 3] {
            [("day", d), ("channel", "job_board"), ("source", src)]
        }
        let items = [
            item("DAY#2026-03-02#job_board#indeed", &day("2026-03-02", "indeed"), &[("applicants", 2), ("hires", 1)]),
            item("DAY#2026-03-02#job_board#indeed#3", &day("2026-03-02", "indeed"), &[("applicants", 5)]),
            item("DAY#2026-03-02#job_board#indeed#7", &day("2026-03-02", "indeed"), &[("hires", 2)]),
            item("DAY#2026-03-02#job_board#linkedin#3", &day("2026-03-02", "linkedin"), &[("applicants", 1)]),
            item("DAY#2026-03-03#job_board#indeed#1", &day("2026-03-03", "indeed"), &[("applicants", 4)]),
        ];
        let got: Vec<_> = merge_sources(&items).into_iter().map(|c| (c.day, c.source, c.applicants, c.hires)).collect();
        assert_eq!(
            got,
            vec![
                ("2026-03-02".into(), "indeed".into(), 7, 3),
                ("2026-03-02".into(), "linkedin".into(), 1, 0),
                ("2026-03-03".into(), "indeed".into(), 4, 0),
            ]
        );
    }

    #[test]
    fn demographic_counts_sum_their_shards_by_question_and_answer() {
        fn cell(a: &str) -> [(&str, &str); 2] {
            [("question", "gender"), ("answer", a)]
        }
        let items = [
            item("EEO#gender#female", &cell("female"), &[("applicants", 3), ("hires", 1)]),
            item("EEO#gender#female#12", &cell("female"), &[("applicants", 4)]),
            item("EEO#gender#male#2", &cell("male"), &[("applicants", 1)]),
        ];
        assert_eq!(
            merge_demographics(&items),
            vec![("gender".into(), "female".into(), 7, 1), ("gender".into(), "male".into(), 1, 0)]
        );
    }

    #[test]
    fn histograms_and_exact_samples_sum_their_shards_per_stage() {
        // A stage may be called `exact`: its histogram is `TIS#exact[#k]`, its samples `TIS#exact#exact[#k]`.
        let items = [
            item("TIS#_to_hire", &[("stage", "_to_hire")], &[("samples", 1), ("b200", 1)]),
            item("TIS#exact", &[("stage", "exact")], &[("samples", 2), ("seconds", 30), ("b3", 2)]),
            item("TIS#exact#1", &[("stage", "exact")], &[("samples", 1), ("seconds", 20), ("b3", 1)]),
            item("TIS#exact#exact", &[("stage", "exact")], &[("x10", 2)]),
            item("TIS#exact#exact#1", &[("stage", "exact")], &[("x10", 1)]),
            item("TIS#screen#4", &[("stage", "screen")], &[("samples", 2), ("b5", 1), ("b9", 1)]),
            item("TIS#screen#exact#4", &[("stage", "screen")], &[("x7", 1)]),
        ];
        let got = merge_histograms(&items);
        let of = |stage: &str| got.iter().find(|h| h.stage == stage).unwrap().clone();
        assert_eq!(got.len(), 3);
        let e = of("exact");
        assert_eq!((e.buckets, e.exact), (BTreeMap::from([(3, 3)]), Some(BTreeMap::from([(10, 3)]))));
        let sc = of("screen");
        assert_eq!(sc.buckets, BTreeMap::from([(5, 1), (9, 1)]));
        assert_eq!(sc.exact, Some(BTreeMap::from([(7, 1)])));
        // One of two samples kept exactly (the other's shard was full): the buckets answer.
        assert!(sc.quantile(0.5).is_some_and(|q| q != 7.0));
        assert_eq!(of("_to_hire").exact, None);
        // Exact while the exact samples of every shard account for every sample.
        assert_eq!(of("exact").quantile(0.5), Some(10.0));
    }

    #[test]
    fn the_exact_decision_reads_one_shard_s_exact_items_and_counts_their_samples() {
        let job: JobId = "01J00000000000000000000000".parse().unwrap();
        let [in_stage, to_hire] = exact_keys(&job, "screen", Shard::default());
        assert_eq!(text(&in_stage, "sk").as_deref(), Some("TIS#screen#exact"), "shard 0: the unsharded key");
        assert_eq!(text(&to_hire, "sk").as_deref(), Some("TIS#_to_hire#exact"));
        let [in_stage, _] = exact_keys(&job, "screen", Shard::of("x", 64));
        assert!(text(&in_stage, "sk").unwrap().starts_with("TIS#screen#exact#"));
        let exact = item("TIS#screen#exact#5", &[("stage", "screen")], &[("x10", 2), ("x86400", 97), ("samples", 7)]);
        assert_eq!(exact_samples(&exact), 99);
        assert_eq!(exact_samples(&Item::new()), 0);
    }
}
