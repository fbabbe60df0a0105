//! Job-description files, at `jd/<job>/<sha256>`: named by their hash, so an upload that loses the
//! job's version check leaves the file the job refers to untouched, and the same bytes sent twice are
//! one object.
use super::{unavailable, Files};
use crate::error::StoreError;
use crate::ids::JobId;
use crate::job::DescriptionFile;
use bytes::Bytes;

fn description_key(job: &JobId, file: &DescriptionFile) -> String {
    format!("jd/{job}/{}", file.sha256)
}

impl Files {
    pub async fn put_description(&self, job: &JobId, file: &DescriptionFile, body: Bytes) -> Result<(), StoreError> {
        self.put(&description_key(job, file), file.content_type.as_str(), body).await
    }

    pub async fn description(&self, job: &JobId, file: &DescriptionFile) -> Result<Bytes, StoreError> {
        let out = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(description_key(job, file))
            .send()
            .await
            .map_err(|e| unavailable("s3 get", crate::aws::code(&e)))?;
        Ok(out.body.collect().await.map_err(|e| unavailable("s3 read", e))?.into_bytes())
    }

    /// A plain delete: a description holds nothing personal, so an old version may stay.
    pub async fn delete_description(&self, job: &JobId, file: &DescriptionFile) -> Result<(), StoreError> {
        let key = description_key(job, file);
        self.s3()
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| unavailable("s3 delete", crate::aws::code(&e)))?;
        Ok(())
    }
}
