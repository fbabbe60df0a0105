//! Objects in the private bucket that hold personal data (resumes, uploads, imports): removed with
//! every version, since the bucket is versioned and a plain delete only hides the bytes.
use crate::error::StoreError;

/// Deletes every version and delete marker of one key (one list and one batch delete a page).
pub async fn delete_all_versions(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<usize, StoreError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let unavailable = |e: String| StoreError::Unavailable(format!("s3: {e}"));
    let mut deleted = 0;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
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
        deleted += ids.len();
        let delete = Delete::builder().set_objects(Some(ids)).build().map_err(|e| unavailable(e.to_string()))?;
        s3.delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
    }
}
