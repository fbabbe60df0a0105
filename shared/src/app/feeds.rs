//! Job distribution: the `feeds` task writes the three feeds to the bucket (the jobs function serves
//! them at `/feeds/*`).
//!
//! The task reads open jobs a page at a time (one query a page) and streams each feed: a buffer
//! goes to the bucket as a multipart part whenever it reaches [`PART_SIZE`], so memory does not grow
//! with the number of jobs. A feed whose job entries hash the same as last time is not rewritten (its
//! `lastBuildDate`, ETag and Last-Modified stay), so boards re-fetch only what changed.
use crate::app::AppState;
use crate::email::split_sender;
use crate::error::{ApiError, StoreError};
use crate::feed::{FeedFile, IndeedFeed, JsonLdFeed, LinkedInFeed, Publisher};
use crate::files::{Multipart, PART_SIZE};
use crate::job::{Board, JobStatus};
use crate::store::{JobFilter, PageRequest};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// Jobs read per query.
const PAGE: i32 = 100;
/// A feed is rebuilt at least this often, even when nothing was marked changed.
const REBUILD_EVERY: Duration = Duration::hours(1);

/// One feed on its way to the bucket, hashed as it goes.
struct Output<'a> {
    upload: Multipart<'a>,
    hasher: Sha256,
    /// Bytes of the header (with its build date) still to leave out of the hash.
    unhashed_header: usize,
    largest_buffer: usize,
}

impl<'a> Output<'a> {
    fn new(st: &'a AppState, feed: FeedFile, header_len: usize) -> Self {
        Output {
            upload: st.files.feed_upload(feed),
            hasher: Sha256::new(),
            unhashed_header: header_len,
            largest_buffer: 0,
        }
    }

    fn hash(&mut self, bytes: &[u8]) {
        let skip = self.unhashed_header.min(bytes.len());
        self.unhashed_header -= skip;
        self.hasher.update(&bytes[skip..]);
    }

    /// Sends a full buffer as a part; smaller buffers wait for more.
    async fn ship(&mut self, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        self.largest_buffer = self.largest_buffer.max(buf.len());
        if buf.len() < PART_SIZE {
            return Ok(());
        }
        let part: Vec<u8> = std::mem::take(buf);
        self.hash(&part);
        self.upload.part(part).await
    }

    /// Writes the rest, unless the job entries are what they were. Returns (hash, written).
    async fn finish(mut self, rest: Vec<u8>, previous: Option<&str>) -> Result<(String, bool), StoreError> {
        self.hash(&rest);
        let hash = format!("{:x}", self.hasher.clone().finalize());
        if previous == Some(hash.as_str()) {
            self.upload.abort().await?;
            return Ok((hash, false));
        }
        self.upload.complete(rest).await?;
        Ok((hash, true))
    }
}

/// The `feeds` task: rebuilds when a job change was marked since the last build, when the last
/// build is over an hour old, or when forced.
pub async fn build(st: &AppState, now: DateTime<Utc>, deadline: Instant, force: bool) -> Result<Value, ApiError> {
    let state = st.store.feed_state().await?;
    let dirty = state.built_generation.is_none_or(|g| state.generation > g);
    let stale = state.built_at.is_none_or(|b| now - b >= REBUILD_EVERY);
    if !(force || dirty || stale) {
        return Ok(json!({"task": "feeds", "built": false}));
    }
    let p = Publisher {
        company: &st.config.company_name,
        careers_url: &st.config.careers_url,
        email: split_sender(&st.config.sender).1,
    };
    let io = |e: std::io::Error| ApiError::Unavailable(format!("rendering: {e}"));
    let mut indeed = IndeedFeed::start(Vec::new(), &p, now).map_err(io)?;
    let mut linkedin = LinkedInFeed::start(Vec::new(), now).map_err(io)?;
    let mut jsonld = JsonLdFeed::start(Vec::new()).map_err(io)?;
    let mut outputs = [
        Output::new(st, FeedFile::Indeed, indeed.buffer().len()),
        Output::new(st, FeedFile::Linkedin, linkedin.buffer().len()),
        Output::new(st, FeedFile::JobsJson, 0),
    ];
    let (mut queries, mut counts, mut left_out) = (0, [0usize; 3], Vec::new());
    let filter = JobFilter { status: Some(JobStatus::Open), ..Default::default() };
    let mut page = PageRequest { limit: PAGE, cursor: None };
    loop {
        if Instant::now() > deadline {
            // Nothing half-built is published: open multipart uploads are left to the bucket's
            // lifecycle rule, and the next run starts again.
            return Err(ApiError::Unavailable("the feeds build ran out of time".into()));
        }
        let jobs = st.store.list_jobs(&filter, &page).await?;
        queries += 1;
        for job in jobs.items.iter().filter(|j| j.is_live(now)) {
            let on = |b: Board| job.spec.boards.contains(&b);
            if on(Board::Indeed) {
                indeed.job(job, &p).map_err(io)?;
                counts[0] += 1;
            }
            if on(Board::Linkedin) {
                if linkedin.job(job, &p, "").map_err(io)? {
                    counts[1] += 1;
                } else {
                    left_out.push(
                        json!({"job_id": job.id, "reason": "LinkedIn needs a description of 100 characters or more"}),
                    );
                }
            }
            if on(Board::Google) {
                jsonld.job(job, &p).map_err(io)?;
                counts[2] += 1;
            }
        }
        outputs[0].ship(indeed.buffer()).await?;
        outputs[1].ship(linkedin.buffer()).await?;
        outputs[2].ship(jsonld.buffer()).await?;
        match jobs.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    let rests = [indeed.finish().map_err(io)?, linkedin.finish().map_err(io)?, jsonld.finish().map_err(io)?];
    let mut hashes = Vec::new();
    let mut written = Vec::new();
    let mut largest = 0;
    for ((output, rest), feed) in outputs.into_iter().zip(rests).zip(FeedFile::ALL) {
        let name = feed.name();
        largest = largest.max(output.largest_buffer).max(rest.len());
        let previous = state.hashes.iter().find(|(n, _)| n == name).map(|(_, h)| h.as_str());
        let (hash, wrote) = output.finish(rest, previous).await?;
        if wrote {
            written.push(name);
        }
        hashes.push((name.to_string(), hash));
    }
    st.store.record_feed_build(state.generation, now, &hashes).await?;
    tracing::info!(queries, ?counts, ?written, "feeds built");
    Ok(json!({"task": "feeds", "built": true, "queries": queries, "written": written,
              "jobs": {"indeed": counts[0], "linkedin": counts[1], "jobs_json": counts[2]},
              "linkedin_left_out": left_out, "largest_buffer_bytes": largest}))
}
