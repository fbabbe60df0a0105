//! One object written in parts as they come, so the writer's memory holds one part at a time.
use super::{unavailable, Files};
use crate::error::StoreError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

/// S3's smallest multipart part (but the last).
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// An object on its way to the bucket. Nothing is sent before the first part: an object that never
/// reaches one is written whole, with one PUT, by [`Multipart::complete`].
pub struct Multipart<'a> {
    files: &'a Files,
    key: String,
    content_type: &'static str,
    /// The upload's id and the parts sent, once started.
    started: Option<(String, Vec<CompletedPart>)>,
}

impl<'a> Multipart<'a> {
    pub(super) fn new(files: &'a Files, key: String, content_type: &'static str) -> Self {
        Multipart { files, key, content_type, started: None }
    }

    /// Sends one part of at least [`PART_SIZE`] bytes (but the last), starting the upload on the first.
    pub async fn part(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        let (s3, bucket) = (self.files.s3(), &self.files.bucket);
        if self.started.is_none() {
            let out = s3
                .create_multipart_upload()
                .bucket(bucket)
                .key(&self.key)
                .content_type(self.content_type)
                .send()
                .await
                .map_err(|e| unavailable("s3 create multipart", crate::aws::code(&e)))?;
            self.started = Some((out.upload_id.unwrap_or_default(), Vec::new()));
        }
        let (upload_id, parts) = self.started.as_mut().expect("started above");
        let number = parts.len() as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(&self.key)
            .upload_id(upload_id.as_str())
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable("s3 upload part", crate::aws::code(&e)))?;
        parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag).build());
        Ok(())
    }

    /// Writes the object: `rest` as the last part of a started upload, or the whole object in one PUT.
    pub async fn complete(mut self, rest: Vec<u8>) -> Result<(), StoreError> {
        if self.started.is_none() {
            return self.files.put(&self.key, self.content_type, rest).await;
        }
        if !rest.is_empty() {
            self.part(rest).await?;
        }
        let (upload_id, parts) = self.started.take().expect("started: checked above");
        self.files
            .s3()
            .complete_multipart_upload()
            .bucket(&self.files.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| unavailable("s3 complete", crate::aws::code(&e)))?;
        Ok(())
    }

    /// Writes nothing: a started upload is aborted, and the object stays as it was.
    pub async fn abort(self) -> Result<(), StoreError> {
        let Some((upload_id, _)) = self.started else { return Ok(()) };
        self.files
            .s3()
            .abort_multipart_upload()
            .bucket(&self.files.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| unavailable("s3 abort", crate::aws::code(&e)))?;
        Ok(())
    }
}
