//! Applicant tracking: reading applications with what hangs off them, and moving them through
//! stages in one conditional write transaction with the report counters.
use super::intake::{application_item, count_hire};
use super::tx::{Change, Tx, TxError};
use super::{doc, key, n, s, store_error, Page, PageRequest, Store};
use crate::application::{Application, Candidate};
use crate::clock::rfc3339;
use crate::error::{ApiError, StoreError};
use crate::ids::{ApplicationId, JobId};
use crate::job::Job;
use crate::report::{time_bucket, TIME_TO_HIRE};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// Which exact-duration items a move adds to (see [`EXACT_SAMPLES`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactSamples {
    pub in_stage: bool,
    pub to_hire: bool,
}

/// One exact duration: `x<seconds>` counts how many samples took exactly that long.
fn exact_sample(tx: &mut Tx, table: &str, job: &JobId, stage: &str, seconds: i64) {
    let attr = format!("x{}", seconds.max(0));
    tx.update(
        "exact",
        table,
        Change {
            key: key(format!("STATS#JOB#{job}"), format!("TIS#{stage}#exact")),
            expression: "ADD #x :one SET #stage = :stage".into(),
            names: &[("#x", attr.as_str()), ("#stage", "stage")],
            values: vec![(":one", n(1)), (":stage", s(stage))],
            condition: None,
        },
    );
}

/// An application with its job and candidate.
pub struct ApplicationContext {
    pub application: Application,
    pub job: Job,
    pub candidate: Candidate,
    /// Samples so far in the histograms a move would add to (the current stage's, and time to hire):
    /// while small, the move also records its exact duration, so small sets get exact quantiles.
    pub samples_in_stage: u64,
    pub samples_to_hire: u64,
    /// The applicant's demographic answers, read only so a hire is counted in the aggregate; never
    /// shown (no view reads this field).
    pub demographics: Option<crate::demographics::Demographics>,
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
        for pk in [format!("STATS#JOB#{job}"), "STATS#ALL".to_string()] {
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

/// Up to this many samples, a stage's durations are also kept exactly.
pub const EXACT_SAMPLES: u64 = 100;

/// A silver medalist who consented to the talent pool: added in the same transaction as the exit.
pub struct KeepInTouch<'a> {
    pub email_hash: &'a str,
    pub candidate: &'a Candidate,
    pub record: serde_json::Value,
}

impl Store {
    /// The application (one read), then its job and candidate (one batch read).
    pub async fn application_context(&self, id: &ApplicationId) -> Result<Option<ApplicationContext>, StoreError> {
        let Some(item) = self.get(format!("APP#{id}"), "APP").await? else { return Ok(None) };
        let application: Application = doc(&item)?;
        let stats = format!("STATS#JOB#{}", application.job_id);
        let in_stage = format!("TIS#{}", application.stage);
        let to_hire = format!("TIS#{TIME_TO_HIRE}");
        let items = self
            .batch_get(vec![
                key(format!("JOB#{}", application.job_id), "JOB"),
                key(format!("CAND#{}", application.candidate_id), "CAND"),
                key(stats.clone(), in_stage.clone()),
                key(stats, to_hire.clone()),
                key(format!("DEMOGRAPHICS#{id}"), "DEMOGRAPHICS"),
            ])
            .await?;
        let (mut job, mut candidate, mut samples_in_stage, mut samples_to_hire) = (None, None, 0, 0);
        let mut demographics = None;
        let samples = |item: &std::collections::HashMap<String, AttributeValue>| {
            item.get("samples").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
        };
        for item in &items {
            match item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some("JOB") => job = Some(doc::<Job>(item)?),
                Some("CAND") => candidate = Some(doc::<Candidate>(item)?),
                Some("DEMOGRAPHICS") => demographics = Some(doc(item)?),
                Some(sk) if sk == in_stage => samples_in_stage = samples(item),
                Some(sk) if sk == to_hire => samples_to_hire = samples(item),
                _ => {}
            }
        }
        match (job, candidate) {
            (Some(job), Some(candidate)) => Ok(Some(ApplicationContext {
                application,
                job,
                candidate,
                samples_in_stage,
                samples_to_hire,
                demographics,
            })),
            _ => Err(StoreError::Corrupt(format!("application {id} without its job or candidate"))),
        }
    }

    /// Writes a moved application if its version is still `expected`, with the stage, hire and
    /// time-in-stage counters and, for a consenting silver medalist, the prospect: one transaction.
    pub async fn move_application(
        &self,
        moved: &Application,
        email_hash: &str,
        expected: u64,
        left_stage: &str,
        seconds_in_stage: i64,
        hired: bool,
        keep: Option<KeepInTouch<'_>>,
        exact: ExactSamples,
        demographics: Option<&crate::demographics::Demographics>,
    ) -> Result<(), StoreError> {
        let t = &self.table;
        let mut tx = Tx::default();
        tx.put_if("application", t, application_item(moved)?, Some("version = :v"), vec![(":v", n(expected))]);
        let now: DateTime<Utc> = moved.history.last().map(|h| h.at).unwrap_or(moved.created_at);
        let day = now.date_naive().format("%Y-%m-%d").to_string();
        let a = &moved.attribution;
        super::privacy::touch_retention(&mut tx, t, email_hash, &moved.candidate_id, now);
        tx.update(
            "entered",
            t,
            Change {
                key: key(
                    format!("STATS#JOB#{}", moved.job_id),
                    format!("STAGE#{}#{day}#{}#{}", moved.stage, a.channel, a.source),
                ),
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
        let bucket = format!("b{}", time_bucket(seconds_in_stage));
        tx.update(
            "time_in_stage",
            t,
            Change {
                key: key(format!("STATS#JOB#{}", moved.job_id), format!("TIS#{left_stage}")),
                expression: "ADD samples :one, seconds :secs, #bucket :one SET #stage = :stage".into(),
                names: &[("#bucket", bucket.as_str()), ("#stage", "stage")],
                values: vec![(":one", n(1)), (":secs", n(seconds_in_stage.max(0))), (":stage", s(left_stage))],
                condition: None,
            },
        );
        if exact.in_stage {
            exact_sample(&mut tx, t, &moved.job_id, left_stage, seconds_in_stage);
        }
        if hired {
            count_hire(&mut tx, t, &moved.job_id, now.date_naive(), a);
            if let (crate::attribution::Channel::CrmCampaign, Some(c)) = (a.channel, &a.campaign) {
                super::crm::count_campaign(&mut tx, t, c, "hired");
            }
            if let Some(d) = demographics {
                count_demographics(&mut tx, t, &moved.job_id, d, "hires");
            }
            if exact.to_hire {
                exact_sample(&mut tx, t, &moved.job_id, TIME_TO_HIRE, (now - moved.created_at).num_seconds());
            }
            // Time to hire: from the application to the hire, in the same histogram form.
            let to_hire = (now - moved.created_at).num_seconds();
            let bucket = format!("b{}", time_bucket(to_hire));
            tx.update(
                "time_to_hire",
                t,
                Change {
                    key: key(format!("STATS#JOB#{}", moved.job_id), format!("TIS#{TIME_TO_HIRE}")),
                    expression: "ADD samples :one, seconds :secs, #bucket :one SET #stage = :stage".into(),
                    names: &[("#bucket", bucket.as_str()), ("#stage", "stage")],
                    values: vec![(":one", n(1)), (":secs", n(to_hire.max(0))), (":stage", s(TIME_TO_HIRE))],
                    condition: None,
                },
            );
        }
        if let Some(k) = keep {
            let c = k.candidate;
            let (marks, mark_values) = super::crm::pool_marks(k.email_hash, now);
            let mut kinds: Vec<String> = c.credentials.iter().map(|c| c.kind.clone()).collect();
            kinds.sort();
            kinds.dedup();
            tx.update(
                "prospect",
                t,
                Change {
                    key: key(format!("EMAIL#{}", k.email_hash), "PROSPECT"),
                    expression: format!(
                        "SET email = :email, first_name = if_not_exists(first_name, :first), \
                         last_name = if_not_exists(last_name, :last), created_at = if_not_exists(created_at, :now), \
                         #status = if_not_exists(#status, :active), updated_at = :now, silver_medal = :record, \
                         credentials = if_not_exists(credentials, :creds), candidate_id = :cid{marks}{} \
                         ADD origins :origin",
                        if kinds.is_empty() {
                            ""
                        } else {
                            ", credential_types = if_not_exists(credential_types, :kinds)"
                        }
                    ),
                    names: &[("#status", "status")],
                    values: {
                        let mut v = vec![
                            (":email", s(&c.email.0)),
                            (":first", s(&c.first_name)),
                            (":last", s(&c.last_name)),
                            (":now", s(rfc3339(now))),
                            (":active", s("active")),
                            (":record", s(k.record.to_string())),
                            (":creds", s(serde_json::to_string(&c.credentials).unwrap_or_default())),
                            (":cid", s(c.id.to_string())),
                            (":origin", AttributeValue::Ss(vec!["silver_medalist".into()])),
                        ];
                        v.extend(mark_values);
                        if !kinds.is_empty() {
                            v.push((":kinds", AttributeValue::Ss(kinds)));
                        }
                        v
                    },
                    condition: None,
                },
            );
        }
        match tx.commit(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Failed(labels)) if labels.contains(&"application") => Err(StoreError::ConditionFailed),
            Err(TxError::Failed(_)) | Err(TxError::Conflict) => Err(StoreError::ConditionFailed),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// A job's applications, newest first, optionally by stage or status: one query a page.
    pub async fn list_applications(
        &self,
        job: &JobId,
        stage: Option<&str>,
        status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Application>, ApiError> {
        let scope = format!("apps|{job}|{stage:?}|{status:?}");
        let mut req = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(format!("JOBAPPS#{job}")))
            .scan_index_forward(false)
            .limit(page.limit)
            .set_exclusive_start_key(self.start_key(&scope, page)?);
        let mut filters = vec![];
        if let Some(st) = stage {
            filters.push("#stage = :stage");
            req = req.expression_attribute_names("#stage", "stage").expression_attribute_values(":stage", s(st));
        }
        if let Some(st) = status {
            filters.push("#status = :status");
            req = req.expression_attribute_names("#status", "status").expression_attribute_values(":status", s(st));
        }
        if !filters.is_empty() {
            req = req.filter_expression(filters.join(" AND "));
        }
        let out = req.send().await.map_err(store_error)?;
        let items = out.items().iter().map(doc).collect::<Result<Vec<Application>, _>>()?;
        Ok(Page { items, next_cursor: self.next_cursor(&scope, out.last_evaluated_key.as_ref()) })
    }
}

impl Store {
    /// A new interview: its item under the application, and a pointer by id for feedback.
    pub async fn create_interview(&self, i: &crate::interview::Interview) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        let mut item = key(format!("APP#{}", i.application_id), format!("INT#{}", i.id));
        item.insert("doc".into(), super::to_doc(i)?);
        tx.put("interview", &self.table, item, Some("attribute_not_exists(pk)"));
        let mut pointer = key(format!("INTERVIEW#{}", i.id), "INTERVIEW");
        pointer.insert("doc".into(), super::to_doc(i)?);
        tx.put("pointer", &self.table, pointer, Some("attribute_not_exists(pk)"));
        tx.commit(self).await.map_err(|e| match e {
            TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    pub async fn get_interview(
        &self,
        id: &crate::ids::InterviewId,
    ) -> Result<Option<crate::interview::Interview>, StoreError> {
        self.get(format!("INTERVIEW#{id}"), "INTERVIEW").await?.as_ref().map(doc).transpose()
    }

    /// One person's feedback on an interview; giving it again replaces it.
    pub async fn put_feedback(
        &self,
        application: &ApplicationId,
        f: &crate::interview::Feedback,
    ) -> Result<(), StoreError> {
        let mut item = key(format!("APP#{application}"), format!("INT#{}#FB#{}", f.interview_id, f.by));
        item.insert("doc".into(), super::to_doc(f)?);
        self.db.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(store_error)?;
        Ok(())
    }

    /// An application's interviews, each with its feedback: one query on the application's partition.
    pub async fn interviews(&self, application: &ApplicationId) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut interviews: Vec<serde_json::Value> = Vec::new();
        // Sort keys put each interview right before its feedback.
        for item in self.with_prefix(&format!("APP#{application}"), "INT#").await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let mut v: serde_json::Value = doc(&item)?;
            if sk.contains("#FB#") {
                if let Some(list) = interviews.last_mut().and_then(|last| last["feedback"].as_array_mut()) {
                    list.push(v);
                }
            } else {
                v["feedback"] = serde_json::json!([]);
                interviews.push(v);
            }
        }
        Ok(interviews)
    }
}

impl Store {
    /// The demographic counters of one job or all jobs: one query.
    pub async fn demographic_counts(&self, job: Option<&JobId>) -> Result<Vec<(String, String, u64, u64)>, StoreError> {
        let pk = job.map(|j| format!("STATS#JOB#{j}")).unwrap_or_else(|| "STATS#ALL".into());
        let num = |i: &std::collections::HashMap<String, AttributeValue>, k: &str| {
            i.get(k).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
        };
        let text = |i: &std::collections::HashMap<String, AttributeValue>, k: &str| {
            i.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        Ok(self
            .with_prefix(&pk, "EEO#")
            .await?
            .iter()
            .map(|i| (text(i, "question"), text(i, "answer"), num(i, "applicants"), num(i, "hires")))
            .collect())
    }

    /// Time-in-stage histograms of one job (and time to hire): one query.
    pub async fn time_histograms(&self, job: &JobId) -> Result<Vec<crate::report::Histogram>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :tis)")
            .expression_attribute_values(":pk", s(format!("STATS#JOB#{job}")))
            .expression_attribute_values(":tis", s("TIS#"))
            .send()
            .await
            .map_err(store_error)?;
        let counts = |i: &std::collections::HashMap<String, AttributeValue>, prefix: char| {
            i.iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.parse().ok()?, v.as_n().ok()?.parse().ok()?)))
                .collect::<std::collections::BTreeMap<u32, u64>>()
        };
        let mut out_h: Vec<crate::report::Histogram> = Vec::new();
        let sk = |i: &std::collections::HashMap<String, AttributeValue>| {
            i.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        for i in out.items().iter().filter(|i| !sk(i).ends_with("#exact")) {
            let stage = i.get("stage").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let exact = out.items().iter().find(|e| sk(e) == format!("TIS#{stage}#exact")).map(|e| counts(e, 'x'));
            out_h.push(crate::report::Histogram { stage, buckets: counts(i, 'b'), exact });
        }
        Ok(out_h)
    }
}
