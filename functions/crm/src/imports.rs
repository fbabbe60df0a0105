//! Prior-applicant imports as resumable work. The file sits in the bucket; each step reads one page
//! of it (a byte range, so memory stays flat whatever the file's size), takes the whole records in
//! it, writes them, and saves where it stopped, conditional on where it started, so two runners never
//! both move one import on. The request that starts an import runs it for a while; the `imports`
//! task (the nurture function, every 5 minutes) finishes what is left and sends the consent emails
//! imports leave behind, at SES's pace.
use rapport::api::AppState;
use rapport::error::{ApiError, StoreError};
use rapport::prospect::{merge_import, ImportColumns, ImportRow, LineError, Merged, Prospect, ProspectStatus};
use rapport::store::{ImportRun, ImportStatus, NewImported};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Bytes of the file read a step.
pub const PAGE_BYTES: u64 = 256 * 1024;
/// Items of one write transaction (DynamoDB's limit).
const TX_ITEMS: usize = 100;

/// Records an import of the file at `key` (once: the same id again finds the run it started) and
/// runs it until it is done or `deadline` passes.
pub async fn start(st: &AppState, id: &str, key: String, by: &str, deadline: Instant) -> Result<ImportRun, ApiError> {
    let run = ImportRun::new(id.to_string(), key, by.to_string(), st.clock.now());
    st.store.save_import(&run, None).await?;
    resume(st, id, deadline).await
}

/// Runs one import until it is done, `deadline` passes, or another runner holds it.
pub async fn resume(st: &AppState, id: &str, deadline: Instant) -> Result<ImportRun, ApiError> {
    let mut run = st.store.import_run(id).await?.ok_or(ApiError::NotFound)?;
    while run.status == ImportStatus::Running && Instant::now() < deadline {
        let expected = run.offset;
        step(st, &mut run).await?;
        run.updated_at = st.clock.now();
        if !st.store.save_import(&run, Some(expected)).await? {
            // Another runner moved it on meanwhile: its count is the one kept.
            return st.store.import_run(id).await?.ok_or(ApiError::NotFound);
        }
    }
    Ok(run)
}

/// The next page: read, parse, write, and move the run past the whole records it held.
async fn step(st: &AppState, run: &mut ImportRun) -> Result<(), ApiError> {
    if run.size > 0 && run.offset >= run.size {
        run.status = ImportStatus::Done;
        return Ok(());
    }
    let (bytes, size) = read_page(st, run).await?;
    let Some(bytes) = bytes else {
        run.status = ImportStatus::Failed;
        run.failure = Some("the file is gone (imports are kept a day)".into());
        return Ok(());
    };
    run.size = size;
    run.largest_buffer_bytes = run.largest_buffer_bytes.max(bytes.len() as u64);
    let at_end = run.offset + bytes.len() as u64 >= size;
    let (rows, consumed, lines) = parse_page(run, &bytes, at_end);
    if run.status != ImportStatus::Running {
        return Ok(());
    }
    if consumed == 0 && !at_end {
        run.status = ImportStatus::Failed;
        run.failure = Some(format!("a line is longer than {PAGE_BYTES} bytes"));
        return Ok(());
    }
    write_rows(st, run, rows).await?;
    run.offset += consumed;
    run.next_line += lines;
    if at_end {
        if run.header.is_none() {
            run.status = ImportStatus::Failed;
            run.failure = Some("the file is empty".into());
        } else {
            run.status = ImportStatus::Done;
        }
    }
    Ok(())
}

/// One byte range of the file, and the file's size; `None` when the file is gone.
async fn read_page(st: &AppState, run: &ImportRun) -> Result<(Option<Vec<u8>>, u64), ApiError> {
    let range = format!("bytes={}-{}", run.offset, run.offset + PAGE_BYTES - 1);
    let res = st.aws.s3.get_object().bucket(&st.config.bucket).key(&run.key).range(range).send().await;
    let obj = match res {
        Ok(o) => o,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok((None, 0)),
        // A range past the end: an empty file (or one read to its end).
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
            return Ok((Some(Vec::new()), run.offset))
        }
        Err(e) => return Err(ApiError::Unavailable(format!("s3 get: {}", rapport::aws::code(&e)))),
    };
    // `bytes a-b/size`
    let size = obj
        .content_range()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(run.offset + obj.content_length().unwrap_or(0) as u64);
    let bytes = obj.body.collect().await.map_err(|_| ApiError::Unavailable("s3 read: the body broke off".into()))?;
    Ok((Some(bytes.into_bytes().to_vec()), size))
}

/// The whole records of a page: good rows (errors go to the run), and the bytes and lines they took.
/// A record that may be cut by the page's end is left for the next page.
fn parse_page(run: &mut ImportRun, bytes: &[u8], at_end: bool) -> (Vec<ImportRow>, u64, u64) {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let mut columns = run.header.as_ref().and_then(|h| ImportColumns::from_header(h.iter().map(String::as_str)).ok());
    let (mut rows, mut seen, mut consumed, mut lines) = (Vec::new(), HashSet::new(), 0u64, 0u64);
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
        (consumed, lines) = (end.byte(), end.line() - 1);
        let line = run.next_line + start_line - 1;
        if let Err(e) = read {
            run.error(LineError { line, message: rapport::prospect::csv_problem(&e) });
            continue;
        }
        let Some(cols) = &columns else {
            match ImportColumns::from_header(record.iter()) {
                Ok(c) => {
                    run.header = Some(c.names.clone());
                    columns = Some(c);
                }
                Err(_) => {
                    run.status = ImportStatus::Failed;
                    run.failure = Some("the header row has no email column".into());
                    return (Vec::new(), 0, 0);
                }
            }
            continue;
        };
        match cols.row(&record, line) {
            // The same address twice within a page is reported (across pages, the second finds the
            // first already in the pool and changes nothing).
            Ok(row) if !seen.insert(row.email.clone()) => {
                run.error(LineError { line, message: "the same email appears earlier in the file".into() })
            }
            Ok(row) => rows.push(row),
            Err(e) => run.error(e),
        }
    }
    (rows, consumed, lines)
}

/// Merges a page's rows into the pool: the records of 25 people a read, new prospects a transaction
/// of up to 100 items, changed ones one conditional write each.
async fn write_rows(st: &AppState, run: &mut ImportRun, rows: Vec<ImportRow>) -> Result<(), ApiError> {
    let now = st.clock.now();
    for chunk in rows.chunks(50) {
        let hashes: Vec<String> = chunk.iter().map(|r| st.email_hash(&r.email)).collect();
        let records = st.store.pool_records(&hashes).await?;
        let mut group: Vec<(u64, NewImported)> = Vec::new();
        let mut items = 0;
        for (row, h) in chunk.iter().zip(&hashes) {
            let record = records.get(h).cloned().unwrap_or_default();
            if record.suppressed.is_some() {
                run.skipped += 1;
                continue;
            }
            let existing = record.prospect.as_ref().map(rapport::store::prospect_of).transpose()?;
            match merge_import(existing.as_ref(), row, h, now) {
                Merged::Unchanged => run.skipped += 1,
                Merged::Changed(p) => match st.store.put_prospect(&p, false, vec![], now).await {
                    Ok(()) => {
                        run.updated += 1;
                        if let Some(date) = row.consent {
                            st.store.record_consents(&p.id, &import_consent(date, now)).await?;
                        }
                    }
                    Err(StoreError::ConditionFailed) => run.error(LineError {
                        line: row.line,
                        message: "the prospect changed during the import; import again".into(),
                    }),
                    Err(e) => return Err(e.into()),
                },
                Merged::New(p) => {
                    let new = NewImported {
                        extra: import_extra(&p, row, now),
                        consents: row.consent.map(|d| import_consent(d, now)).unwrap_or_default(),
                        ask: p.status == ProspectStatus::PendingConsent && st.config.import_asks_consent,
                        prospect: p,
                    };
                    let size = 1 + 2 * new.consents.len() + usize::from(new.ask);
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

/// Writes new prospects together; if one was added meanwhile, each on its own.
async fn create(st: &AppState, run: &mut ImportRun, group: Vec<(u64, NewImported)>) -> Result<(), ApiError> {
    if group.is_empty() {
        return Ok(());
    }
    let now = st.clock.now();
    let news: Vec<NewImported> = group.iter().map(|(_, n)| n.clone()).collect();
    match st.store.create_imported(&news, now).await {
        Ok(()) => {
            run.imported += news.len() as u64;
            return Ok(());
        }
        Err(rapport::store::tx::TxError::Store(e)) => return Err(e.into()),
        Err(_) => {}
    }
    for (line, n) in group {
        match st.store.put_prospect(&n.prospect, true, n.extra, now).await {
            Ok(()) => {
                run.imported += 1;
                st.store.record_consents(&n.prospect.id, &n.consents).await?;
                if n.ask {
                    st.store.leave_ask(&n.prospect.id, now).await?;
                }
            }
            Err(StoreError::ConditionFailed) => {
                run.error(LineError { line, message: "added by someone else meanwhile; import again".into() })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Consent evidence an import carries, dated as the file says (else the import's time).
fn import_consent(
    date: Option<chrono::NaiveDate>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<rapport::consent::Consent> {
    let at = date.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).unwrap_or(now);
    rapport::consent::Consent::talent_pool(at, rapport::consent::Method::Import, "import")
}

/// The consent evidence an import row brings, or what a pending person's confirmation will apply.
fn import_extra(
    p: &Prospect,
    row: &ImportRow,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    match row.consent {
        Some(date) => {
            let at = date.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).unwrap_or(now);
            let record =
                json!({"given": true, "at": rapport::clock::rfc3339(at), "text_version": "import", "method": "import"});
            vec![("talent_pool_consent", S(record.to_string()))]
        }
        // What the confirmation link makes theirs (the double opt-in's second step).
        None => vec![
            ("pending_interests", S(serde_json::to_string(&p.interests).unwrap_or_default())),
            ("pending_credentials", S(serde_json::to_string(&p.credentials).unwrap_or_default())),
            ("pending_origin", S("imported".into())),
        ],
    }
}

/// The `imports` task: finishes the imports still running, then sends the consent emails they left,
/// paced to the account's send rate, until the time budget is spent (the next run goes on).
pub async fn task(st: &AppState, deadline: Instant) -> Result<Value, ApiError> {
    let (mut finished, mut asked, mut complete) = (0u64, 0u64, true);
    for id in st.store.running_imports(10).await? {
        if resume(st, &id, deadline).await?.status != ImportStatus::Running {
            finished += 1;
        } else {
            complete = false;
        }
    }
    let rate = st.mailer.max_send_rate().await.unwrap_or(st.config.ses_max_send_rate);
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let mut next_send = Instant::now();
    'asks: loop {
        let page = st.store.pending_asks(25).await?;
        for h in &page {
            if Instant::now() >= deadline {
                complete = false;
                break 'asks;
            }
            let wait = next_send.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            next_send = Instant::now() + interval;
            if let Some(p) = st.store.prospect(h).await? {
                if p.status == ProspectStatus::PendingConsent && ask_consent(st, &p).await? {
                    asked += 1;
                }
            }
            st.store.clear_ask(h).await?;
        }
        if page.len() < 25 {
            break;
        }
    }
    tracing::info!(finished, asked, complete, "imports run");
    Ok(json!({"task": "imports", "finished": finished, "asked": asked, "complete": complete}))
}

/// One email, ever, asking an imported person for consent. `Ok(true)`: sent.
async fn ask_consent(st: &AppState, p: &Prospect) -> Result<bool, ApiError> {
    let now = st.clock.now();
    if !st.store.claim_once(&p.id, "import_consent", now).await? {
        return Ok(false);
    }
    let url = format!(
        "{}/careers/talent-pool/confirm?token={}",
        st.config.public_api_url,
        rapport::prospect::confirm_token(&st.signer, &p.id, now)
    );
    let msg = rapport::email::Letter {
        to: &p.email,
        to_name: p.first_name.clone(),
        email_hash: &p.id,
        subject: format!("Can {} keep in touch?", st.config.company_name),
        template: "import_consent",
        context: json!({"first_name": p.first_name, "confirm_url": url}),
        campaign: None,
    }
    .compose(st)
    .map_err(|e| ApiError::Unavailable(format!("template: {e}")))?;
    let needs = rapport::email::Needs { purpose: None, known: None };
    let Some(id) = st.mailer.deliver(&st.store, &p.id, needs, &msg).await? else { return Ok(false) };
    st.store.record_send(format!("EMAIL#{}", p.id), "import_consent", &id, now).await?;
    Ok(true)
}
