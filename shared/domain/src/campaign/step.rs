//! A campaign's steps: what each sends a person, and when (the 30-day cap, and the checks a run
//! makes on a due enrolment).
use super::{any_match, exclusions, Campaign, CampaignStatus};
use crate::consent::{may_nurture, Consent};
use crate::content::Story;
use crate::job::Job;
use crate::prospect::Prospect;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

crate::choice!(StepKind { Story = "story", Jobs = "jobs" });

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
    use crate::campaign::tests::prospect;
    use crate::campaign::Segment;
    use crate::ids::CampaignId;
    use serde_json::json;

    fn job(title: &str, dept: &str, creds: &[&str]) -> Job {
        let spec = crate::job::JobSpec::parse(json!({"title": title, "department": dept,
            "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB"}, "workplace": "onsite",
            "employment_type": "full_time", "description_html": "<p>x</p>", "required_credentials": creds}))
        .unwrap();
        let now = Utc::now();
        Job::new(crate::ids::JobId::new(&crate::clock::SystemClock), spec, now).publish(now).unwrap()
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
}
