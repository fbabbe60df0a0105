//! Job distribution: the `feeds` task writes the three feeds to S3, and `/feeds/*` serves them.
//!
//! The task reads open jobs a page at a time (one query a page) and streams each feed: a buffer
//! goes to S3 as a multipart part whenever it reaches 5 MiB, so memory does not grow with the
//! number of jobs. A feed whose job entries hash the same as last time is not rewritten (its
//! `lastBuildDate`, ETag and Last-Modified stay), so boards re-fetch only what changed.
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use http::{header, HeaderMap, StatusCode};
use rapport::api::AppState;
use rapport::email::split_sender;
use rapport::error::ApiError;
use rapport::feed::{IndeedFeed, JsonLdFeed, LinkedInFeed, Publisher};
use rapport::job::{Board, JobStatus};
use rapport::store::{JobFilter, PageRequest};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// (name, S3 key, content type, path).
pub const FEEDS: [(&str, &str, &str, &str); 3] = [
    ("indeed", "feeds/indeed.xml", "application/xml; charset=utf-8", "/feeds/indeed.xml"),
    ("linkedin", "feeds/linkedin.xml", "application/xml; charset=utf-8", "/feeds/linkedin.xml"),
    ("jobs_json", "feeds/jobs.json", "application/ld+json; charset=utf-8", "/feeds/jobs.json"),
];

/// S3's smallest multipart part (but the last).
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Jobs read per query.
const PAGE: i32 = 100;
/// A feed is rebuilt at least this often, even when nothing was marked changed.
const REBUILD_EVERY: Duration = Duration::hours(1);

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("{what}: {e}"))
}

/// One feed on its way to S3.
struct Upload {
    key: &'static str,
    content_type: &'static str,
    hasher: Sha256,
    /// Bytes of the header (with its build date) still to leave out of the hash.
    unhashed_header: usize,
    multipart: Option<(String, Vec<CompletedPart>)>,
    largest_buffer: usize,
}

impl Upload {
    fn new(key: &'static str, content_type: &'static str, header_len: usize) -> Self {
        Upload {
            key,
            content_type,
            hasher: Sha256::new(),
            unhashed_header: header_len,
            multipart: None,
            largest_buffer: 0,
        }
    }

    fn hash(&mut self, bytes: &[u8]) {
        let skip = self.unhashed_header.min(bytes.len());
        self.unhashed_header -= skip;
        self.hasher.update(&bytes[skip..]);
    }

    /// Sends a full buffer as a part; smaller buffers wait for more.
    async fn ship(&mut self, st: &AppState, buf: &mut Vec<u8>) -> Result<(), ApiError> {
        self.largest_buffer = self.largest_buffer.max(buf.len());
        if buf.len() < PART_SIZE {
            return Ok(());
        }
        let s3 = &st.aws.s3;
        if self.multipart.is_none() {
            let out = s3
                .create_multipart_upload()
                .bucket(&st.config.bucket)
                .key(self.key)
                .content_type(self.content_type)
                .send()
                .await
                .map_err(|e| unavailable("s3 create multipart", rapport::aws::code(&e)))?;
            self.multipart = Some((out.upload_id.unwrap_or_default(), Vec::new()));
        }
        let part: Vec<u8> = std::mem::take(buf);
        self.hash(&part);
        self.upload_part(st, part).await
    }

    async fn upload_part(&mut self, st: &AppState, part: Vec<u8>) -> Result<(), ApiError> {
        let (upload_id, parts) = self.multipart.as_mut().expect("started before any part");
        let number = parts.len() as i32 + 1;
        let out = st
            .aws
            .s3
            .upload_part()
            .bucket(&st.config.bucket)
            .key(self.key)
            .upload_id(upload_id.as_str())
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|e| unavailable("s3 upload part", rapport::aws::code(&e)))?;
        parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag).build());
        Ok(())
    }

    /// Writes the rest, unless the job entries are what they were. Returns (hash, written).
    async fn finish(
        mut self,
        st: &AppState,
        rest: Vec<u8>,
        previous: Option<&str>,
    ) -> Result<(String, bool), ApiError> {
        self.largest_buffer = self.largest_buffer.max(rest.len());
        self.hash(&rest);
        let hash = format!("{:x}", self.hasher.clone().finalize());
        let unchanged = previous == Some(hash.as_str());
        let s3 = &st.aws.s3;
        let bucket = &st.config.bucket;
        match self.multipart.take() {
            None if unchanged => Ok((hash, false)),
            None => {
                s3.put_object()
                    .bucket(bucket)
                    .key(self.key)
                    .content_type(self.content_type)
                    .body(ByteStream::from(rest))
                    .send()
                    .await
                    .map_err(|e| unavailable("s3 put", rapport::aws::code(&e)))?;
                Ok((hash, true))
            }
            Some((upload_id, _)) if unchanged => {
                s3.abort_multipart_upload()
                    .bucket(bucket)
                    .key(self.key)
                    .upload_id(upload_id)
                    .send()
                    .await
                    .map_err(|e| unavailable("s3 abort", rapport::aws::code(&e)))?;
                Ok((hash, false))
            }
            Some(started) => {
                self.multipart = Some(started);
                if !rest.is_empty() {
                    self.upload_part(st, rest).await?;
                }
                let (upload_id, parts) = self.multipart.take().expect("put back above");
                s3.complete_multipart_upload()
                    .bucket(bucket)
                    .key(self.key)
                    .upload_id(upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
                    .map_err(|e| unavailable("s3 complete", rapport::aws::code(&e)))?;
                Ok((hash, true))
            }
        }
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
    let io = |e: std::io::Error| unavailable("rendering", e);
    let mut indeed = IndeedFeed::start(Vec::new(), &p, now).map_err(io)?;
    let mut linkedin = LinkedInFeed::start(Vec::new(), now).map_err(io)?;
    let mut jsonld = JsonLdFeed::start(Vec::new()).map_err(io)?;
    let mut uploads = [
        Upload::new(FEEDS[0].1, FEEDS[0].2, indeed.buffer().len()),
        Upload::new(FEEDS[1].1, FEEDS[1].2, linkedin.buffer().len()),
        Upload::new(FEEDS[2].1, FEEDS[2].2, 0),
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
        uploads[0].ship(st, indeed.buffer()).await?;
        uploads[1].ship(st, linkedin.buffer()).await?;
        uploads[2].ship(st, jsonld.buffer()).await?;
        match jobs.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    let rests = [indeed.finish().map_err(io)?, linkedin.finish().map_err(io)?, jsonld.finish().map_err(io)?];
    let mut hashes = Vec::new();
    let mut written = Vec::new();
    let mut largest = 0;
    for ((upload, rest), (name, ..)) in uploads.into_iter().zip(rests).zip(FEEDS) {
        largest = largest.max(upload.largest_buffer).max(rest.len());
        let previous = state.hashes.iter().find(|(n, _)| n == name).map(|(_, h)| h.as_str());
        let (hash, wrote) = upload.finish(st, rest, previous).await?;
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

/// Lambda answers at most 6 MB; a feed larger than this is handed over as a short-lived S3 link.
const MAX_INLINE: i64 = 4 * 1024 * 1024;

/// `GET /feeds/<file>`: the last build, with `ETag`, `Last-Modified` and 304 on `If-None-Match`.
pub async fn serve(st: &AppState, path: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let (_, key, content_type, _) = FEEDS.iter().find(|f| f.3 == path).ok_or(ApiError::NoRoute)?;
    let mut req = st.aws.s3.get_object().bucket(&st.config.bucket).key(*key);
    if let Some(tag) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        req = req.if_none_match(tag);
    }
    let out = match req.send().await {
        Ok(out) => out,
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => {
            let mut res = StatusCode::NOT_MODIFIED.into_response();
            if let Some(tag) = headers.get(header::IF_NONE_MATCH) {
                res.headers_mut().insert(header::ETAG, tag.clone());
            }
            return Ok(res);
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Err(ApiError::NotFound);
        }
        Err(e) => return Err(unavailable("s3 get", rapport::aws::code(&e))),
    };
    if out.content_length.unwrap_or(0) > MAX_INLINE {
        let presigning = aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(300))
            .map_err(|e| unavailable("presigning", e))?;
        let link = st
            .aws
            .s3
            .get_object()
            .bucket(&st.config.bucket)
            .key(*key)
            .presigned(presigning)
            .await
            .map_err(|e| unavailable("presigning", e))?;
        return Ok((StatusCode::FOUND, [(header::LOCATION, link.uri().to_string())]).into_response());
    }
    let etag = out.e_tag.clone().unwrap_or_default();
    let modified = out.last_modified.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), 0));
    let body = out.body.collect().await.map_err(|e| unavailable("s3 read", e))?.into_bytes();
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=300"));
    if let Ok(v) = http::HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(t) =
        modified.and_then(|t| http::HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok())
    {
        h.insert(header::LAST_MODIFIED, t);
    }
    Ok(res)
}
