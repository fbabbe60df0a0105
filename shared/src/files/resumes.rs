//! Career-site uploads (under `uploads/`, named by the domain's [`UploadKey`]) and the resumes kept
//! from them, one an application, at `resumes/<application>.<ext>`.
use super::{unavailable, Files, UploadLink};
use crate::error::StoreError;
use crate::ids::ApplicationId;
use crate::upload::{FileType, UploadKey};
use chrono::{DateTime, Utc};

const RESUMES: &str = "resumes/";

/// A kept resume, as a pass over them lists it.
#[derive(Debug, Clone)]
pub struct ResumeFile {
    pub key: String,
    /// The application the key names (a key not of that form names none).
    pub application: Option<String>,
    pub written_at: Option<DateTime<Utc>>,
}

impl Files {
    /// The link through which the browser PUTs one upload: its type and size are signed.
    pub async fn resume_upload_link(
        &self,
        key: &UploadKey,
        file_type: FileType,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadLink, StoreError> {
        self.upload_link(&key.0, file_type.as_str(), size, now).await
    }

    /// How large an upload is; `None` when nothing was uploaded under the key.
    pub async fn upload_size(&self, key: &UploadKey) -> Result<Option<u64>, StoreError> {
        self.size(&key.0).await
    }

    /// The first `n` bytes of an upload (one ranged read), for its type to be checked.
    pub async fn upload_start(&self, key: &UploadKey, n: u64) -> Result<bytes::Bytes, StoreError> {
        let out = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(&key.0)
            .range(format!("bytes=0-{}", n.saturating_sub(1)))
            .send()
            .await
            .map_err(|e| unavailable("s3 get", crate::aws::code(&e)))?;
        Ok(out.body.collect().await.map_err(|e| unavailable("s3 read", e))?.into_bytes())
    }

    /// Copies a checked upload to where the application's resume is kept, and answers that key.
    pub async fn keep_resume(
        &self,
        upload: &UploadKey,
        application: &ApplicationId,
        file_type: FileType,
    ) -> Result<String, StoreError> {
        let dest = format!("{RESUMES}{application}.{}", file_type.extension());
        self.s3()
            .copy_object()
            .bucket(&self.bucket)
            .key(&dest)
            .copy_source(format!("{}/{}", self.bucket, upload.0))
            .content_type(file_type.as_str())
            .send()
            .await
            .map_err(|e| unavailable("s3 copy", crate::aws::code(&e)))?;
        Ok(dest)
    }

    /// One page (at most 1,000) of the kept resumes after the key `after` (`""`: from the start), with
    /// when each was last written; `true` when more follow.
    pub async fn resumes_after(&self, after: &str) -> Result<(Vec<ResumeFile>, bool), StoreError> {
        let out = self
            .s3()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(RESUMES)
            .set_start_after(Some(after.to_string()).filter(|s| !s.is_empty()))
            .send()
            .await
            .map_err(|e| unavailable("s3", crate::aws::code(&e)))?;
        let files = out
            .contents()
            .iter()
            .filter_map(|o| {
                let key = o.key()?.to_string();
                let application = key.strip_prefix(RESUMES).and_then(|k| k.split('.').next()).map(str::to_string);
                let written_at = o.last_modified().and_then(|t| DateTime::from_timestamp(t.secs(), 0));
                Some(ResumeFile { key, application, written_at })
            })
            .collect();
        Ok((files, out.is_truncated().unwrap_or(false)))
    }
}
