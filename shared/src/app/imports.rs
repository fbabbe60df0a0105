//! Prior-applicant imports as resumable work. The file sits in the bucket; each step reads one page
//! of it (a byte range, so memory stays flat whatever the file's size), takes the whole records in
//! it, writes them, and saves where it stopped, conditional on where it started, so two runners never
//! both move one import on. The request that starts an import runs it for a while; the `imports`
//! task (the nurture function, every 5 minutes, runs [`task`]) finishes what is left and sends the consent emails
//! imports leave behind, at SES's pace.
use crate::api::AppState;
use crate::app::notify::{consent_letter, notify, ConsentAsk, Ledger, Needs, Notification};
use crate::app::pace::Pace;
use crate::consent::{Consent, Method};
use crate::email::EmailHash;
use crate::error::ApiError;
use crate::files::Files;
use crate::ids::ImportId;
use crate::parse::{Fields, Line};
use crate::prospect::{merge_import, ImportColumns, ImportRow, LineError, Merged, Prospect, ProspectStatus};
use crate::store::tx::TxError;
use crate::store::{ImportRun, ImportStatus, NewImported};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Instant;

/// Bytes of the file read a step.
pub const PAGE_BYTES: u64 = 256 * 1024;
/// Items of one write transaction (DynamoDB's limit).
const TX_ITEMS: usize = 100;

/// The largest CSV sent inline; larger files go to S3 first.
pub const MAX_INLINE_IMPORT: usize = 5 * 1024 * 1024;

/// Where an import's file comes from.
pub enum Source {
    /// A CSV sent with the request (up to [`MAX_INLINE_IMPORT`] bytes), kept in the bucket first.
    Inline(Bytes),
    /// `{"upload_key"}`: a file uploaded first.
    Upload(Value),
}

/// Starts an import of the file `source` names for the user `by`, and runs it until it is done or
/// `deadline` passes (the `imports` task finishes it).
pub async fn import(st: &AppState, source: Source, by: &str, deadline: Instant) -> Result<ImportRun, ApiError> {
    let (id, key) = match source {
        Source::Inline(body) => {
            if body.len() > MAX_INLINE_IMPORT {
                return Err(ApiError::PayloadTooLarge(format!(
                    "send at most {MAX_INLINE_IMPORT} bytes inline; upload larger files first"
                )));
            }
            let id = ImportId::new(st.clock.as_ref());
            let key = st.files.put_import(&id, body).await?;
            (id.to_string(), key)
        }
        Source::Upload(value) => Fields::parse(value, |f| {
            let key: Option<Line<1, 100>> = f.req("upload_key");
            let key = key?.0;
            let Some(id) = Files::import_of(&key) else {
                f.error("upload_key", "is not an import upload key");
                return None;
            };
            Some((id.to_string(), key))
        })?,
    };
    start(st, &id, key, by, deadline).await
}

/// Records an import of the file at `key` (once: the same id again finds the run it started) and
/// runs it until it is done or `deadline` passes.
pub async fn start(st: &AppState, id: &str, key: String, by: &str, deadline: Instant) -> Result<ImportRun, ApiError> {
    if let Some(run) = st.store.import_run(id).await? {
        return resume(st, &run.import_id, deadline).await;
    }
    // Nothing is recorded for a key whose upload has not arrived (yet): a later try may find it.
    if !st.files.import_uploaded(&key).await? {
        return Err(ApiError::field("upload_key", "nothing was uploaded under this key"));
    }
    let run = ImportRun::new(id.to_string(), key, by.to_string(), st.clock.now());
    st.store.save_import(&run, None).await?;
    resume(st, id, deadline).await
}

/// Runs one import until it is done, `deadline` passes, or another runner holds it.
pub async fn resume(st: &AppState, id: &str, deadline: Instant) -> Result<ImportRun, ApiError> {
    let mut run = st.store.import_run(id).await?.ok_or(ApiError::NotFound)?;
    while run.status == ImportStatus::Running && Instant::now() < deadline {
        let expected = run.offset;
        step(st, &mut run, deadline).await?;
        run.updated_at = st.clock.now();
        if !st.store.save_import(&run, Some(expected)).await? {
            // Another runner moved it on meanwhile: its count is the one kept.
            return st.store.import_run(id).await?.ok_or(ApiError::NotFound);
        }
    }
    Ok(run)
}

/// The next page: read, parse, write, and move the run past the whole records it wrote. The page's
/// records are written 50 at a time, the deadline checked between groups (after the first), so a
/// page of slow writes stops in time and the rest is read again next step.
async fn step(st: &AppState, run: &mut ImportRun, deadline: Instant) -> Result<(), ApiError> {
    if run.size > 0 && run.offset >= run.size {
        run.status = ImportStatus::Done;
        return Ok(());
    }
    let Some((bytes, size)) = st.files.import_page(&run.key, run.offset, PAGE_BYTES).await? else {
        run.status = ImportStatus::Failed;
        run.failure = Some("the file is gone (imports are kept a day)".into());
        return Ok(());
    };
    run.size = size;
    run.largest_buffer_bytes = run.largest_buffer_bytes.max(bytes.len() as u64);
    let at_end = run.offset + bytes.len() as u64 >= size;
    let (entries, header_end) = parse_page(run, &bytes, at_end);
    if run.status != ImportStatus::Running {
        return Ok(());
    }
    let (mut consumed, mut lines) = header_end.unwrap_or((0, 0));
    let mut whole_page = true;
    for (i, group) in entries.chunks(50).enumerate() {
        if i > 0 && Instant::now() >= deadline {
            whole_page = false;
            break;
        }
        let mut rows = Vec::new();
        for e in group {
            match &e.item {
                Ok(row) => rows.push(row.clone()),
                Err(err) => run.error(err.clone()),
            }
        }
        write_rows(st, run, rows).await?;
        if let Some(last) = group.last() {
            (consumed, lines) = (last.end_byte, last.end_lines);
        }
    }
    if consumed == 0 && !at_end {
        run.status = ImportStatus::Failed;
        run.failure = Some(format!("a line is longer than {PAGE_BYTES} bytes"));
        return Ok(());
    }
    run.offset += consumed;
    run.next_line += lines;
    if at_end && whole_page {
        if run.header.is_none() {
            run.status = ImportStatus::Failed;
            run.failure = Some("the file is empty".into());
        } else {
            run.status = ImportStatus::Done;
        }
    }
    Ok(())
}

/// One record of a page: a row or the line's error, and where in the page it ends (byte, lines).
struct Entry {
    item: Result<ImportRow, LineError>,
    end_byte: u64,
    end_lines: u64,
}

/// The whole records of a page, and where the header ended if it was on this page. A record that may
/// be cut by the page's end is left for the next page.
fn parse_page(run: &mut ImportRun, bytes: &[u8], at_end: bool) -> (Vec<Entry>, Option<(u64, u64)>) {
    let mut reader = crate::prospect::reader_builder().has_headers(false).from_reader(bytes);
    let mut columns = run.header.as_ref().and_then(|h| ImportColumns::from_header(h.iter().map(String::as_str)).ok());
    let (mut entries, mut seen, mut header_end) = (Vec::new(), HashSet::new(), None);
    let mut record = csv::StringRecord::new();
    loop {
        let start_line = reader.position().line();
        let read = reader.read_record(&mut record);
        let end = reader.position().clone();
        if matches!(read, Ok(false)) {
            break;
        }
        if !at_end && end.byte() >= bytes.len() as u64 {
            break;
        }
        let (end_byte, end_lines) = (end.byte(), end.line() - 1);
        let line = run.next_line + start_line - 1;
        let item = match (read, &columns) {
            (Err(e), _) => Err(LineError { line, message: crate::prospect::csv_problem(&e) }),
            (Ok(_), None) => match ImportColumns::from_header(record.iter()) {
                Ok(c) => {
                    run.header = Some(c.names.clone());
                    columns = Some(c);
                    header_end = Some((end_byte, end_lines));
                    continue;
                }
                Err(_) => {
                    run.status = ImportStatus::Failed;
                    run.failure = Some("the header row has no email column".into());
                    return (Vec::new(), None);
                }
            },
            (Ok(_), Some(cols)) => match cols.row(&record, line) {
                // The same address twice within a page is reported (across pages, the second finds
                // the first already in the pool and changes nothing).
                Ok(row) if !seen.insert(row.email.clone()) => {
                    Err(LineError { line, message: "the same email appears earlier in the file".into() })
                }
                other => other,
            },
        };
        entries.push(Entry { item, end_byte, end_lines });
    }
    (entries, header_end)
}

/// Merges a page's rows into the pool: the records of 25 people a read, new prospects a transaction
/// of up to 100 items, changed ones one conditional write each.
async fn write_rows(st: &AppState, run: &mut ImportRun, rows: Vec<ImportRow>) -> Result<(), ApiError> {
    let now = st.clock.now();
    for chunk in rows.chunks(50) {
        let hasher = st.hasher().await?;
        let hashes: Vec<EmailHash> = chunk.iter().map(|r| hasher.email(&r.email)).collect();
        let records = st.store.pool_records(&hashes).await?;
        let mut group: Vec<(u64, NewImported)> = Vec::new();
        let mut items = 0;
        for (row, h) in chunk.iter().zip(&hashes) {
            let record = records.get(h).cloned().unwrap_or_default();
            if record.suppressed.is_some() {
                run.skipped += 1;
                continue;
            }
            let (existing, pending) = record.prospect.unzip();
            let consents = row.consent.map(|d| import_consent(d, now)).unwrap_or_default();
            match merge_import(existing.as_ref(), row, h, now) {
                Merged::Unchanged => run.skipped += 1,
                Merged::Changed(p) => {
                    // The person and their consent records together, or neither.
                    let change = NewImported::change(p, pending.unwrap_or_default(), consents);
                    match st.store.write_imported(std::slice::from_ref(&change), now).await {
                        Ok(()) => run.updated += 1,
                        Err(TxError::Store(e)) => return Err(e.into()),
                        Err(_) => run.error(LineError {
                            line: row.line,
                            message: "the prospect changed during the import; import again".into(),
                        }),
                    }
                }
                Merged::New(p) => {
                    let ask = p.status == ProspectStatus::PendingConsent && st.config.import_asks_consent;
                    let event = crate::event::prospect_created(st.clock.as_ref(), &p, now);
                    let new = NewImported::new(p, consents, ask, event);
                    // The person, each consent record (two items), the ask, the event.
                    let size = 2 + 2 * new.consents.len() + usize::from(new.ask);
                    if items + size > TX_ITEMS {
                        create(st, run, std::mem::take(&mut group)).await?;
                        items = 0;
                    }
                    items += size;
                    group.push((row.line, new));
                }
            }
        }
        create(st, run, group).await?;
    }
    Ok(())
}

/// Writes new prospects together; if one was added meanwhile, each on its own (each still with its
/// consent records and ask, or not at all).
async fn create(st: &AppState, run: &mut ImportRun, group: Vec<(u64, NewImported)>) -> Result<(), ApiError> {
    if group.is_empty() {
        return Ok(());
    }
    let now = st.clock.now();
    let news: Vec<NewImported> = group.iter().map(|(_, n)| n.clone()).collect();
    match st.store.write_imported(&news, now).await {
        Ok(()) => {
            run.imported += news.len() as u64;
            return Ok(());
        }
        Err(TxError::Store(e)) => return Err(e.into()),
        Err(_) => {}
    }
    for (line, n) in group {
        match st.store.write_imported(std::slice::from_ref(&n), now).await {
            Ok(()) => run.imported += 1,
            Err(TxError::Store(e)) => return Err(e.into()),
            Err(_) => run.error(LineError { line, message: "added by someone else meanwhile; import again".into() }),
        }
    }
    Ok(())
}

/// Consent evidence an import carries, dated as the file says (else the import's time).
fn import_consent(date: Option<NaiveDate>, now: DateTime<Utc>) -> Vec<Consent> {
    let at = date.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).unwrap_or(now);
    Consent::talent_pool(at, Method::Import, "import")
}

/// The `imports` task: finishes the imports still running, then sends the consent emails they left,
/// paced to the account's send rate, until the time budget is spent (the next run goes on).
pub async fn task(st: &AppState, deadline: Instant) -> Result<Value, ApiError> {
    let (mut finished, mut asked, mut failed, mut complete) = (0u64, 0u64, 0u64, true);
    // One import or one email failing never stops the others: it is counted and tried next run.
    for id in st.store.running_imports(10).await? {
        match resume(st, &id, deadline).await {
            Ok(run) if run.status != ImportStatus::Running => finished += 1,
            Ok(_) => complete = false,
            Err(e) => {
                failed += 1;
                complete = false;
                tracing::warn!(error = %e, "an import step failed; the next run goes on");
            }
        }
    }
    let mut pace = Pace::of_account(st, 0.01).await;
    let mut tried = HashSet::new();
    'asks: loop {
        let page = st.store.pending_asks(25).await?;
        let fresh: Vec<&EmailHash> = page.iter().filter(|h| !tried.contains(*h)).collect();
        // Only asks that failed earlier in this run are left: they wait for the next run.
        if fresh.is_empty() {
            break;
        }
        for h in fresh {
            if Instant::now() >= deadline {
                complete = false;
                break 'asks;
            }
            tried.insert(h.clone());
            pace.wait().await;
            let sent = async {
                let sent = match st.store.prospect(h).await? {
                    Some(p) if p.status == ProspectStatus::PendingConsent => ask_consent(st, &p).await?,
                    _ => false,
                };
                st.store.clear_ask(h).await?;
                Ok::<bool, ApiError>(sent)
            };
            match sent.await {
                Ok(s) => asked += u64::from(s),
                Err(e) => {
                    failed += 1;
                    complete = false;
                    tracing::warn!(error = %e, "an import's consent email was not sent; the next run tries again");
                }
            }
        }
        if page.len() < 25 {
            break;
        }
    }
    tracing::info!(finished, asked, failed, complete, "imports run");
    Ok(json!({"task": "imports", "finished": finished, "asked": asked, "failed": failed, "complete": complete}))
}

/// One email, ever, asking an imported person for consent. `Ok(true)`: sent.
async fn ask_consent(st: &AppState, p: &Prospect) -> Result<bool, ApiError> {
    let now = st.clock.now();
    // Written before the claim, which a failure to sign would leave taken.
    let (first, imported) = (p.first_name.as_deref(), ConsentAsk::Imported);
    let letter = consent_letter(st, &p.id, &p.email, p.first_name.clone(), first, None, imported).await?;
    if !st.store.claim_once(&p.id, "import_consent", now).await? {
        return Ok(false);
    }
    let needs = Needs { purpose: None, known: None };
    match notify(st, Notification { letter, needs, ledger: Ledger::Person(&p.id), kind: "import_consent" }).await {
        Ok(sent) => Ok(sent.is_some()),
        Err(e) => {
            // SES did not take it (throttled, or down): the claim goes back, so the next run asks.
            st.store.release_once(&p.id, "import_consent").await?;
            Err(e)
        }
    }
}
