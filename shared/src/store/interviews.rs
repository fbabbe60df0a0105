//! Interviews and feedback, under their application's partition: `APP#<id>/INT#<iid>` and
//! `APP#<id>/INT#<iid>#FB#<sub>`, so one query reads them in order; `INTERVIEW#<iid>` points to an
//! interview by id (feedback names only the interview).
use super::tx::{Tx, TxError};
use super::{doc, events, key, text, to_doc, Store};
use crate::error::StoreError;
use crate::event::Event;
use crate::ids::{ApplicationId, InterviewId};
use crate::interview::{Feedback, Interview};

impl Store {
    /// A new interview: its item under the application, a pointer by id for feedback, and its event.
    pub async fn create_interview(&self, i: &Interview, event: &Event) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        let mut item = key(format!("APP#{}", i.application_id), format!("INT#{}", i.id));
        item.insert("doc".into(), to_doc(i)?);
        tx.put("interview", &self.table, item, Some("attribute_not_exists(pk)"));
        let mut pointer = key(format!("INTERVIEW#{}", i.id), "INTERVIEW");
        pointer.insert("doc".into(), to_doc(i)?);
        tx.put("pointer", &self.table, pointer, Some("attribute_not_exists(pk)"));
        events::record(&mut tx, &self.table, std::slice::from_ref(event));
        tx.commit(self).await.map_err(|e| match e {
            TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    pub async fn get_interview(&self, id: &InterviewId) -> Result<Option<Interview>, StoreError> {
        self.get(format!("INTERVIEW#{id}"), "INTERVIEW").await?.as_ref().map(doc).transpose()
    }

    /// One person's feedback on an interview, with its event; giving it again replaces it.
    pub async fn put_feedback(
        &self,
        application: &ApplicationId,
        f: &Feedback,
        event: &Event,
    ) -> Result<(), StoreError> {
        let mut item = key(format!("APP#{application}"), format!("INT#{}#FB#{}", f.interview_id, f.by));
        item.insert("doc".into(), to_doc(f)?);
        let mut tx = Tx::default();
        tx.put("feedback", &self.table, item, None);
        events::record(&mut tx, &self.table, std::slice::from_ref(event));
        tx.commit(self).await.map_err(|e| match e {
            TxError::Store(e) => e,
            other => StoreError::Unavailable(format!("{other:?}")),
        })
    }

    /// An application's interviews, each with its feedback: one query on the application's partition.
    pub async fn interviews(&self, application: &ApplicationId) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut interviews: Vec<serde_json::Value> = Vec::new();
        // Sort keys put each interview right before its feedback.
        for item in self.with_prefix(&format!("APP#{application}"), "INT#").await? {
            let sk = text(&item, "sk").unwrap_or_default();
            let mut v: serde_json::Value = doc(&item)?;
            if sk.contains("#FB#") {
                if let Some(list) = interviews.last_mut().and_then(|last| last["feedback"].as_array_mut()) {
                    list.push(v);
                }
            } else {
                v["feedback"] = serde_json::json!([]);
                interviews.push(v);
            }
        }
        Ok(interviews)
    }
}
