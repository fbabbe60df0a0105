//! The funnel's counters, and the copy of each job's stage list they are reported against, laid out
//! so that a job's funnel over a range that ends today is one query. In `STATS#JOB#<job>`:
//!
//! - `FUNNEL#<date>`: drafts started, applications submitted and drafts dropped that day;
//! - `FUNNEL#<date>#STAGE#<stage>`: applications that entered the stage that day (`entered`);
//! - `FUNNEL#~STAGES`: the job's stages (ids, names, kinds, in order), put in every write of the job
//!   (`jobs`), so the report needs no read of the job. Configuration only: the stats partition holds
//!   nobody's id, so the team is not copied and a hiring manager's report still reads the job.
//!
//! The counters are sharded like the others (`#<k>` appended, see `shards`) and carry their labels
//! (`day`, `stage`) as attributes; `STAGE` is no shard number and a stage id holds no `#`, so no two
//! share a key. `~` sorts after every digit, so the copy follows every day: `FUNNEL#<from>` to
//! `FUNNEL#~STAGES` holds the days from `from` on, with their stages and shards, then the copy. A
//! counter is dated when its event happens or earlier (a dropped draft: the day it was started), so
//! none lies after today: for a range to today or later that query reads the range and the copy and
//! nothing more, whatever the job's history (the merge still keeps to the range's days, against a
//! writer's clock ahead of the reader's). A range that ends earlier stops at `FUNNEL#<to>#~`, as
//! reading on to the copy would read every day since, and gets the copy by its key at the same time:
//! one sort-key range cannot hold a fixed key and any span of days without the days between them.
//!
//! Stage entries were `STAGE#<stage>#<date>#<channel>#<source>` before, sorted by stage first, so the
//! report read the job's whole history; nothing read them by channel or source. Nothing is deployed
//! yet (pre-release), so nothing written under the old keys is migrated or read.
use super::counters::{day_key, days_between, label, partition, Target};
use super::tx::{Change, Item, Tx};
use super::{key, n, num, s, text, Store};
use crate::error::StoreError;
use crate::ids::JobId;
use crate::stage::Stage;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The sort key of a job's stage list in its stats partition: after every `FUNNEL#<date>…` key.
pub(super) const STAGES: &str = "FUNNEL#~STAGES";

/// The funnel of one job over a date range.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunnelCounts {
    pub started: u64,
    pub submitted: u64,
    pub dropped: u64,
    /// Applications that entered each stage (by stage id).
    pub entered: BTreeMap<String, u64>,
}

/// A job's funnel with the job's stages, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub stages: Vec<Stage>,
    pub counts: FunnelCounts,
}

/// Funnel counters per job and day: `started`, `submitted`, `dropped`.
pub(super) fn count_funnel(tx: &mut Tx, at: Target, job: &JobId, day: NaiveDate, fields: &[&str]) {
    let expression =
        format!("ADD {} SET #day = :day", fields.iter().map(|f| format!("{f} :one")).collect::<Vec<_>>().join(", "));
    tx.update(
        "funnel",
        at.table,
        Change {
            key: key(partition(Some(job)), at.shard.sk(format_args!("FUNNEL#{}", day_key(day)))),
            expression,
            names: &[("#day", "day")],
            values: vec![(":one", n(1)), (":day", s(day_key(day)))],
            condition: None,
        },
    );
}

/// An application entered `stage` on `day` (a move's).
pub(super) fn count_entered(tx: &mut Tx, at: Target, job: &JobId, day: NaiveDate, stage: &str) {
    let day = day_key(day);
    tx.update(
        "entered",
        at.table,
        Change {
            key: key(partition(Some(job)), at.shard.sk(format_args!("FUNNEL#{day}#STAGE#{stage}"))),
            expression: "ADD entered :one SET #stage = :stage, #day = :day".into(),
            names: &[("#stage", "stage"), ("#day", "day")],
            values: vec![(":one", n(1)), (":stage", s(stage)), (":day", s(&day))],
            condition: None,
        },
    );
}

/// The item of a job's stage list in its stats partition, written with the job.
pub(super) fn stage_list(job: &JobId, stages: &[Stage]) -> Result<Item, StoreError> {
    let stages = serde_json::to_string(stages).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut item = key(partition(Some(job)), STAGES);
    item.insert("stages".into(), s(stages));
    Ok(item)
}

fn stages_of(item: &Item) -> Result<Vec<Stage>, StoreError> {
    let raw = text(item, "stages").ok_or_else(|| StoreError::Corrupt("stage list without stages".into()))?;
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("stage list: {}", crate::error::json_error(&e))))
}

/// The funnel of the days `from` to `to` in `items`, summed over shards: day items add to started,
/// submitted and dropped, stage entries (those with a `stage`) to their stage. An item of another day
/// is left out, and so is one without a day (the stage list).
fn merge(items: &[Item], from: NaiveDate, to: NaiveDate) -> FunnelCounts {
    let (from, to) = (day_key(from), day_key(to));
    let mut f = FunnelCounts::default();
    for i in items.iter().filter(|i| (from.as_str()..=to.as_str()).contains(&label(i, "day").as_str())) {
        match text(i, "stage") {
            Some(stage) => *f.entered.entry(stage).or_default() += num(i, "entered"),
            None => {
                f.started += num(i, "started");
                f.submitted += num(i, "submitted");
                f.dropped += num(i, "dropped");
            }
        }
    }
    f
}

impl Store {
    /// A job's funnel from `from` to `to` with its stages; `None` when there is no such job. One query
    /// when the range ends today or later, else that query and a read of the stage list at once (see
    /// the module doc).
    pub async fn funnel(&self, job: &JobId, from: NaiveDate, to: NaiveDate) -> Result<Option<Funnel>, StoreError> {
        let pk = partition(Some(job));
        let (first, last) = days_between("FUNNEL", from, to);
        let (items, copy) = if to >= self.clock().now().date_naive() {
            let (items, _) = self.range(&pk, &first, STAGES).await?;
            let copy = items.iter().find(|i| label(i, "sk") == STAGES).cloned();
            (items, copy)
        } else {
            let ((items, _), copy) = tokio::try_join!(self.range(&pk, &first, &last), self.get(pk.clone(), STAGES))?;
            (items, copy)
        };
        let Some(copy) = copy else { return Ok(None) };
        Ok(Some(Funnel { stages: stages_of(&copy)?, counts: merge(&items, from, to) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
    }

    /// A counter item: its day and stage labels, then number counts.
    fn item(sk: &str, day: &str, stage: Option<&str>, counts: &[(&str, u64)]) -> Item {
        let mut i = key("STATS#JOB#j", sk);
        i.insert("day".into(), s(day));
        if let Some(st) = stage {
            i.insert("stage".into(), s(st));
        }
        i.extend(counts.iter().map(|(k, v)| (k.to_string(), n(v))));
        i
    }

    #[test]
    fn the_funnel_sums_days_and_stage_entries_over_shards_within_the_range() {
        let stages = crate::stage::default_stages();
        let items = [
            // A day before the range, every kind of item: left out.
            item("FUNNEL#2026-02-28#3", "2026-02-28", None, &[("started", 50), ("submitted", 50)]),
            item("FUNNEL#2026-02-28#STAGE#screen", "2026-02-28", Some("screen"), &[("entered", 50)]),
            item("FUNNEL#2026-03-01", "2026-03-01", None, &[("started", 3), ("submitted", 2)]),
            item("FUNNEL#2026-03-01#7", "2026-03-01", None, &[("started", 1), ("dropped", 1)]),
            item("FUNNEL#2026-03-01#STAGE#screen", "2026-03-01", Some("screen"), &[("entered", 2)]),
            item("FUNNEL#2026-03-01#STAGE#screen#7", "2026-03-01", Some("screen"), &[("entered", 1)]),
            // A stage whose id is a number: a label, never taken for a shard.
            item("FUNNEL#2026-03-02#STAGE#2#1", "2026-03-02", Some("2"), &[("entered", 4)]),
            item("FUNNEL#2026-03-02#12", "2026-03-02", None, &[("submitted", 5)]),
            // After the range (a writer's clock ahead of the reader's): left out.
            item("FUNNEL#2026-03-03#STAGE#screen#1", "2026-03-03", Some("screen"), &[("entered", 9)]),
            item("FUNNEL#2026-03-03", "2026-03-03", None, &[("started", 9)]),
            stage_list(&"01J00000000000000000000000".parse().unwrap(), &stages).unwrap(),
        ];
        let f = merge(&items, day("2026-03-01"), day("2026-03-02"));
        assert_eq!((f.started, f.submitted, f.dropped), (4, 7, 1));
        assert_eq!(f.entered, BTreeMap::from([("screen".into(), 3), ("2".into(), 4)]));
        assert_eq!(stages_of(&items[10]).unwrap(), stages, "the copy reads back as the job's stages");
    }
}
