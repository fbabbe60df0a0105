//! Sending a notification: compose the letter, check the person may receive it, send it, record the
//! send. Every email Rapport sends to one person goes through [`notify`] (the nurture task's campaign
//! emails share [`Letter::compose`] and the checks, and add their own ledger).
use crate::app::AppState;
use crate::config::Config;
use crate::consent::Purpose;
use crate::email::EmailHash;
use crate::email::{render, Email, Outgoing};
use crate::error::{ApiError, StoreError};
use crate::ids::CampaignId;
use crate::mailer::SendFailure;
use crate::prospect::SuppressionReason;
pub use crate::store::Ledger;
use crate::store::Store;
use crate::token::Signer;
use serde_json::Value;

/// One email to one person, rendered with what every email Rapport sends carries: the employer's
/// postal address, a visible unsubscribe link, and the RFC 8058 headers (`List-Unsubscribe` with an
/// https link, `List-Unsubscribe-Post: List-Unsubscribe=One-Click`) so mail clients offer one click.
pub struct Letter<'a> {
    pub to: &'a Email,
    pub to_name: Option<String>,
    pub email_hash: &'a EmailHash,
    pub subject: String,
    pub template: &'a str,
    pub context: Value,
    /// The campaign a nurture email belongs to, so an unsubscribe is traced to it.
    pub campaign: Option<CampaignId>,
}

impl Letter<'_> {
    pub fn compose(self, signer: &Signer, config: &Config) -> Result<Outgoing, ApiError> {
        let token = crate::prospect::unsubscribe_token_for(signer, self.email_hash, self.campaign);
        let unsubscribe_url = format!("{}/careers/unsubscribe?token={token}", config.public_api_url);
        let mut ctx = self.context;
        if let Value::Object(map) = &mut ctx {
            map.insert("unsubscribe_url".into(), Value::String(unsubscribe_url.clone()));
            map.insert("postal_address".into(), Value::String(config.postal_address.clone()));
            map.entry("company").or_insert_with(|| Value::String(config.company_name.clone()));
        }
        let (text, html) = render(self.template, &ctx)
            .map_err(|e| ApiError::Unavailable(format!("template {}: {e}", self.template)))?;
        Ok(Outgoing {
            to: self.to.clone(),
            to_name: self.to_name,
            subject: self.subject,
            text,
            html,
            headers: vec![
                ("List-Unsubscribe", format!("<{unsubscribe_url}>")),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()),
            ],
        })
    }
}

/// What an email needs before it may go.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// The purpose the email serves, checked against the person's latest consent record; `None` for
    /// an email that only asks for consent or that the person requested this moment.
    pub purpose: Option<Purpose>,
    /// (suppression reason, consent given) when the caller read them in its own batch; else read here.
    pub known: Option<(Option<SuppressionReason>, bool)>,
}

impl Needs {
    /// Whether the person may receive the email: no suppression (an unsubscribe, bounce, complaint or
    /// erasure) and, for a purpose, a latest consent record that says yes.
    pub async fn met(self, store: &Store, email_hash: &EmailHash) -> Result<bool, StoreError> {
        let (suppressed, consented) = match self.known {
            Some(known) => known,
            None => {
                let suppressed = store.suppression(email_hash).await?;
                let consented = match self.purpose {
                    None => true,
                    Some(p) => store.consent(email_hash, p).await?.is_some_and(|c| c.given),
                };
                (suppressed, consented)
            }
        };
        if let Some(reason) = suppressed {
            tracing::info!(reason = reason.as_str(), "suppressed address: not sent");
            return Ok(false);
        }
        if !consented {
            tracing::info!(purpose = ?self.purpose.map(|p| p.as_str()), "no consent for the purpose: not sent");
            return Ok(false);
        }
        Ok(true)
    }
}

/// One notification: the letter, what it needs, and the ledger entry (`kind`) that records it.
pub struct Notification<'a> {
    pub letter: Letter<'a>,
    pub needs: Needs,
    pub ledger: Ledger<'a>,
    pub kind: &'static str,
}

/// Composes, checks, sends and records one email. `Ok(Some(message id))`: sent; `Ok(None)`: the
/// person may not receive it, nothing sent; `Err`: not sent. The caller claims the send first (with the write that
/// causes it), so a retry never sends twice.
pub async fn notify(st: &AppState, n: Notification<'_>) -> Result<Option<String>, ApiError> {
    deliver(st, n).await.map_err(|e| match e {
        NotSent::Retry(e) => e,
        NotSent::Never(code) => ApiError::Unavailable(code),
    })
}

/// Why an email did not go, as a caller that may try again must tell it.
#[derive(Debug)]
pub enum NotSent {
    /// Surely not sent (a read failed, SES throttled or refused the request before taking it).
    Retry(ApiError),
    /// SES refused the message for good, or may have taken it: never sent again.
    Never(String),
}

/// [`notify`], telling apart a failure worth a retry from one that must not be retried.
pub async fn deliver(st: &AppState, n: Notification<'_>) -> Result<Option<String>, NotSent> {
    let email_hash = n.letter.email_hash;
    let signer = st.signer().await.map_err(|e| NotSent::Retry(e.into()))?;
    let msg = n.letter.compose(signer, &st.config).map_err(NotSent::Retry)?;
    if !n.needs.met(&st.store, email_hash).await.map_err(|e| NotSent::Retry(e.into()))? {
        return Ok(None);
    }
    let id = match st.mailer.send_tagged(&msg, &[]).await {
        Ok(id) => id,
        Err(SendFailure::Throttled(code)) => return Err(NotSent::Retry(ApiError::Unavailable(code))),
        Err(SendFailure::Other(e)) => return Err(NotSent::Retry(e.into())),
        Err(SendFailure::Rejected(code) | SendFailure::Unknown(code)) => return Err(NotSent::Never(code)),
    };
    // Sent: a failure to record it is logged, never an error, since the caller's claim already stops
    // a second send and an error would make it undo the claim.
    if let Err(e) = st.store.record_send(n.ledger, n.kind, &id, st.clock.now()).await {
        tracing::error!(kind = n.kind, error = %e, "an email went but its send was not recorded");
    }
    Ok(Some(id))
}

/// The three emails that ask for talent-pool consent, each with a link to the confirm page.
pub enum ConsentAsk<'a> {
    /// A sign-up's or a drop-off's double opt-in.
    Optin,
    /// A silver medalist's, naming the job they were in process for.
    SilverMedalist { job_title: &'a str },
    /// An imported person's one email.
    Imported,
}

/// A letter asking for consent, with its confirm link (`nonce`: the pending request it confirms).
pub async fn consent_letter<'a>(
    st: &AppState,
    email_hash: &'a EmailHash,
    to: &'a Email,
    to_name: Option<String>,
    first_name: Option<&str>,
    nonce: Option<&str>,
    ask: ConsentAsk<'_>,
) -> Result<Letter<'a>, ApiError> {
    let signer = st.signer().await?;
    let now = st.clock.now();
    let company = &st.config.company_name;
    let url = format!(
        "{}/careers/talent-pool/confirm?token={}",
        st.config.public_api_url,
        crate::prospect::confirm_token(signer, email_hash, nonce, now)
    );
    let (subject, template, context) = match ask {
        ConsentAsk::Optin => (
            format!("Confirm your subscription to {company}"),
            "optin",
            serde_json::json!({"first_name": first_name, "company": company, "confirm_url": url}),
        ),
        ConsentAsk::SilverMedalist { job_title } => (
            format!("Can {company} keep in touch?"),
            "consent_request",
            serde_json::json!({"first_name": first_name, "company": company, "job_title": job_title,
                                "confirm_url": url}),
        ),
        ConsentAsk::Imported => (
            format!("Can {company} keep in touch?"),
            "import_consent",
            serde_json::json!({"first_name": first_name, "confirm_url": url}),
        ),
    };
    Ok(Letter { to, to_name, email_hash, subject, template, context, campaign: None })
}
