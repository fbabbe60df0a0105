//! Objects in the private bucket that hold personal data (resumes, uploads, imports): removed with
//! every version, since the bucket is versioned and a plain delete only hides the bytes; and the
//! short-lived presigned links through which files come and go.
use crate::error::StoreError;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Rounds of a delete in which some version failed (DeleteObjects answers per-key errors with a 200)
/// before giving up: the caller's retry (an erasure's tombstone) tries again later.
pub const FAILED_ROUNDS: u32 = 3;

/// Deletes every version and delete marker of one key (one list and one batch delete a page).
pub async fn delete_all_versions(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<usize, StoreError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let unavailable = |e: String| StoreError::Unavailable(format!("s3: {e}"));
    let (mut deleted, mut failed_rounds) = (0, 0);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .map_err(|e| unavailable(crate::aws::code(&e)))?;
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
            ids.push(id.map_err(|e| unavailable(e.to_string()))?);
        }
        if ids.is_empty() {
            return Ok(deleted);
        }
        let asked = ids.len();
        let delete = Delete::builder().set_objects(Some(ids)).build().map_err(|e| unavailable(e.to_string()))?;
        let out = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| unavailable(crate::aws::code(&e)))?;
        deleted += asked.saturating_sub(out.errors().len());
        // A version that failed is listed again; a key that keeps failing must not loop forever. The
        // code only: a message can quote the key.
        if let Some(e) = out.errors().first() {
            failed_rounds += 1;
            if failed_rounds >= FAILED_ROUNDS {
                return Err(unavailable(format!("DeleteObjects {}", e.code().unwrap_or("unknown error"))));
            }
            tokio::time::sleep(Duration::from_millis(100 << failed_rounds)).await;
        }
    }
}

/// One page (at most 1,000) of the keys under `prefix` after `start_after`, with when each was last
/// written; `true` when more follow.
pub async fn list_page(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    start_after: &str,
) -> Result<(Vec<(String, Option<DateTime<Utc>>)>, bool), StoreError> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .set_start_after(Some(start_after.to_string()).filter(|s| !s.is_empty()))
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(format!("s3: {}", crate::aws::code(&e))))?;
    let keys = out
        .contents()
        .iter()
        .filter_map(|o| {
            let at = o.last_modified().and_then(|t| DateTime::from_timestamp(t.secs(), 0));
            Some((o.key()?.to_string(), at))
        })
        .collect();
    Ok((keys, out.is_truncated().unwrap_or(false)))
}

/// How long a presigned upload URL stays valid: long enough to send a 10 MB resume or a 50 MB CSV
/// from a slow connection, short enough that a leaked URL is soon useless.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);

fn presigning(now: DateTime<Utc>, ttl: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::builder()
        .start_time(now.into())
        .expires_in(ttl)
        .build()
        .map_err(|e| StoreError::Unavailable(format!("presigning: {e}")))
}

/// A link that reads one object for `ttl` (a resume, an export's files). It always downloads: the
/// signed `response-content-disposition` makes S3 answer `Content-Disposition: attachment`, so a file
/// someone uploaded (an HTML or SVG posing as a resume) is never rendered by the browser that opens it.
pub async fn presigned_get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<String, StoreError> {
    let req = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .response_content_disposition(attachment(key))
        .presigned(presigning(now, ttl)?)
        .await
        .map_err(|e| StoreError::Unavailable(format!("presigning: {e}")))?;
    Ok(req.uri().to_string())
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

/// A PUT of exactly this type and size for `ttl`: both are signed, so S3 refuses anything else.
pub async fn presigned_put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    size: u64,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<PresignedRequest, StoreError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .content_length(size as i64)
        .presigned(presigning(now, ttl)?)
        .await
        .map_err(|e| StoreError::Unavailable(format!("presigning: {e}")))
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
