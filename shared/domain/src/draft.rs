//! Drafts: someone started an application. One not completed within `DRAFT_ABANDON_AFTER` is a
//! drop-off: counted in the funnel, and with talent-pool consent the person joins the CRM pool.
use crate::application::parse_touchpoint;
use crate::attribution::Attribution;
use crate::email::Email;
use crate::error::Invalid;
use crate::ids::{DraftId, JobId};
use crate::parse::{Fields, Line};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::choice!(DraftStatus { Open = "open", Submitted = "submitted", Abandoned = "abandoned" });

#[derive(Debug, Clone)]
pub struct DraftInput {
    pub email: Email,
    pub first_name: Option<String>,
    pub talent_pool: bool,
    pub source: crate::attribution::Touchpoint,
}

impl DraftInput {
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let email = f.req("email");
            let first_name: Option<Option<Line<1, 100>>> = f.opt("first_name");
            let consent = f.object("consent", false, |f| f.opt::<bool>("talent_pool"));
            let source = f.object("source", false, parse_touchpoint);
            Some(DraftInput {
                email: email?,
                first_name: first_name?.map(|l| l.0),
                talent_pool: consent?.flatten().unwrap_or(false),
                source: source?.unwrap_or_default(),
            })
        })
    }

    /// The open draft this input starts.
    pub fn draft(self, id: DraftId, job_id: JobId, attribution: Attribution, now: DateTime<Utc>) -> Draft {
        Draft {
            id,
            job_id,
            email: self.email,
            first_name: self.first_name,
            talent_pool: self.talent_pool,
            attribution,
            status: DraftStatus::Open,
            created_at: now,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub id: DraftId,
    pub job_id: JobId,
    pub email: Email,
    pub first_name: Option<String>,
    pub talent_pool: bool,
    pub attribution: Attribution,
    pub status: DraftStatus,
    pub created_at: DateTime<Utc>,
}

impl Draft {
    /// Whether an application to `job` from `email` completes this draft: only an open one of the
    /// same person and job.
    pub fn completed_by(&self, job: &JobId, email: &Email) -> bool {
        self.job_id == *job && self.email == *email && self.status == DraftStatus::Open
    }
}
