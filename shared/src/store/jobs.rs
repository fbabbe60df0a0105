//! The job repository.
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

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Job, StoreError> {
    let doc =
        item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| StoreError::Corrupt("job without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("job doc: {e}")))
}

impl Store {
    /// Stores a new job: one conditional write.
    pub async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(job)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.get(pk(id), SK).await?.as_ref().map(from_item).transpose()
    }

    /// Replaces a job if nobody changed it since `expected_version` was read: one conditional write.
    pub async fn replace_job(&self, job: &Job, expected_version: u64) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(job)?))
            .condition_expression("attribute_exists(pk) AND version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
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
            .set_exclusive_start_key(self.start_key(&scope, page)?);
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
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key.as_ref()) })
    }
}
