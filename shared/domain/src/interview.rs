//! Interviews of an application and the feedback each interviewer gives.
use crate::error::Invalid;
use crate::ids::{ApplicationId, InterviewId, JobId};
use crate::parse::{Fields, Line, Text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::choice!(InterviewKind {
    Phone = "phone", Video = "video", Onsite = "onsite", Technical = "technical", Panel = "panel", Other = "other",
});
crate::choice!(Recommendation { StrongNo = "strong_no", No = "no", Yes = "yes", StrongYes = "strong_yes" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interview {
    pub id: InterviewId,
    pub application_id: ApplicationId,
    pub job_id: JobId,
    pub scheduled_at: DateTime<Utc>,
    pub kind: InterviewKind,
    pub interviewers: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub interview_id: InterviewId,
    pub by: String,
    pub rating: u8,
    pub recommendation: Recommendation,
    pub notes: Option<String>,
    pub at: DateTime<Utc>,
}

pub struct NewInterview {
    pub scheduled_at: DateTime<Utc>,
    pub kind: InterviewKind,
    pub interviewers: Vec<String>,
}

impl NewInterview {
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let scheduled_at = f.req("scheduled_at");
            let kind = f.req("kind");
            let interviewers: Option<Vec<Line<1, 128>>> = f.req("interviewers");
            if interviewers.as_ref().is_some_and(|i| i.is_empty() || i.len() > 20) {
                f.error("interviewers", "must name 1 to 20 people");
                return None;
            }
            Some(NewInterview {
                scheduled_at: scheduled_at?,
                kind: kind?,
                interviewers: interviewers?.into_iter().map(|l| l.0).collect(),
            })
        })
    }
}

pub struct NewFeedback {
    pub rating: u8,
    pub recommendation: Recommendation,
    pub notes: Option<String>,
}

impl NewFeedback {
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let rating: Option<u64> = f.req("rating");
            let recommendation = f.req("recommendation");
            let notes: Option<Option<Text<0, 10_000>>> = f.opt("notes");
            if rating.is_some_and(|r| !(1..=4).contains(&r)) {
                f.error("rating", "must be 1, 2, 3 or 4");
                return None;
            }
            Some(NewFeedback {
                rating: rating? as u8,
                recommendation: recommendation?,
                notes: notes?.map(|n| n.0).filter(|n| !n.is_empty()),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parsing() {
        let i = NewInterview::parse(
            json!({"scheduled_at": "2026-12-01T10:00:00Z", "kind": "video", "interviewers": ["u1", "u2"]}),
        )
        .unwrap();
        assert_eq!((i.kind, i.interviewers.len()), (InterviewKind::Video, 2));
        assert!(NewInterview::parse(json!({"scheduled_at": "tomorrow", "kind": "video", "interviewers": []})).is_err());
        let f = NewFeedback::parse(json!({"rating": 4, "recommendation": "strong_yes", "notes": "Great"})).unwrap();
        assert_eq!((f.rating, f.recommendation), (4, Recommendation::StrongYes));
        assert!(NewFeedback::parse(json!({"rating": 5, "recommendation": "yes"})).is_err());
        assert!(NewFeedback::parse(json!({"rating": 3, "recommendation": "maybe"})).is_err());
    }
}
