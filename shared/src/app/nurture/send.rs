//! The sending half of a nurture run: the due index read a page at a time, each page read while the
//! one before it sends (so sending never waits on a page's reads), and the emails sent several at
//! once, each to a different person, their starts held to the account's rate.
use super::letter::letter_for;
use super::Counts;
use crate::api::AppState;
use crate::app::pace::Pace;
use crate::campaign::{content_for, due_after, due_step, sends_after, Campaign, Due};
use crate::content::Story;
use crate::email::{EmailHash, Outgoing};
use crate::error::ApiError;
use crate::ids::CampaignId;
use crate::job::Job;
use crate::mailer::SendFailure;
use crate::store::{Claim, DueCursor, Enrolment, Outcome, PoolRecord, SentNurture};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Due enrolments a page: one query, then a batch read per 25 people, while the page before sends.
/// Bigger than the enrolling pages (fewer queries an email; the emulator scans its table for each),
/// small enough that a record is read seconds before its email, not minutes.
const DUE_PAGE: i32 = 250;
/// About how long one email's round trips take (claim, SES, record), a slow one's rather than a
/// typical one's: with the account's rate, how many go at once. Too few and the rate is not met;
/// the pace holds the starts to the rate however many are in flight.
const ONE_SEND: Duration = Duration::from_millis(250);

/// What a run sends from, read once per run and only when something is due.
struct Library {
    stories: Vec<Story>,
    jobs: Vec<Job>,
    /// Holds the starts of the sends in flight to the account's rate.
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

/// Sends what is due, a pass over the due index at a time. `Ok(false)`: stopped early (time, SES
/// throttling, or enrolments another run holds).
pub(super) async fn send_due(
    st: &AppState,
    campaigns: &HashMap<CampaignId, Campaign>,
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    let mut library: Option<Library> = None;
    loop {
        match pass(st, campaigns, &mut library, now, deadline, n).await? {
            Pass::Again => {}
            Pass::Done(complete) => return Ok(complete),
        }
    }
}

/// How a pass ended.
enum Pass {
    /// Everything due was moved on (`true`), or the run stops here (`false`).
    Done(bool),
    /// Someone had more than one enrolment due: another pass, which reads their record again.
    Again,
}

/// A page of the due index: its enrolments to move, each with its person's record, and where the
/// next page starts.
struct Page {
    todo: Vec<(Enrolment, PoolRecord)>,
    /// Enrolments of people met earlier in the pass, left for the next pass.
    later: usize,
    next: Option<DueCursor>,
}

/// Reads the page after `after`. One email per person a pass: a person's second due enrolment waits
/// for the next pass, which reads their record (sends, stories, the cap) after the first is recorded.
async fn read_page(
    st: &AppState,
    now: DateTime<Utc>,
    after: Option<DueCursor>,
    met: &mut HashSet<EmailHash>,
) -> Result<Page, ApiError> {
    let (due, next) = st.store.due_enrolments(now, DUE_PAGE, after).await?;
    let count = due.len();
    let first: Vec<Enrolment> = due.into_iter().filter(|e| met.insert(e.email_hash.clone())).collect();
    let hashes: Vec<EmailHash> = first.iter().map(|e| e.email_hash.clone()).collect();
    let mut records = st.store.pool_records(&hashes).await?;
    let later = count - first.len();
    let todo = first
        .into_iter()
        .map(|e| {
            let record = records.remove(&e.email_hash).unwrap_or_default();
            (e, record)
        })
        .collect();
    Ok(Page { todo, later, next })
}

/// What the sends of a pass came to.
#[derive(Default)]
struct Tally {
    moved: usize,
    busy: usize,
    stopped: bool,
    failed: Option<ApiError>,
}

/// One pass over the due index, in its order: a reader reads each page while the page before it
/// sends, and the sends stay in flight from one page to the next.
async fn pass(
    st: &AppState,
    campaigns: &HashMap<CampaignId, Campaign>,
    library: &mut Option<Library>,
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<Pass, ApiError> {
    if Instant::now() >= deadline {
        return Ok(Pass::Done(false));
    }
    let mut met = HashSet::new();
    let first = read_page(st, now, None, &mut met).await?;
    if first.todo.is_empty() {
        return Ok(Pass::Done(true));
    }
    let lib: &Library = match library {
        Some(lib) => lib,
        None => library.insert(Library::read(st).await?),
    };
    let stop = AtomicBool::new(false);
    let until = Until { stop: &stop, deadline };
    let (pages, ahead) = tokio::sync::mpsc::channel::<Vec<(Enrolment, PoolRecord)>>(1);
    // `Ok((read to the end, enrolments left for the next pass))`. Dropping `pages` ends the sends'
    // stream once they have taken what was read.
    let reader = async move {
        let mut later = first.later;
        let mut next = first.next;
        if pages.send(first.todo).await.is_err() {
            return Ok((false, later));
        }
        while let Some(after) = next.take() {
            // A page ahead, no more: the next is read once the sends have taken the last (so a
            // record is read at most a page of sends before its email, and a stop wastes little).
            // `Err`: the sends stopped and take no more.
            let Ok(slot) = pages.reserve().await else { return Ok((false, later)) };
            if until.over() {
                return Ok((false, later));
            }
            let page = read_page(st, now, Some(after), &mut met).await.inspect_err(|_| until.stop())?;
            later += page.later;
            next = page.next;
            slot.send(page.todo);
        }
        Ok::<_, ApiError>((true, later))
    };
    let sender = async move {
        let mut t = Tally::default();
        // Dropped with the stream when the sends end: a reader waiting to hand over a page stops.
        let taken = futures_util::stream::unfold(ahead, |mut ahead| async move {
            let page = ahead.recv().await?;
            Some((page, ahead))
        });
        let results = taken
            .flat_map(futures_util::stream::iter)
            .take_while(|_| std::future::ready(!until.stopping()))
            .map(|(e, record)| send_one(st, campaigns.get(&e.campaign_id), lib, e, record, now, until))
            .buffer_unordered(lib.in_flight);
        let mut results = std::pin::pin!(results);
        while let Some(result) = results.next().await {
            match result {
                Ok((moved, counts)) => {
                    n.add(counts);
                    match moved {
                        Moved::Done => t.moved += 1,
                        Moved::Busy => t.busy += 1,
                        Moved::Stop | Moved::NotStarted => {
                            t.stopped = true;
                            until.stop();
                        }
                    }
                }
                // The sends in flight finish (each records what it did); none starts after.
                Err(e) => {
                    until.stop();
                    t.failed.get_or_insert(e);
                }
            }
        }
        t
    };
    let (read, t) = tokio::join!(reader, sender);
    if let Some(e) = t.failed {
        return Err(e);
    }
    let (read_all, later) = read?;
    if t.stopped || !read_all {
        return Ok(Pass::Done(false));
    }
    Ok(match (later, t.busy) {
        (0, 0) => Pass::Done(true),
        (later, _) if later > 0 && t.moved > 0 => Pass::Again,
        // Nothing more could move (another run holds it): the next run picks it up.
        _ => Pass::Done(false),
    })
}

/// When a send may no longer start: the run is stopping, or its time is up.
#[derive(Clone, Copy)]
struct Until<'a> {
    stop: &'a AtomicBool,
    deadline: Instant,
}

impl Until<'_> {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn over(&self) -> bool {
        self.stopping() || Instant::now() >= self.deadline
    }

    /// No send starts after this; those in flight finish.
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One due enrolment: ended, deferred or skipped as the campaign's rules say, else its email
/// composed, claimed, sent at SES's pace and recorded.
async fn send_one(
    st: &AppState,
    c: Option<&Campaign>,
    lib: &Library,
    e: Enrolment,
    record: PoolRecord,
    now: DateTime<Utc>,
    until: Until<'_>,
) -> Result<(Moved, Counts), ApiError> {
    let mut n = Counts::default();
    if until.over() {
        return Ok((Moved::NotStarted, n));
    }
    let moved = send_or_move_on(st, c, lib, &e, record, now, &mut n).await?;
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
    let signer = st.signer().await?;
    let (letter, story_id) = match letter_for(st, signer, c, p, content_for(step, &lib.stories, &lib.jobs, p, now), now)
    {
        Ok(letter) => letter,
        Err(why) => {
            st.store.advance_enrolment(e, e.step + 1, next_due, why).await?;
            n.skipped += 1;
            return Ok(Moved::Done);
        }
    };
    let subject = letter.subject.clone();
    let msg = letter.compose(signer, &st.config)?;
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
