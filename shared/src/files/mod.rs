//! The port to the bucket (S3): every file Rapport keeps goes through [`Files`]. Only this module
//! names the SDK and the bucket's layout; callers get plain values or a [`StoreError`]. By concept:
//! [`resumes`] (career-site uploads and the resumes kept from them), [`imports`] (CSV files of prior
//! applicants), [`descriptions`] (job-description files), [`feeds`] (the job boards' feeds, written
//! through [`multipart`]). Here: removing an object that holds personal data with every version,
//! since the bucket is versioned and a plain delete only hides the bytes; and the short-lived
//! presigned links through which files come and go.
use crate::aws::{Aws, Lazy};
use crate::error::StoreError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use std::time::Duration;

mod descriptions;
mod feeds;
mod imports;
mod multipart;
mod resumes;

pub use feeds::FeedRead;
pub use multipart::{Multipart, PART_SIZE};
pub use resumes::ResumeFile;

/// Rounds of a delete in which some version failed (DeleteObjects answers per-key errors with a 200)
/// before giving up: the caller's retry (an erasure's tombstone) tries again later.
pub const FAILED_ROUNDS: u32 = 3;

/// How long a presigned upload URL stays valid: long enough to send a 10 MB resume or a 50 MB CSV
/// from a slow connection, short enough that a leaked URL is soon useless.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);

/// The bucket, as the use cases and handlers see it.
#[derive(Clone, Debug)]
pub struct Files {
    aws: Aws,
    client: Lazy<aws_sdk_s3::Client>,
    bucket: String,
}

/// A presigned PUT: where the browser sends the bytes, and the headers it must send with them.
#[derive(Debug, Clone)]
pub struct UploadLink {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// An S3 failure as the logs may see it: the operation and the error's code, never its message.
fn unavailable(what: &str, code: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what}: {code}"))
}

impl Files {
    pub fn new(aws: &Aws, bucket: String) -> Self {
        Self { aws: aws.clone(), client: Lazy::new(), bucket }
    }

    /// The S3 client, built at the first file operation (see [`Lazy`]).
    fn s3(&self) -> &aws_sdk_s3::Client {
        self.client.get(|| self.aws.s3())
    }

    /// Deletes every version and delete marker of one key (one list and one batch delete a page).
    pub async fn delete_all_versions(&self, key: &str) -> Result<usize, StoreError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let (s3, bucket) = (self.s3(), &self.bucket);
        let (mut deleted, mut failed_rounds) = (0, 0);
        loop {
            let page = s3
                .list_object_versions()
                .bucket(bucket)
                .prefix(key)
                .send()
                .await
                .map_err(|e| unavailable("s3", crate::aws::code(&e)))?;
            let mut ids = Vec::new();
            for (k, v) in page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())))
            {
                if k != Some(key) {
                    continue;
                }
                let id = ObjectIdentifier::builder().key(key).set_version_id(v.map(str::to_string)).build();
                ids.push(id.map_err(|e| unavailable("s3", e))?);
            }
            if ids.is_empty() {
                return Ok(deleted);
            }
            let asked = ids.len();
            let delete = Delete::builder().set_objects(Some(ids)).build().map_err(|e| unavailable("s3", e))?;
            let out = s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| unavailable("s3", crate::aws::code(&e)))?;
            deleted += asked.saturating_sub(out.errors().len());
            // A version that failed is listed again; a key that keeps failing must not loop forever. The
            // code only: a message can quote the key.
            if let Some(e) = out.errors().first() {
                failed_rounds += 1;
                if failed_rounds >= FAILED_ROUNDS {
                    return Err(unavailable("s3", format!("DeleteObjects {}", e.code().unwrap_or("unknown error"))));
                }
                tokio::time::sleep(Duration::from_millis(100 << failed_rounds)).await;
            }
        }
    }

    /// A link that reads one object for `ttl` (a resume, an export's files). It always downloads: the
    /// signed `response-content-disposition` makes S3 answer `Content-Disposition: attachment`, so a
    /// file someone uploaded (an HTML or SVG posing as a resume) is never rendered by the browser that
    /// opens it.
    pub async fn download_link(&self, key: &str, now: DateTime<Utc>, ttl: Duration) -> Result<String, StoreError> {
        let req = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(attachment(key))
            .presigned(presigning(now, ttl)?)
            .await
            .map_err(|e| unavailable("presigning", e))?;
        Ok(req.uri().to_string())
    }

    /// A PUT of exactly this type and size for [`UPLOAD_URL_TTL`]: both are signed, so S3 refuses
    /// anything else.
    async fn upload_link(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadLink, StoreError> {
        let req = self
            .s3()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .presigned(presigning(now, UPLOAD_URL_TTL)?)
            .await
            .map_err(|e| unavailable("presigning", e))?;
        let headers = req.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Ok(UploadLink { url: req.uri().to_string(), headers })
    }

    /// The size of the object at `key`; `None` when there is none.
    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.s3().head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => Ok(Some(head.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(e) => Err(unavailable("s3 head", crate::aws::code(&e))),
        }
    }

    /// Writes one whole object.
    async fn put(&self, key: &str, content_type: &str, body: impl Into<ByteStream>) -> Result<(), StoreError> {
        self.s3()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(|e| unavailable("s3 put", crate::aws::code(&e)))?;
        Ok(())
    }
}

fn presigning(now: DateTime<Utc>, ttl: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::builder().start_time(now.into()).expires_in(ttl).build().map_err(|e| unavailable("presigning", e))
}

/// `attachment`, named after the key's last part when that is a plain file name (keys are made
/// here, `resumes/<id>.pdf`, but a name is only quoted when nothing in it needs escaping).
fn attachment(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or_default();
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        format!("attachment; filename=\"{name}\"")
    } else {
        "attachment".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn downloads_are_attachments_named_only_when_plain() {
        assert_eq!(attachment("resumes/01J0ABC.pdf"), "attachment; filename=\"01J0ABC.pdf\"");
        for odd in ["resumes/a\"b.pdf", "resumes/", "resumes/.hidden", "resumes/a b.pdf", "resumes/é.pdf"] {
            assert_eq!(attachment(odd), "attachment", "{odd}");
        }
    }
}
