//! The job repository. Every write of a job also puts its stage list in its stats partition (see
//! `funnel`), in the same transaction or batch, so the funnel report never reads the job.
use super::funnel::stage_list;
use super::{n, s, store_error, Page, PageRequest, Store};
use crate::error::{ApiError, StoreError};
use crate::ids::JobId;
use crate::job::{Job, JobStatus, Workplace};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

const SK: &str = "JOB";

fn pk(id: &JobId) -> String {
    format!("JOB#{id}")
}

#[derive(Debug, Clone, Default)]
pub struct FeedState {
    /// Bumped by every job change the boards would see.
    pub generation: u64,
    /// The generation the last build saw, if there was a build.
    pub built_generation: Option<u64>,
    pub built_at: Option<chrono::DateTime<chrono::Utc>>,
    /// (feed, sha256 of its job entries) of the last build.
    pub hashes: Vec<(String, String)>,
}

/// Which jobs a list shows. Status picks the index partition; the rest are filters.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub team_member: Option<String>,
    pub department: Option<String>,
    pub country: Option<String>,
    pub workplace: Option<Workplace>,
}

fn to_item(job: &Job) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let doc = serde_json::to_string(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id = job.id.to_string();
    let mut item = HashMap::from([
        ("pk".to_string(), s(pk(&job.id))),
        ("sk".to_string(), s(SK)),
        ("gsi1pk".to_string(), s(format!("JOBS#{}", job.status))),
        ("gsi1sk".to_string(), s(&id)),
        ("gsi2pk".to_string(), s("JOBS")),
        ("gsi2sk".to_string(), s(&id)),
        ("status".to_string(), s(job.status.as_str())),
        ("version".to_string(), n(job.version)),
        ("department".to_string(), s(&job.spec.department)),
        ("country".to_string(), s(&job.spec.location.country.0)),
        ("workplace".to_string(), s(job.spec.workplace.as_str())),
        ("doc".to_string(), s(doc)),
    ]);
    let team: Vec<String> = job.spec.hiring_team.iter().map(|m| m.sub.clone()).collect();
    if !team.is_empty() {
        let mut team = team;
        team.sort();
        team.dedup();
        item.insert("team".to_string(), AttributeValue::Ss(team));
    }
    Ok(item)
}

/// A job write's failure: its condition (the only one in the transaction), or the store's.
fn tx_error(e: super::tx::TxError) -> StoreError {
    match e {
        super::tx::TxError::Failed(_) => StoreError::ConditionFailed,
        super::tx::TxError::Store(e) => e,
    }
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Job, StoreError> {
    let doc =
        item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| StoreError::Corrupt("job without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("job doc: {}", crate::error::json_error(&e))))
}

impl Store {
    /// Stores a new job and its stage list: one transaction, the job's put conditional.
    pub async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        let mut tx = super::tx::Tx::default();
        tx.put("job", &self.table, to_item(job)?, Some("attribute_not_exists(pk)"));
        tx.put("stages", &self.table, stage_list(&job.id, &job.spec.stages)?, None);
        tx.commit(self).await.map_err(tx_error)
    }

    /// Stores many new jobs and their stage lists, 25 items to a `BatchWriteItem` (seeding and
    /// imports; no conditions, so the ids must be new).
    pub async fn create_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(jobs.len() * 2);
        for j in jobs {
            requests.push(Self::put_request(to_item(j)?)?);
            requests.push(Self::put_request(stage_list(&j.id, &j.spec.stages)?)?);
        }
        self.batch_write(requests).await
    }

    pub async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.get(pk(id), SK).await?.as_ref().map(from_item).transpose()
    }

    /// Replaces a job if nobody changed it since `expected_version` was read, with its stage list and
    /// its event; a job that is or was on the boards (`mark_feeds`) also marks the feeds for the next
    /// build. One transaction.
    pub async fn replace_job(
        &self,
        job: &Job,
        expected_version: u64,
        event: &crate::event::Event,
        mark_feeds: bool,
    ) -> Result<(), StoreError> {
        let mut tx = super::tx::Tx::default();
        tx.put_if(
            "job",
            &self.table,
            to_item(job)?,
            Some("attribute_exists(pk) AND version = :v"),
            vec![(":v", n(expected_version))],
        );
        // Whether or not the stages changed: a few bytes, and the copy can never lag the job.
        tx.put("stages", &self.table, stage_list(&job.id, &job.spec.stages)?, None);
        if mark_feeds {
            tx.update(
                "feeds",
                &self.table,
                super::tx::Change {
                    key: super::key("FEEDS", "STATE"),
                    // A counter, not a time: builds compare generations, whatever the clocks say.
                    expression: "ADD generation :one".into(),
                    names: &[],
                    values: vec![(":one", n(1))],
                    condition: None,
                },
            );
        }
        super::events::record(&mut tx, &self.table, std::slice::from_ref(event));
        tx.commit(self).await.map_err(tx_error)
    }

    /// When the feeds were last marked changed and last built, and the content hash of each.
    pub async fn feed_state(&self) -> Result<FeedState, StoreError> {
        let item = self.get("FEEDS", "STATE").await?.unwrap_or_default();
        let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let time = |k: &str| {
            get(k).and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&chrono::Utc))
        };
        let num = |k: &str| item.get(k).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0u64);
        Ok(FeedState {
            generation: num("generation"),
            built_generation: item.contains_key("built_generation").then(|| num("built_generation")),
            built_at: time("built_at"),
            hashes: ["indeed", "linkedin", "jobs_json"]
                .iter()
                .filter_map(|f| Some((f.to_string(), get(&format!("sha_{f}"))?)))
                .collect(),
        })
    }

    /// Records a build of the jobs as they were at `generation`; a change marked since is rebuilt next time.
    pub async fn record_feed_build(
        &self,
        generation: u64,
        started_at: chrono::DateTime<chrono::Utc>,
        hashes: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut expression = String::from("SET built_at = :at, built_generation = :gen");
        let mut req = self.db.update_item().table_name(&self.table).set_key(Some(super::key("FEEDS", "STATE")));
        for (i, (feed, hash)) in hashes.iter().enumerate() {
            expression.push_str(&format!(", sha_{feed} = :h{i}"));
            req = req.expression_attribute_values(format!(":h{i}"), s(hash));
        }
        req.update_expression(expression)
            .expression_attribute_values(":at", s(crate::clock::rfc3339(started_at)))
            .expression_attribute_values(":gen", n(generation))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Every open job (the nurture task and campaign previews match them): one query a page of 100.
    pub async fn open_jobs(&self) -> Result<Vec<Job>, ApiError> {
        let filter = JobFilter { status: Some(crate::job::JobStatus::Open), ..Default::default() };
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_jobs(&filter, &PageRequest { limit: 100, cursor }).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// One page of jobs, newest first: one query, never a scan.
    pub async fn list_jobs(&self, filter: &JobFilter, page: &PageRequest) -> Result<Page<Job>, ApiError> {
        let (index, pk_attr, partition) = match filter.status {
            Some(st) => ("GSI1", "gsi1pk", format!("JOBS#{st}")),
            None => ("GSI2", "gsi2pk", "JOBS".to_string()),
        };
        let scope = format!(
            "jobs|{partition}|{:?}|{:?}|{:?}|{:?}",
            filter.team_member, filter.department, filter.country, filter.workplace
        );
        let mut req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(&partition))
            .scan_index_forward(false)
            .limit(page.limit)
            .set_exclusive_start_key(self.start_key(&scope, page).await?);
        let mut conditions = Vec::new();
        let mut add = |cond: &str, name: &str, value: &str| {
            conditions.push(cond.replace('#', &format!("#{name}")).replace(':', &format!(":{name}")));
            (format!("#{name}"), name.to_string(), format!(":{name}"), s(value))
        };
        let mut binds = Vec::new();
        if let Some(sub) = &filter.team_member {
            binds.push(add("contains(#, :)", "team", sub));
        }
        if let Some(d) = &filter.department {
            binds.push(add("# = :", "department", d));
        }
        if let Some(c) = &filter.country {
            binds.push(add("# = :", "country", c));
        }
        if let Some(w) = filter.workplace {
            binds.push(add("# = :", "workplace", w.as_str()));
        }
        if !conditions.is_empty() {
            req = req.filter_expression(conditions.join(" AND "));
            for (name_ph, name, value_ph, value) in binds {
                req = req.expression_attribute_names(name_ph, name).expression_attribute_values(value_ph, value);
            }
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key.as_ref()).await? })
    }
}
