//! CSV files of prior applicants, at `imports/<import id>.csv`: uploaded (or sent inline), then read a
//! byte range at a time so memory stays flat whatever the file's size.
use super::{unavailable, Files, UploadLink};
use crate::error::StoreError;
use crate::ids::ImportId;
use bytes::Bytes;
use chrono::{DateTime, Utc};

fn import_key(id: &ImportId) -> String {
    format!("imports/{id}.csv")
}

impl Files {
    /// The key an import's file goes to, and the link through which it is uploaded (its size signed).
    pub async fn import_upload_link(
        &self,
        id: &ImportId,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<(String, UploadLink), StoreError> {
        let key = import_key(id);
        let link = self.upload_link(&key, "text/csv", size, now).await?;
        Ok((key, link))
    }

    /// Keeps a file sent inline; answers its key.
    pub async fn put_import(&self, id: &ImportId, csv: Bytes) -> Result<String, StoreError> {
        let key = import_key(id);
        self.put(&key, "text/csv", csv).await?;
        Ok(key)
    }

    /// The import an upload key names, as written in it, when it is an import's key at all.
    pub fn import_of(key: &str) -> Option<&str> {
        key.strip_prefix("imports/").and_then(|k| k.strip_suffix(".csv")).filter(|id| id.parse::<ImportId>().is_ok())
    }

    /// Whether anything was uploaded under an import's key (yet).
    pub async fn import_uploaded(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.size(key).await?.is_some())
    }

    /// `len` bytes of an import's file from `offset`, and the file's size; `None` when the file is gone.
    pub async fn import_page(&self, key: &str, offset: u64, len: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let range = format!("bytes={}-{}", offset, offset + len - 1);
        let res = self.s3().get_object().bucket(&self.bucket).key(key).range(range).send().await;
        let obj = match res {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            // A range past the end: an empty file (or one read to its end).
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                return Ok(Some((Vec::new(), offset)))
            }
            Err(e) => return Err(unavailable("s3 get", crate::aws::code(&e))),
        };
        // `bytes a-b/size`
        let size = obj
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(offset + obj.content_length().unwrap_or(0) as u64);
        let bytes = obj.body.collect().await.map_err(|_| unavailable("s3 read", "the body broke off"))?;
        Ok(Some((bytes.into_bytes().to_vec(), size)))
    }
}
