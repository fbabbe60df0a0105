//! The `nurture` task: enrols people in active campaigns (an activation's sweep of the pool, and
//! everyone flagged changed since the last run), then sends what is due from the sparse due index.
//! Each email: one conditional claim in the send ledger, one SES call, one transaction recording the
//! outcome and scheduling the next step (2 writes, 1 SES call). Several in flight at once, to different
//! people, their starts spaced to the account's send rate (so the rate is used, never passed);
//! stops before the time budget runs out and the next run resumes where this one stopped. Who is in,
//! what goes next and when are the domain's [`crate::campaign`] rules.
use crate::api::AppState;
use crate::app::notify::Letter;
use crate::app::pace::Pace;
use crate::attribution::{Channel, TokenClaims};
use crate::campaign::{content_for, due_after, due_step, exclusions, sends_after, Campaign, CampaignStatus, Due, Send};
use crate::content::Story;
use crate::email::{EmailHash, Outgoing};
use crate::error::ApiError;
use crate::ids::CampaignId;
use crate::job::Job;
use crate::mailer::SendFailure;
use crate::prospect::Prospect;
use crate::store::{Claim, Enrolment, Outcome, PoolRecord, SentNurture};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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

impl Counts {
    fn add(&mut self, o: Counts) {
        self.enrolled += o.enrolled;
        self.sent += o.sent;
        self.rejected += o.rejected;
        self.unknown += o.unknown;
        self.skipped += o.skipped;
        self.ended += o.ended;
        self.deferred += o.deferred;
    }
}

/// About how long one email's round trips take (claim, SES, record): with the account's rate, how
/// many go at once.
const ONE_SEND: std::time::Duration = std::time::Duration::from_millis(100);

/// One run of the task at the scheduled time `now`, until `deadline`; answers its counts.
pub async fn run(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let mut n = Counts::default();
    let campaigns: HashMap<CampaignId, Campaign> = st.store.campaigns().await?.into_iter().map(|c| (c.id, c)).collect();
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

/// What a run sends from, read once per run and only when something is due.
struct Library {
    stories: Vec<Story>,
    jobs: Vec<Job>,
    /// Spaces the starts of the sends in flight to the account's rate.
    pace: tokio::sync::Mutex<Pace>,
    in_flight: usize,
}

impl Library {
    async fn read(st: &AppState) -> Result<Library, ApiError> {
        let stories = st.store.stories().await?;
        let jobs = st.store.open_jobs().await?;
        let pace = Pace::of_account(st, 0.0).await;
        let in_flight = pace.in_flight(ONE_SEND);
        Ok(Library { stories, jobs, pace: tokio::sync::Mutex::new(pace), in_flight })
    }
}

/// What became of one due enrolment.
enum Moved {
    /// Sent, skipped, deferred or ended.
    Done,
    /// Another run holds it.
    Busy,
    /// The run stops here (SES throttling, or an answer it could not read).
    Stop,
    /// Not begun: the run was stopping (or out of time).
    NotStarted,
}

/// Sends what is due, page by page. `Ok(false)`: stopped early (time, or SES throttling).
async fn send_due(
    st: &AppState,
    campaigns: &HashMap<CampaignId, Campaign>,
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    let mut library: Option<Library> = None;
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let due = st.store.due_enrolments(now, PAGE).await?;
        if due.is_empty() {
            return Ok(true);
        }
        let lib: &Library = match &library {
            Some(lib) => lib,
            None => library.insert(Library::read(st).await?),
        };
        let hashes: Vec<EmailHash> = due.iter().map(|e| e.email_hash.clone()).collect();
        let records = st.store.pool_records(&hashes).await?;
        // One email per person a page: a person's second due enrolment waits for the next page, which
        // reads their record again (sends, stories, the cap) after the first.
        let mut people = HashSet::new();
        let mut busy = 0;
        let mut todo = Vec::new();
        for e in &due {
            if !people.insert(e.email_hash.as_str()) {
                busy += 1;
                continue;
            }
            todo.push((e, records.get(&e.email_hash).cloned().unwrap_or_default()));
        }
        // Several at once (each to a different person), their starts spaced to the account's rate.
        let stop = AtomicBool::new(false);
        let stop = &stop;
        // The futures made first (none runs until polled), so the stream holds no closure over borrows.
        let sends: Vec<_> = todo
            .into_iter()
            .map(|(e, record)| {
                send_one(st, campaigns.get(&e.campaign_id), lib, e, record, now, Until { stop, deadline })
            })
            .collect();
        let mut results = futures_util::stream::iter(sends).buffer_unordered(lib.in_flight);
        let (mut stopped, mut failed) = (false, None);
        while let Some(result) = results.next().await {
            match result {
                Ok((moved, counts)) => {
                    n.add(counts);
                    match moved {
                        Moved::Done => {}
                        Moved::Busy => busy += 1,
                        Moved::Stop | Moved::NotStarted => {
                            stopped = true;
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
                // The sends in flight finish (each records what it did); none starts after.
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if stopped {
            return Ok(false);
        }
        if busy == due.len() {
            // Nothing on this page could move (another run holds it): the next run picks it up.
            return Ok(false);
        }
    }
}

/// When a send may no longer start: the run is stopping, or its time is up.
#[derive(Clone, Copy)]
struct Until<'a> {
    stop: &'a AtomicBool,
    deadline: Instant,
}

/// One due enrolment: ended, deferred or skipped as the campaign's rules say, else its email
/// composed, claimed, sent at SES's pace and recorded.
async fn send_one(
    st: &AppState,
    c: Option<&Campaign>,
    lib: &Library,
    e: &Enrolment,
    record: PoolRecord,
    now: DateTime<Utc>,
    until: Until<'_>,
) -> Result<(Moved, Counts), ApiError> {
    let mut n = Counts::default();
    if until.stop.load(Ordering::SeqCst) || Instant::now() >= until.deadline {
        return Ok((Moved::NotStarted, n));
    }
    let moved = send_or_move_on(st, c, lib, e, record, now, &mut n).await?;
    Ok((moved, n))
}

/// [`send_one`]'s work, counted in `n`.
async fn send_or_move_on(
    st: &AppState,
    c: Option<&Campaign>,
    lib: &Library,
    e: &Enrolment,
    record: PoolRecord,
    now: DateTime<Utc>,
    n: &mut Counts,
) -> Result<Moved, ApiError> {
    let Some(c) = c else {
        st.store.advance_enrolment(e, e.step, None, "campaign gone").await?;
        n.ended += 1;
        return Ok(Moved::Done);
    };
    let prospect = record.prospect.map(|(p, _)| p);
    let (step, p) = match due_step(c, prospect.as_ref(), record.suppressed, &record.consents, e.step, now) {
        Due::End(why) => {
            st.store.advance_enrolment(e, e.step, None, &why).await?;
            n.ended += 1;
            return Ok(Moved::Done);
        }
        Due::Defer(at, why) => {
            st.store.advance_enrolment(e, e.step, Some(at), why).await?;
            n.deferred += 1;
            return Ok(Moved::Done);
        }
        Due::Send { step, to } => (step, to),
    };
    let next_due = due_after(&c.steps, e.step + 1, now);
    let (letter, story_id) = match letter_for(st, c, p, content_for(step, &lib.stories, &lib.jobs, p, now), now) {
        Ok(letter) => letter,
        Err(why) => {
            st.store.advance_enrolment(e, e.step + 1, next_due, why).await?;
            n.skipped += 1;
            return Ok(Moved::Done);
        }
    };
    let subject = letter.subject.clone();
    let msg = letter.compose(&st.signer, &st.config)?;
    match st.store.claim_nurture(e, &subject, now).await? {
        Claim::Ours => {}
        // A concurrent run is sending it; it records it and moves the enrolment on.
        Claim::InFlight => return Ok(Moved::Busy),
        Claim::Done | Claim::Lost => {
            // Sent by an earlier run (or lost to its crash): never sent twice.
            st.store.advance_enrolment(e, e.step + 1, next_due, "already claimed").await?;
            return Ok(Moved::Done);
        }
    }
    lib.pace.lock().await.wait().await;
    let Some(said) = send_claimed(st, &c.id, e, &msg).await? else { return Ok(Moved::Stop) };
    let outcome = said.outcome();
    let recent = sends_after(&p.recent_sends, now, !matches!(outcome, Outcome::Rejected(_)));
    let sent = SentNurture { enrolment: e, outcome, story_id, recent_sends: recent, next_due, now };
    record_outcome(st, sent).await?;
    match outcome {
        Outcome::Sent(_) => n.sent += 1,
        Outcome::Rejected(_) => n.rejected += 1,
        Outcome::Unknown(_) => {
            // SES may be in trouble: the emails in flight at risk a run, not a page of them.
            n.unknown += 1;
            return Ok(Moved::Stop);
        }
    }
    Ok(Moved::Done)
}

/// Records what SES said, trying a few times: the email is out, and an unrecorded claim holds the
/// enrolment until it counts as lost (a quarter of an hour) and then moves it on uncounted.
async fn record_outcome(st: &AppState, sent: SentNurture<'_>) -> Result<(), ApiError> {
    const TRIES: u32 = 3;
    let mut attempt = 1;
    loop {
        match st.store.record_nurture(sent.clone()).await {
            Err(e) if attempt < TRIES => {
                tracing::warn!(error = %e, attempt, "a sent nurture email not recorded yet; trying again");
                tokio::time::sleep(crate::aws::backoff(attempt + 2)).await;
                attempt += 1;
            }
            done => return Ok(done?),
        }
    }
}

/// The email a step's content makes for the person, with the story it sends; `Err`: nothing suits
/// them, and why.
fn letter_for<'a>(
    st: &AppState,
    c: &'a Campaign,
    p: &'a Prospect,
    send: Send<'a>,
    now: DateTime<Utc>,
) -> Result<(Letter<'a>, Option<&'a str>), &'static str> {
    let (subject, template, context, story_id) = match send {
        Send::Nothing(why) => return Err(why),
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
    let letter = Letter {
        to: &p.email,
        to_name: p.first_name.clone(),
        email_hash: &p.id,
        subject,
        template,
        context,
        campaign: Some(c.id),
    };
    Ok((letter, story_id))
}

/// What SES said to a claimed email, as the ledger keeps it.
enum Said {
    Sent(String),
    Rejected(String),
    Unknown(String),
}

impl Said {
    fn outcome(&self) -> Outcome<'_> {
        match self {
            Said::Sent(id) => Outcome::Sent(id),
            Said::Rejected(why) => Outcome::Rejected(why),
            Said::Unknown(why) => Outcome::Unknown(why),
        }
    }
}

/// Sends a claimed email tagged with its campaign. `Ok(None)`: throttled, the claim given back and
/// the run to stop; an error before SES took it gives the claim back too.
async fn send_claimed(
    st: &AppState,
    campaign: &CampaignId,
    e: &Enrolment,
    msg: &Outgoing,
) -> Result<Option<Said>, ApiError> {
    match st.mailer.send_tagged(msg, &[("campaign", &campaign.to_string())]).await {
        Ok(id) => Ok(Some(Said::Sent(id))),
        Err(SendFailure::Rejected(why)) => {
            tracing::warn!(campaign = %campaign, error = %why, "SES rejected a nurture email");
            Ok(Some(Said::Rejected(why)))
        }
        Err(SendFailure::Unknown(why)) => {
            tracing::warn!(campaign = %campaign, error = %why, "no answer from SES: the email is marked unknown");
            Ok(Some(Said::Unknown(why)))
        }
        Err(SendFailure::Throttled(why)) => {
            // Back off: give the claim back and leave the rest to the next run.
            tracing::warn!(error = %why, "SES throttled; stopping this run");
            st.store.release_claim(e).await?;
            Ok(None)
        }
        Err(SendFailure::Other(err)) => {
            // Refused before SES could take it: the claim goes back.
            st.store.release_claim(e).await?;
            Err(err.into())
        }
    }
}

/// A link that credits the campaign when the person applies through it.
fn tracked(st: &AppState, url: &str, c: &Campaign, now: DateTime<Utc>) -> String {
    let id = c.id.to_string();
    let claims = TokenClaims { channel: Channel::CrmCampaign, source: id.to_lowercase(), campaign: Some(id) };
    let token = st.signer.sign("attribution", &claims, Some(now + chrono::Duration::days(LINK_DAYS)));
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}rt={token}")
}
