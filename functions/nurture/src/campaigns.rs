//! The `nurture` task: enrols people in active campaigns (an activation's sweep of the pool, and
//! everyone flagged changed since the last run), then sends what is due from the sparse due index.
//! Each email: one conditional claim in the send ledger, one SES call, one transaction recording the
//! outcome and scheduling the next step (2 writes, 1 SES call). Paced to the account's send rate;
//! stops before the time budget runs out and the next run resumes where this one stopped.
use chrono::{DateTime, Utc};
use rapport::api::AppState;
use rapport::app::notify::Letter;
use rapport::attribution::{Channel, TokenClaims};
use rapport::campaign::{cap_allows, content_for, due_after, exclusions, Campaign, CampaignStatus, Send};
use rapport::consent::may_nurture;
use rapport::content::Story;
use rapport::error::ApiError;
use rapport::job::Job;
use rapport::mailer::SendFailure;
use rapport::prospect::Prospect;
use rapport::store::{prospect_of, Claim, Outcome, SentNurture};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const PAGE: i32 = 100;
/// How long a link in a nurture email credits the campaign.
const LINK_DAYS: i64 = 90;

#[derive(Default)]
struct Counts {
    enrolled: u64,
    sent: u64,
    rejected: u64,
    unknown: u64,
    skipped: u64,
    ended: u64,
    deferred: u64,
}

pub async fn run(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let mut n = Counts::default();
    let campaigns: HashMap<String, Campaign> =
        st.store.campaigns().await?.into_iter().map(|c| (c.id.clone(), c)).collect();
    let active: Vec<&Campaign> = campaigns.values().filter(|c| c.status == CampaignStatus::Active).collect();
    let swept = sweep(st, &active, now, deadline, &mut n).await?;
    let changed = enrol_changed(st, &active, now, deadline, &mut n).await?;
    let sent = send_due(st, &campaigns, now, deadline, &mut n).await?;
    let complete = swept && changed && sent;
    tracing::info!(n.enrolled, n.sent, n.rejected, n.unknown, n.skipped, n.ended, n.deferred, complete, "nurture run");
    Ok(json!({"task": "nurture", "enrolled": n.enrolled, "sent": n.sent, "rejected": n.rejected, "unknown": n.unknown,
              "skipped": n.skipped, "ended": n.ended, "deferred": n.deferred, "complete": complete}))
}

/// Enrols a person in a campaign if they match it now.
async fn enrol_if_match(st: &AppState, c: &Campaign, p: &Prospect, now: DateTime<Utc>) -> Result<bool, ApiError> {
    if !exclusions(&c.segment, p, now.date_naive()).is_empty() {
        return Ok(false);
    }
    let due = due_after(&c.steps, 0, now).unwrap_or(now);
    Ok(st.store.enrol(&p.id, &c.id, due, now).await?)
}

/// An activation's sweep: every prospect in the pool, a page at a time, resumable.
async fn sweep(
    st: &AppState,
    active: &[&Campaign],
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    for (c, mut after) in st.store.campaigns_to_sweep().await? {
        let Some(c) = active.iter().find(|a| a.id == c.id) else {
            st.store.set_sweep(&c.id, None).await?;
            continue;
        };
        loop {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let (page, last) = st.store.pool_page(&after, PAGE).await?;
            for p in &page {
                n.enrolled += u64::from(enrol_if_match(st, c, p, now).await?);
            }
            match last {
                Some(l) => {
                    after = l;
                    st.store.set_sweep(&c.id, Some(&after)).await?;
                }
                None => {
                    st.store.set_sweep(&c.id, None).await?;
                    break;
                }
            }
        }
    }
    Ok(true)
}

/// Always on: people who joined or changed since the last run enrol in what they now match.
async fn enrol_changed(
    st: &AppState,
    active: &[&Campaign],
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let page = st.store.changed_prospects(PAGE).await?;
        for (p, seen) in &page {
            for c in active {
                n.enrolled += u64::from(enrol_if_match(st, c, p, now).await?);
            }
            st.store.clear_changed(&p.id, seen).await?;
        }
        if page.len() < PAGE as usize {
            return Ok(true);
        }
    }
}

/// Sends what is due, page by page. `Ok(false)`: stopped early (time, or SES throttling).
async fn send_due(
    st: &AppState,
    campaigns: &HashMap<String, Campaign>,
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    let mut stories: Option<Vec<Story>> = None;
    let mut jobs: Option<Vec<Job>> = None;
    let mut interval: Option<Duration> = None;
    let mut next_send = Instant::now();
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let due = st.store.due_enrolments(now, PAGE).await?;
        if due.is_empty() {
            return Ok(true);
        }
        // Read once per run, and only when something is due.
        if stories.is_none() {
            stories = Some(st.store.stories().await?);
            jobs = Some(st.store.open_jobs().await?);
            let rate = st.mailer.max_send_rate().await.unwrap_or(st.config.ses_max_send_rate);
            interval = Some(Duration::from_secs_f64(1.0 / rate));
        }
        let (stories, jobs, interval) =
            (stories.as_deref().unwrap_or_default(), jobs.as_deref().unwrap_or_default(), interval.unwrap_or_default());
        let hashes: Vec<rapport::email::EmailHash> = due.iter().map(|e| e.email_hash.clone()).collect();
        let records = st.store.pool_records(&hashes).await?;
        // One email per person a page: a person's second due enrolment waits for the next page, which
        // reads their record again (sends, stories, the cap) after the first.
        let mut people = std::collections::HashSet::new();
        let mut busy = 0;
        for e in &due {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            if !people.insert(e.email_hash.as_str()) {
                busy += 1;
                continue;
            }
            let Some(c) = campaigns.get(&e.campaign_id) else {
                st.store.advance_enrolment(e, e.step, None, "campaign gone").await?;
                n.ended += 1;
                continue;
            };
            let record = records.get(&e.email_hash).cloned().unwrap_or_default();
            let (suppressed, consents) = (record.suppressed, record.consents);
            let prospect = record.prospect.as_ref().map(prospect_of).transpose()?;
            let Some(p) = prospect else {
                st.store.advance_enrolment(e, e.step, None, "no longer in the pool").await?;
                n.ended += 1;
                continue;
            };
            if let Some(reason) = suppressed {
                st.store.advance_enrolment(e, e.step, None, &format!("suppressed: {reason}")).await?;
                n.ended += 1;
                continue;
            }
            if !may_nurture(&consents) {
                // Withdrawn (or never given): their nurture ends now.
                st.store.advance_enrolment(e, e.step, None, "no talent-pool and email consent").await?;
                n.ended += 1;
                continue;
            }
            if c.status != CampaignStatus::Active {
                // Paused: look again tomorrow.
                st.store.advance_enrolment(e, e.step, Some(now + chrono::Duration::days(1)), "campaign paused").await?;
                n.deferred += 1;
                continue;
            }
            let Some(step) = c.steps.get(e.step) else {
                st.store.advance_enrolment(e, e.step, None, "finished").await?;
                n.ended += 1;
                continue;
            };
            let out = exclusions(&c.segment, &p, now.date_naive());
            if !out.is_empty() {
                // Applied, unsubscribed, paused, or no longer qualified: their nurture in this campaign ends.
                let why = serde_json::to_string(&out).unwrap_or_default();
                st.store.advance_enrolment(e, e.step, None, &why).await?;
                n.ended += 1;
                continue;
            }
            if let Err(at) = cap_allows(c.max_per_30_days, &p.recent_sends, now) {
                st.store.advance_enrolment(e, e.step, Some(at), "max_per_30_days").await?;
                n.deferred += 1;
                continue;
            }
            let next_due = due_after(&c.steps, e.step + 1, now);
            let send = content_for(step, stories, jobs, &p, now);
            let (subject, template, context, story_id) = match &send {
                Send::Nothing(why) => {
                    st.store.advance_enrolment(e, e.step + 1, next_due, why).await?;
                    n.skipped += 1;
                    continue;
                }
                Send::Story(s) => (
                    s.title.clone(),
                    "nurture_story",
                    json!({"first_name": p.first_name, "title": s.title, "summary": s.summary, "body_html": s.body_html,
                           "read_url": tracked(st, &format!("{}/", st.config.careers_url), c, now)}),
                    Some(s.id.as_str()),
                ),
                Send::Jobs(list) => (
                    format!("Jobs at {} for you", st.config.company_name),
                    "nurture_jobs",
                    json!({"first_name": p.first_name, "jobs": list.iter().map(|j| json!({
                        "title": j.spec.title,
                        "location": format!("{}, {}", j.spec.location.city, j.spec.location.country.0),
                        "url": tracked(st, &j.url(&st.config.careers_url), c, now),
                    })).collect::<Vec<_>>()}),
                    None,
                ),
            };
            let msg = Letter {
                to: &p.email,
                to_name: p.first_name.clone(),
                email_hash: &p.id,
                subject: subject.clone(),
                template,
                context,
                campaign: Some(&c.id),
            }
            .compose(&st.signer, &st.config)?;
            match st.store.claim_nurture(e, &subject, now).await? {
                Claim::Ours => {}
                Claim::InFlight => {
                    // A concurrent run is sending it; it records it and moves the enrolment on.
                    busy += 1;
                    continue;
                }
                Claim::Done | Claim::Lost => {
                    // Sent by an earlier run (or lost to its crash): never sent twice.
                    st.store.advance_enrolment(e, e.step + 1, next_due, "already claimed").await?;
                    continue;
                }
            }
            let wait = next_send.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            next_send = Instant::now() + interval;
            let mut recent: Vec<DateTime<Utc>> =
                p.recent_sends.iter().copied().filter(|t| *t > now - chrono::Duration::days(30)).collect();
            let said: String;
            let outcome = match st.mailer.send_tagged(&msg, &[("campaign", &c.id)]).await {
                Ok(id) => {
                    said = id;
                    Outcome::Sent(&said)
                }
                Err(SendFailure::Rejected(why)) => {
                    tracing::warn!(campaign = %c.id, error = %why, "SES rejected a nurture email");
                    said = why;
                    Outcome::Rejected(&said)
                }
                Err(SendFailure::Unknown(why)) => {
                    tracing::warn!(campaign = %c.id, error = %why, "no answer from SES: the email is marked unknown");
                    said = why;
                    Outcome::Unknown(&said)
                }
                Err(SendFailure::Throttled(why)) => {
                    // Back off: give the claim back and leave the rest to the next run.
                    tracing::warn!(error = %why, "SES throttled; stopping this run");
                    st.store.release_claim(e).await?;
                    return Ok(false);
                }
                Err(SendFailure::Other(err)) => {
                    // Refused before SES could take it: the claim goes back.
                    st.store.release_claim(e).await?;
                    return Err(err.into());
                }
            };
            if !matches!(outcome, Outcome::Rejected(_)) {
                recent.push(now);
            }
            let sent = SentNurture { enrolment: e, outcome, story_id, recent_sends: recent, next_due, now };
            st.store.record_nurture(sent).await?;
            match outcome {
                Outcome::Sent(_) => n.sent += 1,
                Outcome::Rejected(_) => n.rejected += 1,
                Outcome::Unknown(_) => {
                    // SES may be in trouble: one email at risk a run, not a page of them.
                    n.unknown += 1;
                    return Ok(false);
                }
            }
        }
        if busy == due.len() {
            // Nothing on this page could move (another run holds it): the next run picks it up.
            return Ok(false);
        }
    }
}

/// A link that credits the campaign when the person applies through it.
fn tracked(st: &AppState, url: &str, c: &Campaign, now: DateTime<Utc>) -> String {
    let claims =
        TokenClaims { channel: Channel::CrmCampaign, source: c.id.to_lowercase(), campaign: Some(c.id.clone()) };
    let token = st.signer.sign("attribution", &claims, Some(now + chrono::Duration::days(LINK_DAYS)));
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}rt={token}")
}
