//! Candidates: `CAND#<id>/CAND` (the document and the email's keyed hash) and the lock that makes an
//! email one candidate, `EMAIL#<h>/CANDIDATE`. A candidate is created only with their first
//! application, in its transaction; reads come with the application's (see `application_context`).
use super::tx::Tx;
use super::{key, s, to_doc};
use crate::application::Candidate;
use crate::email::EmailHash;
use crate::error::StoreError;

/// A new candidate and their email lock, both only if absent (a concurrent first application loses).
pub(super) fn add_candidate(tx: &mut Tx, table: &str, c: &Candidate, email_hash: &EmailHash) -> Result<(), StoreError> {
    let mut lock = key(format!("EMAIL#{email_hash}"), "CANDIDATE");
    lock.insert("candidate_id".into(), s(c.id.to_string()));
    tx.put("email", table, lock, Some("attribute_not_exists(pk)"));
    let mut item = key(format!("CAND#{}", c.id), "CAND");
    item.insert("doc".into(), to_doc(c)?);
    item.insert("email_hash".into(), s(email_hash));
    tx.put("candidate", table, item, Some("attribute_not_exists(pk)"));
    Ok(())
}
