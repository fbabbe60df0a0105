//! The `retention` task: erases people with no activity for `RETENTION_DAYS` and no open
//! application, prospects who never applied whose talent-pool consent has lapsed (given more than
//! `RETENTION_DAYS` ago and not renewed), and submitted or abandoned drafts created before then. It
//! first finishes erasures a crash or a failure interrupted. Works in pages within the time budget
//! and resumes on the next run; logs counts and error codes, never names.
//!
//! One person's failed erasure never stops the run: it is logged and counted, and its tombstone
//! (written before anything is removed) brings it back in the next run's first phase. A page on which
//! nothing succeeded ends its phase (the run is then incomplete), so a dependency that is down never
//! has the run spend its budget failing.
use crate::app::AppState;
use crate::error::{ApiError, StoreError};
use crate::prospect::Prospect;
use crate::store::PersonKeys;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Instant;

const PAGE: i32 = 25;
const POOL_PASS: &str = "pool_after";
const RESUMES_PASS: &str = "resumes_after";

/// Drafts are deleted by key, 25 a batch: a page is a few batches.
const DRAFTS_PAGE: i32 = 100;

#[derive(Default)]
struct Counts {
    resumed: u64,
    erased: u64,
    kept: u64,
    drafts: u64,
    orphans: u64,
    failed: u64,
}

/// A page's tally: a page with work on it of which none succeeded ends the phase.
#[derive(Default)]
struct Page {
    tried: u64,
    done: u64,
}

impl Page {
    fn stuck(&self) -> bool {
        self.tried > 0 && self.done == 0
    }

    /// Counts one try; a failure is logged and counted under `what`.
    fn count<T>(&mut self, n: &mut Counts, what: &str, result: Result<T, StoreError>) -> Option<T> {
        self.tried += 1;
        match result {
            Ok(v) => {
                self.done += 1;
                Some(v)
            }
            Err(e) => {
                failure(n, what, &e);
                None
            }
        }
    }
}

/// A phase's walk over its pages: until the list ends, a page on which nothing succeeded (the phase
/// stops, the run goes on), or the deadline (the run stops).
struct Pages<K> {
    after: Option<K>,
    ended: Option<Ended>,
}

#[derive(PartialEq)]
enum Ended {
    Done,
    Stuck,
    OutOfTime,
}

impl<K> Pages<K> {
    fn new(after: Option<K>) -> Self {
        Self { after, ended: None }
    }

    /// The cursor to read the next page from, or `None` once the walk has ended.
    fn next(&mut self, deadline: Instant) -> Option<Option<K>> {
        if self.ended.is_none() && Instant::now() >= deadline {
            self.ended = Some(Ended::OutOfTime);
        }
        self.ended.is_none().then(|| self.after.take())
    }

    fn read(&mut self, page: &Page, last: Option<K>) {
        match last {
            _ if page.stuck() => self.ended = Some(Ended::Stuck),
            Some(l) => self.after = Some(l),
            None => self.ended = Some(Ended::Done),
        }
    }

    /// Marks the run incomplete unless the list ended; `true` when the deadline ended it.
    fn out_of_time(&self, complete: &mut bool) -> bool {
        if self.ended != Some(Ended::Done) {
            *complete = false;
        }
        self.ended == Some(Ended::OutOfTime)
    }
}

pub async fn run(st: &AppState, now: DateTime<Utc>, deadline: Instant) -> Result<Value, ApiError> {
    let cutoff = now - Duration::days(st.config.retention_days);
    let mut n = Counts::default();
    let mut complete = true;
    // Each person once a run: an erasure has a tombstone under each of the person's ids, and indexes lag.
    let mut seen = HashSet::new();
    'work: {
        // Erasures a crash or a failure left half done.
        let mut pages = Pages::new(None);
        while let Some(after) = pages.next(deadline) {
            let (open, last) = st.store.open_erasures(PAGE, after).await?;
            let mut page = Page::default();
            for t in open.iter().filter(|t| seen.insert(t.person.email_hash.clone())) {
                let erased = crate::app::privacy::erase(st, &t.person, "retention", now).await;
                if page.count(&mut n, "resume", erased).is_some() {
                    n.resumed += 1;
                }
            }
            pages.read(&page, last);
        }
        if pages.out_of_time(&mut complete) {
            break 'work;
        }
        // People who applied, stalest first.
        let mut pages = Pages::new(None);
        while let Some(after) = pages.next(deadline) {
            let (stale, last) = st.store.stale_people(cutoff, PAGE, after).await?;
            let mut page = Page::default();
            for p in stale.iter().filter(|p| seen.insert(p.email_hash.clone())) {
                match page.count(&mut n, "applicant", erase_unless_open(st, p, now).await) {
                    Some(true) => n.erased += 1,
                    Some(false) => n.kept += 1,
                    None => {}
                }
            }
            pages.read(&page, last);
        }
        if pages.out_of_time(&mut complete) {
            break 'work;
        }
        // Submitted and abandoned drafts: they hold an address, and nothing reads them once closed.
        let mut pages = Pages::new(None);
        while let Some(after) = pages.next(deadline) {
            let (keys, last) = st.store.closed_drafts(cutoff, DRAFTS_PAGE, after).await?;
            let mut page = Page::default();
            if let Some(k) = page.count(&mut n, "drafts", st.store.delete_keys(keys).await) {
                n.drafts += k as u64;
            }
            pages.read(&page, last);
        }
        if pages.out_of_time(&mut complete) {
            break 'work;
        }
        // Prospects who never applied: a pass over the pool, resumed where the last run stopped.
        let mut pages = Pages::new(Some(st.store.retention_cursor(POOL_PASS).await?));
        while let Some(after) = pages.next(deadline) {
            let (prospects, last) = st.store.pool_page(&after.unwrap_or_default(), 100).await?;
            let mut page = Page::default();
            for p in prospects.iter().filter(|p| lapsed(p, cutoff)) {
                if seen.contains(&p.id) {
                    continue;
                }
                // Someone who applied is the applicants phase's: only an erasure or a failure counts.
                let result = erase_if_never_applied(st, p, now).await;
                if !matches!(result, Ok(false)) {
                    seen.insert(p.id.clone());
                    if page.count(&mut n, "prospect", result).is_some() {
                        n.erased += 1;
                    }
                }
            }
            // The cursor stays before a page on which nothing succeeded, so the next run reads it
            // again; after the last page the pass is complete and the next run starts a new one.
            if !page.stuck() {
                st.store.set_retention_cursor(POOL_PASS, last.as_deref().unwrap_or("")).await?;
            }
            pages.read(&page, last);
        }
        pages.out_of_time(&mut complete);
    }
    if complete && !orphan_resumes(st, now, deadline, &mut n).await? {
        complete = false;
    }
    let Counts { resumed, erased, kept, drafts, orphans, failed } = n;
    tracing::info!(resumed, erased, kept, drafts_erased = drafts, orphans, failed, complete, "retention swept");
    Ok(json!({"task": "retention", "erased": erased, "resumed": resumed, "kept_open": kept, "drafts_erased": drafts,
              "orphan_resumes": orphans, "failed": failed, "complete": complete}))
}

/// Resume copies no application refers to: intake copies an upload to `resumes/<application>.<ext>`
/// before it writes the application, and a crash between the two leaves the copy behind. A pass over
/// `resumes/` a page at a time, resumed where the last run stopped; copies younger than a day may
/// belong to a request still at work and are left to a later pass. `Ok(false)`: out of time.
async fn orphan_resumes(
    st: &AppState,
    now: DateTime<Utc>,
    deadline: Instant,
    n: &mut Counts,
) -> Result<bool, ApiError> {
    let mut after = st.store.retention_cursor(RESUMES_PASS).await?;
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let (files, more) = st.files.resumes_after(&after).await?;
        let settled: Vec<(&str, String)> = files
            .iter()
            .filter(|f| f.written_at.is_some_and(|t| t < now - Duration::days(1)))
            .filter_map(|f| Some((f.key.as_str(), f.application.clone()?)))
            .collect();
        let ids: Vec<String> = settled.iter().map(|(_, id)| id.clone()).collect();
        let existing = st.store.existing_applications(&ids).await?;
        for (key, _) in settled.iter().filter(|(_, id)| !existing.contains(id)) {
            match st.files.delete_all_versions(key).await {
                Ok(_) => n.orphans += 1,
                Err(e) => failure(n, "orphan resume", &e),
            }
        }
        after = if more { files.last().map(|f| f.key.clone()).unwrap_or_default() } else { String::new() };
        st.store.set_retention_cursor(RESUMES_PASS, &after).await?;
        if !more {
            return Ok(true);
        }
    }
}

/// Erases a stale applicant, or keeps them (at the end of the index) while an application is open.
/// `Ok(true)`: erased.
async fn erase_unless_open(st: &AppState, p: &PersonKeys, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let open = match &p.candidate_id {
        Some(c) => st.store.has_open_application(c).await?,
        None => false,
    };
    if open {
        st.store.defer_retention(p, now).await?;
        return Ok(false);
    }
    crate::app::privacy::erase(st, p, "retention", now).await?;
    Ok(true)
}

/// Erases a lapsed prospect unless they applied. `Ok(true)`: erased.
async fn erase_if_never_applied(st: &AppState, p: &Prospect, now: DateTime<Utc>) -> Result<bool, StoreError> {
    // Someone who applied is the retention index's to judge (by their last activity and open
    // applications), whatever their prospect record says.
    let Some((keys, _)) = st.store.resolve_person(&p.id).await? else { return Ok(false) };
    if keys.candidate_id.is_some() {
        return Ok(false);
    }
    let person = PersonKeys { email_hash: p.id.clone(), candidate_id: None };
    crate::app::privacy::erase(st, &person, "retention", now).await?;
    Ok(true)
}

/// A failure is counted and logged as its code: never an id, an address or a message that could quote one.
fn failure(n: &mut Counts, what: &str, e: &StoreError) {
    n.failed += 1;
    let code = match e {
        StoreError::Unavailable(code) => code.as_str(),
        StoreError::ConditionFailed => "condition failed",
        StoreError::Corrupt(_) => "corrupt item",
    };
    tracing::warn!(what, error = code, "retention step failed; the next run retries");
}

/// A prospect who never applied, untouched since the cutoff, whose consent (if any) is older too.
fn lapsed(p: &Prospect, cutoff: DateTime<Utc>) -> bool {
    p.candidate_id.is_none()
        && p.updated_at.or(p.created_at).is_some_and(|t| t < cutoff)
        && p.recent_sends.iter().all(|t| *t < cutoff)
}
