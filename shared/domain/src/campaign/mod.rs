//! Always-on drip campaigns: who is in a segment, what each step sends, and when. Pure rules over
//! plain values; the nurture task and the preview route both call them, so a preview explains
//! exactly what a run would do.
//!
//! Here: the campaign and its input. `segment`: who is in it; `step`: what each step sends, and when.
mod segment;
mod step;

use crate::error::Invalid;
use crate::ids::CampaignId;
use crate::parse::{Fields, Line};
use crate::prospect::{normalise_tags, Origin};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use segment::{exclusions, Exclusion, Segment};
pub use step::{
    cap_allows, content_for, due_after, due_step, jobs_for, sends_after, story_for, Due, Send, Step, StepContent,
    StepKind, JOBS_PER_EMAIL,
};

crate::choice!(CampaignStatus { Draft = "draft", Active = "active", Paused = "paused" });

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub segment: Segment,
    pub steps: Vec<Step>,
    /// At most this many nurture emails to one person in any 30 days, counting every campaign.
    pub max_per_30_days: Option<u32>,
    pub status: CampaignStatus,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

/// `POST /api/campaigns`.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub segment: Segment,
    pub steps: Vec<Step>,
    pub max_per_30_days: Option<u32>,
}

fn lines<const N: usize>(v: Option<Vec<Line<1, N>>>) -> Vec<String> {
    v.unwrap_or_default().into_iter().map(|l| l.0).collect()
}

impl CampaignInput {
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let name: Option<Line<1, 200>> = f.req("name");
            let segment = f.object("segment", true, |f| {
                let origins: Option<Option<Vec<Origin>>> = f.opt("origins");
                let credentials_all: Option<Option<Vec<Line<1, 50>>>> = f.opt("credentials_all");
                let departments_any: Option<Option<Vec<Line<1, 100>>>> = f.opt("departments_any");
                let locations_any: Option<Option<Vec<Line<1, 100>>>> = f.opt("locations_any");
                let tags_any: Option<Option<Vec<Line<1, 50>>>> = f.opt("tags_any");
                Some(Segment {
                    origins: origins?.unwrap_or_default(),
                    credentials_all: lines(credentials_all?),
                    departments_any: lines(departments_any?),
                    locations_any: lines(locations_any?),
                    tags_any: normalise_tags(lines(tags_any?)),
                })
            });
            let steps = f.objects("steps", 20, |f| {
                let after_days: Option<u64> = f.req("after_days");
                if after_days.is_some_and(|d| d > 365) {
                    f.error("after_days", "must be at most 365");
                }
                let content = f.object("content", true, |f| {
                    let kind: Option<StepKind> = f.req("kind");
                    let content_id: Option<Option<Line<1, 40>>> = f.opt("content_id");
                    let tags_any: Option<Option<Vec<Line<1, 50>>>> = f.opt("tags_any");
                    let (kind, content_id, tags_any) = (kind?, content_id?.map(|l| l.0), tags_any?);
                    if kind == StepKind::Story && content_id.is_none() && tags_any.as_ref().is_none_or(Vec::is_empty) {
                        f.error("content_id", "a story step needs content_id or tags_any");
                        return None;
                    }
                    Some(StepContent { kind, content_id, tags_any: normalise_tags(lines(tags_any)) })
                });
                if f.has_errors() {
                    return None;
                }
                Some(Step { after_days: after_days? as u32, content: content??.clone() })
            });
            let max: Option<Option<u64>> = f.opt("max_per_30_days");
            if max.flatten().is_some_and(|m| !(1..=30).contains(&m)) {
                f.error("max_per_30_days", "must be between 1 and 30");
            }
            let steps = steps?;
            if steps.as_ref().is_none_or(Vec::is_empty) {
                f.error("steps", "at least one step is required");
                return None;
            }
            Some(CampaignInput {
                name: name?.0,
                segment: segment??,
                steps: steps?,
                max_per_30_days: max?.map(|m| m as u32),
            })
        })
    }
}

fn any_match(wanted: &[String], have: &[String]) -> bool {
    wanted.iter().any(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Email;
    use crate::prospect::{parse_credential_text, Interests, Prospect, ProspectStatus};
    use serde_json::json;

    /// An active subscriber (the segment and step tests use it too).
    pub(super) fn prospect(credentials: &[&str], departments: &[&str]) -> Prospect {
        Prospect {
            id: "0".repeat(40).parse().unwrap(),
            email: Email::parse("a@b.co").unwrap(),
            first_name: None,
            last_name: None,
            status: ProspectStatus::Active,
            origins: vec![Origin::Subscriber],
            interests: Interests {
                departments: departments.iter().map(|d| d.to_string()).collect(),
                ..Default::default()
            },
            credentials: credentials.iter().map(|c| parse_credential_text(c).unwrap()).collect(),
            tags: vec!["icu".into()],
            candidate_id: None,
            silver_medal: None,
            created_at: None,
            updated_at: None,
            recent_sends: vec![],
            stories_sent: vec![],
        }
    }

    #[test]
    fn campaigns_parse_with_every_error() {
        let c = CampaignInput::parse(json!({"name": "Nurses", "segment": {"credentials_all": ["RN"]},
            "steps": [{"after_days": 0, "content": {"kind": "jobs"}}, {"after_days": 3, "content": {"kind": "story", "tags_any": ["ICU"]}}],
            "max_per_30_days": 4}))
        .unwrap();
        assert_eq!(c.steps[1].content.tags_any, vec!["icu"]);
        let Invalid::Fields(e) = CampaignInput::parse(json!({"name": "", "segment": {"origins": ["aliens"]},
            "steps": [{"after_days": 400, "content": {"kind": "story"}}], "max_per_30_days": 0}))
        .unwrap_err() else {
            panic!()
        };
        let mut fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(
            fields,
            vec!["max_per_30_days", "name", "segment.origins", "steps[0].after_days", "steps[0].content.content_id"]
        );
    }
}
