//! The content library: stories, `CONTENT/STORY#<id>`, one partition read in one query.
use super::{doc, key, to_doc, Store};
use crate::content::Story;
use crate::error::StoreError;

impl Store {
    pub async fn put_story(&self, story: &Story) -> Result<(), StoreError> {
        let mut item = key("CONTENT", format!("STORY#{}", story.id));
        item.insert("doc".into(), to_doc(story)?);
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed)
        }
    }

    /// Every story, oldest first (the library is small: one query a page of 1 MB).
    pub async fn stories(&self) -> Result<Vec<Story>, StoreError> {
        self.with_prefix("CONTENT", "STORY#").await?.iter().map(doc).collect()
    }
}
