//! The job boards' feeds, at `feeds/<file name>`: written in parts by the `feeds` task, read back for
//! `/feeds/*`.
use super::{unavailable, Files, Multipart};
use crate::error::StoreError;
use crate::feed::FeedFile;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long the link to a feed too large to hand over inline works.
const LINK_TTL: Duration = Duration::from_secs(300);

fn feed_key(feed: FeedFile) -> String {
    format!("feeds/{}", feed.file_name())
}

/// A feed's last build, as a reader asked for it.
#[derive(Debug)]
pub enum FeedRead {
    /// The reader's copy (its `If-None-Match`) is current.
    NotModified,
    /// Never built.
    Missing,
    /// Larger than the reader takes inline: a short-lived link to it.
    Link(String),
    Body {
        bytes: bytes::Bytes,
        etag: String,
        last_modified: Option<DateTime<Utc>>,
    },
}

impl Files {
    /// The upload that replaces one feed.
    pub fn feed_upload(&self, feed: FeedFile) -> Multipart<'_> {
        Multipart::new(self, feed_key(feed), feed.content_type())
    }

    /// The feed as last built (one read), unless it is still `if_none_match`; one of more than
    /// `max_inline` bytes as a link instead.
    pub async fn read_feed(
        &self,
        feed: FeedFile,
        if_none_match: Option<&str>,
        max_inline: u64,
    ) -> Result<FeedRead, StoreError> {
        let key = feed_key(feed);
        let req =
            self.s3().get_object().bucket(&self.bucket).key(&key).set_if_none_match(if_none_match.map(str::to_string));
        let out = match req.send().await {
            Ok(out) => out,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => return Ok(FeedRead::NotModified),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(FeedRead::Missing),
            Err(e) => return Err(unavailable("s3 get", crate::aws::code(&e))),
        };
        if out.content_length.unwrap_or(0) > max_inline as i64 {
            let presigning = aws_sdk_s3::presigning::PresigningConfig::expires_in(LINK_TTL)
                .map_err(|e| unavailable("presigning", e))?;
            let link = self
                .s3()
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .presigned(presigning)
                .await
                .map_err(|e| unavailable("presigning", e))?;
            return Ok(FeedRead::Link(link.uri().to_string()));
        }
        let etag = out.e_tag.clone().unwrap_or_default();
        let last_modified = out.last_modified.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), 0));
        let bytes = out.body.collect().await.map_err(|e| unavailable("s3 read", e))?.into_bytes();
        Ok(FeedRead::Body { bytes, etag, last_modified })
    }
}
