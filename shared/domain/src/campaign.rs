//! Always-on drip campaigns: who is in a segment, what each step sends, and when. Pure rules over
//! plain values; the nurture task and the preview route both call them, so a preview explains
//! exactly what a run would do.
use crate::consent::{may_nurture, Consent};
use crate::content::Story;
use crate::error::Invalid;
use crate::ids::CampaignId;
use crate::job::Job;
use crate::parse::{Fields, Line};
use crate::prospect::{normalise_tags, Origin, Prospect, ProspectStatus};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::choice!(CampaignStatus { Draft = "draft", Active = "active", Paused = "paused" });
crate::choice!(StepKind { Story = "story", Jobs = "jobs" });

/// Who a campaign is for. Every rule given must hold; an empty rule holds for everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    #[serde(default)]
    pub origins: Vec<Origin>,
    /// Credential types the person must all hold, unexpired.
    #[serde(default)]
    pub credentials_all: Vec<String>,
    #[serde(default)]
    pub departments_any: Vec<String>,
    #[serde(default)]
    pub locations_any: Vec<String>,
    #[serde(default)]
    pub tags_any: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepContent {
    pub kind: StepKind,
    /// A story step: this story, or else the first story with one of `tags_any` not yet sent.
    pub content_id: Option<String>,
    #[serde(default)]
    pub tags_any: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Days after the previous step went out (the first step: after enrolment).
    pub after_days: u32,
    pub content: StepContent,
}

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

/// Why a prospect is left out of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Exclusion {
    /// Only active prospects are mailed (not pending consent, paused, applied, unsubscribed…).
    Status {
        status: ProspectStatus,
    },
    Origin {
        wanted: Vec<Origin>,
    },
    MissingCredential {
        credential: String,
    },
    ExpiredCredential {
        credential: String,
    },
    Department {
        wanted: Vec<String>,
    },
    Location {
        wanted: Vec<String>,
    },
    Tag {
        wanted: Vec<String>,
    },
}

fn any_match(wanted: &[String], have: &[String]) -> bool {
    wanted.iter().any(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w)))
}

/// Every reason the prospect is outside the segment on `today`; empty means in.
pub fn exclusions(seg: &Segment, p: &Prospect, today: NaiveDate) -> Vec<Exclusion> {
    let mut out = Vec::new();
    if p.status != ProspectStatus::Active {
        out.push(Exclusion::Status { status: p.status });
    }
    if !seg.origins.is_empty() && !seg.origins.iter().any(|o| p.origins.contains(o)) {
        out.push(Exclusion::Origin { wanted: seg.origins.clone() });
    }
    let valid = p.valid_credentials(today);
    for c in &seg.credentials_all {
        if !valid.iter().any(|v| v.eq_ignore_ascii_case(c)) {
            if p.credentials.iter().any(|h| h.kind.eq_ignore_ascii_case(c)) {
                out.push(Exclusion::ExpiredCredential { credential: c.clone() });
            } else {
                out.push(Exclusion::MissingCredential { credential: c.clone() });
            }
        }
    }
    if !seg.departments_any.is_empty() && !any_match(&seg.departments_any, &p.interests.departments) {
        out.push(Exclusion::Department { wanted: seg.departments_any.clone() });
    }
    if !seg.locations_any.is_empty() && !any_match(&seg.locations_any, &p.interests.locations) {
        out.push(Exclusion::Location { wanted: seg.locations_any.clone() });
    }
    if !seg.tags_any.is_empty() && !any_match(&seg.tags_any, &p.tags) {
        out.push(Exclusion::Tag { wanted: seg.tags_any.clone() });
    }
    out
}

/// Does the job suit the person's stated interests? No interests stated means any job does.
fn suits(job: &Job, p: &Prospect) -> bool {
    let i = &p.interests;
    let loc = &job.spec.location;
    let dept = i.departments.is_empty() || any_match(&i.departments, std::slice::from_ref(&job.spec.department));
    let place = i.locations.is_empty()
        || any_match(&i.locations, &[loc.city.clone(), loc.region.clone(), loc.country.0.clone()]);
    let workplace = i.workplace.is_empty() || i.workplace.contains(&job.spec.workplace);
    dept && place && workplace
}

/// At most this many jobs in one email.
pub const JOBS_PER_EMAIL: usize = 5;

/// The open jobs a `jobs` step may send: suited to the person's interests, and only those whose
/// every required credential the person holds unexpired. Never any other.
pub fn jobs_for<'a>(jobs: &'a [Job], p: &Prospect, now: DateTime<Utc>) -> Vec<&'a Job> {
    let valid = p.valid_credentials(now.date_naive());
    jobs.iter()
        .filter(|j| j.is_live(now))
        .filter(|j| j.spec.required_credentials.iter().all(|c| valid.iter().any(|v| v.eq_ignore_ascii_case(c))))
        .filter(|j| suits(j, p))
        .take(JOBS_PER_EMAIL)
        .collect()
}

/// The story a step sends to this person: the named one, or the first matching one, never one
/// already sent to them.
pub fn story_for<'a>(step: &StepContent, stories: &'a [Story], p: &Prospect) -> Option<&'a Story> {
    let unsent = |s: &&Story| !p.stories_sent.contains(&s.id);
    match &step.content_id {
        Some(id) => stories.iter().filter(unsent).find(|s| &s.id == id),
        None => stories.iter().filter(unsent).find(|s| any_match(&step.tags_any, &s.tags)),
    }
}

/// What one step sends one person.
#[derive(Debug, Clone, PartialEq)]
pub enum Send<'a> {
    Story(&'a Story),
    Jobs(Vec<&'a Job>),
    /// Nothing suits (no unsent story, no job they qualify for): the step passes without an email.
    Nothing(&'static str),
}

pub fn content_for<'a>(
    step: &Step,
    stories: &'a [Story],
    jobs: &'a [Job],
    p: &Prospect,
    now: DateTime<Utc>,
) -> Send<'a> {
    match step.content.kind {
        StepKind::Story => story_for(&step.content, stories, p)
            .map(Send::Story)
            .unwrap_or(Send::Nothing("no story left that this person has not had")),
        StepKind::Jobs => {
            let jobs = jobs_for(jobs, p, now);
            if jobs.is_empty() {
                Send::Nothing("no open job suits this person and their credentials")
            } else {
                Send::Jobs(jobs)
            }
        }
    }
}

/// When the `max_per_30_days` cap lets the next email go: now, or when the oldest of the last 30
/// days' sends falls out of the window.
pub fn cap_allows(max: Option<u32>, recent: &[DateTime<Utc>], now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
    let Some(max) = max else { return Ok(()) };
    let window = Duration::days(30);
    let mut inside: Vec<DateTime<Utc>> = recent.iter().copied().filter(|t| *t > now - window).collect();
    if (inside.len() as u32) < max {
        return Ok(());
    }
    inside.sort();
    Err(inside[inside.len() - max as usize] + window)
}

/// When step `index` falls due, counted from the previous step (or enrolment).
pub fn due_after(steps: &[Step], index: usize, previous: DateTime<Utc>) -> Option<DateTime<Utc>> {
    steps.get(index).map(|s| previous + Duration::days(i64::from(s.after_days)))
}

/// What a run does with a person's due enrolment, the checks in the order a run makes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Due<'a> {
    /// Their nurture in this campaign ends, for this reason.
    End(String),
    /// Not yet: look again at this time.
    Defer(DateTime<Utc>, &'static str),
    /// The step is theirs now.
    Send { step: &'a Step, to: &'a Prospect },
}

/// Where enrolment at step `index` of `c` stands for the person `p` (`None`: no longer in the pool),
/// given their suppression and latest consent records.
pub fn due_step<'a>(
    c: &'a Campaign,
    p: Option<&'a Prospect>,
    suppressed: Option<crate::prospect::SuppressionReason>,
    consents: &[Consent],
    index: usize,
    now: DateTime<Utc>,
) -> Due<'a> {
    let Some(p) = p else { return Due::End("no longer in the pool".into()) };
    if let Some(reason) = suppressed {
        return Due::End(format!("suppressed: {reason}"));
    }
    if !may_nurture(consents) {
        // Withdrawn (or never given): their nurture ends now.
        return Due::End("no talent-pool and email consent".into());
    }
    if c.status != CampaignStatus::Active {
        // Paused: look again tomorrow.
        return Due::Defer(now + Duration::days(1), "campaign paused");
    }
    let Some(step) = c.steps.get(index) else { return Due::End("finished".into()) };
    let out = exclusions(&c.segment, p, now.date_naive());
    if !out.is_empty() {
        // Applied, unsubscribed, paused, or no longer qualified: their nurture in this campaign ends.
        return Due::End(serde_json::to_string(&out).unwrap_or_default());
    }
    if let Err(at) = cap_allows(c.max_per_30_days, &p.recent_sends, now) {
        return Due::Defer(at, "max_per_30_days");
    }
    Due::Send { step, to: p }
}

/// The person's nurture sends the cap counts after one at `now`: the last 30 days', and this one
/// unless SES refused it.
pub fn sends_after(recent: &[DateTime<Utc>], now: DateTime<Utc>, delivered: bool) -> Vec<DateTime<Utc>> {
    let mut kept: Vec<DateTime<Utc>> = recent.iter().copied().filter(|t| *t > now - Duration::days(30)).collect();
    if delivered {
        kept.push(now);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Email;
    use crate::prospect::{parse_credential_text, Interests};
    use serde_json::json;

    fn prospect(credentials: &[&str], departments: &[&str]) -> Prospect {
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

    fn job(title: &str, dept: &str, creds: &[&str]) -> Job {
        let spec = crate::job::JobSpec::parse(json!({"title": title, "department": dept,
            "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB"}, "workplace": "onsite",
            "employment_type": "full_time", "description_html": "<p>x</p>", "required_credentials": creds}))
        .unwrap();
        let now = Utc::now();
        Job::new(crate::ids::JobId::new(&crate::clock::SystemClock), spec, now).publish(now).unwrap()
    }

    #[test]
    fn segments_explain_every_exclusion() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let seg = Segment {
            origins: vec![Origin::SilverMedalist],
            credentials_all: vec!["RN".into(), "BLS".into()],
            departments_any: vec!["nursing".into()],
            tags_any: vec!["icu".into()],
            ..Default::default()
        };
        let p = prospect(&["RN@2026-01-01"], &["Nursing"]);
        assert_eq!(
            exclusions(&seg, &p, today),
            vec![
                Exclusion::Origin { wanted: vec![Origin::SilverMedalist] },
                Exclusion::ExpiredCredential { credential: "RN".into() },
                Exclusion::MissingCredential { credential: "BLS".into() },
            ]
        );
        let mut q = prospect(&["RN@2027-01-01", "BLS"], &["Nursing"]);
        q.origins.push(Origin::SilverMedalist);
        assert!(exclusions(&seg, &q, today).is_empty());
        q.status = ProspectStatus::Applied;
        assert_eq!(exclusions(&seg, &q, today), vec![Exclusion::Status { status: ProspectStatus::Applied }]);
    }

    #[test]
    fn credential_gated_jobs_reach_only_holders_of_a_valid_credential() {
        let jobs = vec![job("Registered Nurse", "Nursing", &["RN"]), job("Healthcare Assistant", "Nursing", &[])];
        let now = Utc::now();
        let titles = |p: &Prospect| jobs_for(&jobs, p, now).iter().map(|j| j.spec.title.clone()).collect::<Vec<_>>();
        assert_eq!(titles(&prospect(&["RN"], &["Nursing"])), vec!["Registered Nurse", "Healthcare Assistant"]);
        assert_eq!(titles(&prospect(&[], &["Nursing"])), vec!["Healthcare Assistant"]);
        assert_eq!(titles(&prospect(&["RN@2020-01-01"], &["Nursing"])), vec!["Healthcare Assistant"], "expired");
        assert!(titles(&prospect(&["RN"], &["Finance"])).is_empty(), "not their interest");
    }

    #[test]
    fn stories_are_never_sent_twice_and_the_cap_defers() {
        let now = Utc::now();
        let story = |id: &str, tag: &str| Story {
            id: id.into(),
            kind: crate::content::ContentKind::Story,
            title: id.into(),
            summary: "s".into(),
            body_html: "<p>b</p>".into(),
            tags: vec![tag.into()],
            departments: vec![],
            locations: vec![],
            created_at: now,
        };
        let stories = vec![story("s1", "icu"), story("s2", "icu")];
        let step = StepContent { kind: StepKind::Story, content_id: None, tags_any: vec!["icu".into()] };
        let mut p = prospect(&[], &[]);
        assert_eq!(story_for(&step, &stories, &p).unwrap().id, "s1");
        p.stories_sent.push("s1".into());
        assert_eq!(story_for(&step, &stories, &p).unwrap().id, "s2");
        p.stories_sent.push("s2".into());
        assert!(story_for(&step, &stories, &p).is_none());

        let sends = vec![now - Duration::days(40), now - Duration::days(20), now - Duration::days(5)];
        assert_eq!(cap_allows(Some(3), &sends, now), Ok(()));
        assert_eq!(cap_allows(Some(2), &sends, now), Err(now + Duration::days(10)));
        assert_eq!(cap_allows(None, &sends, now), Ok(()));
    }

    #[test]
    fn a_due_step_checks_the_person_then_the_campaign() {
        let now = Utc::now();
        let step =
            Step { after_days: 0, content: StepContent { kind: StepKind::Jobs, content_id: None, tags_any: vec![] } };
        let mut c = Campaign {
            id: CampaignId::new(&crate::clock::SystemClock),
            name: "n".into(),
            segment: Segment::default(),
            steps: vec![step],
            max_per_30_days: Some(1),
            status: CampaignStatus::Active,
            created_at: now,
            activated_at: Some(now),
        };
        let consents = crate::consent::Consent::talent_pool(now, crate::consent::Method::Form, "v1");
        let mut p = prospect(&[], &[]);
        assert_eq!(due_step(&c, None, None, &consents, 0, now), Due::End("no longer in the pool".into()));
        assert_eq!(
            due_step(&c, Some(&p), Some(crate::prospect::SuppressionReason::Bounced), &consents, 0, now),
            Due::End("suppressed: bounced".into())
        );
        assert!(matches!(due_step(&c, Some(&p), None, &[], 0, now), Due::End(_)));
        assert!(matches!(due_step(&c, Some(&p), None, &consents, 0, now), Due::Send { .. }));
        assert_eq!(due_step(&c, Some(&p), None, &consents, 1, now), Due::End("finished".into()));
        p.recent_sends = sends_after(&[now - Duration::days(40)], now - Duration::days(2), true);
        assert_eq!(p.recent_sends, vec![now - Duration::days(2)]);
        assert_eq!(
            due_step(&c, Some(&p), None, &consents, 0, now),
            Due::Defer(now + Duration::days(28), "max_per_30_days")
        );
        c.status = CampaignStatus::Paused;
        assert_eq!(
            due_step(&c, Some(&p), None, &consents, 0, now),
            Due::Defer(now + Duration::days(1), "campaign paused")
        );
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
