//! Sending email: the one port to SES (Raw content, one attempt), what an email needs before it may go
//! (no suppression, the purpose's consent), and the letter every email is composed as.
use crate::email::{render, split_sender, to_mime, Email, Outgoing};
use crate::error::StoreError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use serde_json::Value;

/// One email to one person, rendered with what every email Rapport sends carries: the employer's
/// postal address, a visible unsubscribe link, and the RFC 8058 headers (`List-Unsubscribe` with an
/// https link, `List-Unsubscribe-Post: List-Unsubscribe=One-Click`) so mail clients offer one click.
pub struct Letter<'a> {
    pub to: &'a Email,
    pub to_name: Option<String>,
    pub email_hash: &'a str,
    pub subject: String,
    pub template: &'a str,
    pub context: Value,
    /// The campaign a nurture email belongs to, so an unsubscribe is traced to it.
    pub campaign: Option<&'a str>,
}

impl Letter<'_> {
    pub fn compose(self, st: &crate::api::AppState) -> Result<Outgoing, minijinja::Error> {
        let token = crate::prospect::unsubscribe_token_for(&st.signer, self.email_hash, self.campaign);
        let unsubscribe_url = format!("{}/careers/unsubscribe?token={token}", st.config.public_api_url);
        let mut ctx = self.context;
        if let Value::Object(map) = &mut ctx {
            map.insert("unsubscribe_url".into(), Value::String(unsubscribe_url.clone()));
            map.insert("postal_address".into(), Value::String(st.config.postal_address.clone()));
            map.entry("company").or_insert_with(|| Value::String(st.config.company_name.clone()));
        }
        let (text, html) = render(self.template, &ctx)?;
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

/// Why an opt-in email goes out, which decides what may stop it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptinFor {
    /// The person filled in the talent-pool form this moment: an earlier unsubscribe (or erasure) does
    /// not stop it, since confirming lifts it; a bounce or complaint does.
    SignUp,
    /// A form's tick that the person left behind: every suppression holds.
    DropOff,
}

/// The double opt-in email: a link (naming the pending request's nonce) to the page whose button
/// confirms. `Ok(true)`: sent.
pub async fn send_optin(
    st: &crate::api::AppState,
    email_hash: &str,
    to: &Email,
    first_name: Option<String>,
    nonce: &str,
    why: OptinFor,
) -> Result<bool, crate::ApiError> {
    let now = st.clock.now();
    let url = format!(
        "{}/careers/talent-pool/confirm?token={}",
        st.config.public_api_url,
        crate::prospect::confirm_token(&st.signer, email_hash, Some(nonce), now)
    );
    let ctx = serde_json::json!({"first_name": first_name, "company": st.config.company_name, "confirm_url": url});
    let msg = Letter {
        to,
        to_name: first_name,
        email_hash,
        subject: format!("Confirm your subscription to {}", st.config.company_name),
        template: "optin",
        context: ctx,
        campaign: None,
    }
    .compose(st)
    .map_err(|e| crate::ApiError::Unavailable(format!("template: {e}")))?;
    let suppressed = st.store.suppression(email_hash).await?;
    let suppressed = match why {
        OptinFor::SignUp => suppressed.filter(|r| r != "unsubscribed" && r != "erased"),
        OptinFor::DropOff => suppressed,
    };
    let needs = Needs { purpose: None, known: Some((suppressed, true)) };
    let Some(id) = st.mailer.deliver(&st.store, email_hash, needs, &msg).await? else {
        return Ok(false);
    };
    st.store.record_send(format!("EMAIL#{email_hash}"), "optin", &id, now).await?;
    Ok(true)
}

/// What an email needs before it may go.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// The purpose the email serves, checked against the person's latest consent record; `None` for
    /// an email that only asks for consent or that the person requested this moment.
    pub purpose: Option<crate::consent::Purpose>,
    /// (suppression reason, consent given) when the caller read them in its own batch; else read here.
    pub known: Option<(Option<String>, bool)>,
}

/// Why SES did not take an email.
#[derive(Debug)]
pub enum SendFailure {
    /// Over the account's rate or quota: back off and try later.
    Throttled(String),
    /// SES refused this message (`MessageRejected`): trying again will not help.
    Rejected(String),
    /// No answer, or a server error: SES may have taken the email, so it must never be sent again
    /// automatically.
    Unknown(String),
    /// Refused before SES could take it (a bad request, a missing configuration set): not sent.
    Other(StoreError),
}

/// The port to SES.
#[derive(Clone)]
pub struct Mailer {
    ses: aws_sdk_sesv2::Client,
    sender: String,
    configuration_set: Option<String>,
}

impl Mailer {
    pub fn new(ses: aws_sdk_sesv2::Client, sender: String, configuration_set: Option<String>) -> Self {
        Self { ses, sender, configuration_set }
    }

    /// Sends one message unless the address is suppressed (an unsubscribe, bounce, complaint or
    /// erasure) or the person's latest consent for the purpose the email serves says no: every email
    /// Rapport sends goes through here. `Ok(None)`: not sent.
    pub async fn deliver(
        &self,
        store: &crate::store::Store,
        email_hash: &str,
        needs: Needs,
        msg: &Outgoing,
    ) -> Result<Option<String>, StoreError> {
        let (suppressed, consented) = match needs.known {
            Some(known) => known,
            None => {
                let suppressed = store.suppression(email_hash).await?;
                let consented = match needs.purpose {
                    None => true,
                    Some(p) => store.consent(email_hash, p).await?.is_some_and(|c| c.given),
                };
                (suppressed, consented)
            }
        };
        if let Some(reason) = suppressed {
            tracing::info!(reason, "suppressed address: not sent");
            return Ok(None);
        }
        if !consented {
            tracing::info!(purpose = ?needs.purpose.map(|p| p.as_str()), "no consent for the purpose: not sent");
            return Ok(None);
        }
        self.send(msg).await.map(Some)
    }

    /// Sends one message as Raw content; returns SES's message id.
    pub async fn send(&self, msg: &Outgoing) -> Result<String, StoreError> {
        self.send_tagged(msg, &[]).await.map_err(|e| match e {
            SendFailure::Throttled(m) | SendFailure::Rejected(m) | SendFailure::Unknown(m) => {
                StoreError::Unavailable(m)
            }
            SendFailure::Other(e) => e,
        })
    }

    /// Sends with SES message tags (they come back on bounce and complaint events), telling apart
    /// what the nurture task treats differently.
    pub async fn send_tagged(&self, msg: &Outgoing, tags: &[(&str, &str)]) -> Result<String, SendFailure> {
        let raw = to_mime(&self.sender, msg).map_err(|e| SendFailure::Other(StoreError::Corrupt(e.to_string())))?;
        let raw = RawMessage::builder()
            .data(Blob::new(raw))
            .build()
            .map_err(|e| SendFailure::Other(StoreError::Corrupt(e.to_string())))?;
        let mut req = self
            .ses
            .send_email()
            .from_email_address(split_sender(&self.sender).1)
            .destination(Destination::builder().to_addresses(&msg.to.0).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone());
        for (name, value) in tags {
            if let Ok(tag) = aws_sdk_sesv2::types::MessageTag::builder().name(*name).value(*value).build() {
                req = req.email_tags(tag);
            }
        }
        // One attempt: the SDK's retry after a timeout or a 5xx could send the same email twice.
        let once = aws_sdk_sesv2::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1));
        match req.customize().config_override(once).send().await {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => Err(classify(e)),
        }
    }

    /// The account's send rate (emails a second), when SES will say.
    pub async fn max_send_rate(&self) -> Option<f64> {
        let out = self.ses.get_account().send().await.ok()?;
        out.send_quota().map(|q| q.max_send_rate()).filter(|r| *r > 0.0)
    }
}

/// Tells apart what SES surely did not take from what it may have taken. SES's messages can name the
/// recipient: only an error's code travels on (to logs and the send ledger).
fn classify(e: aws_sdk_sesv2::error::SdkError<aws_sdk_sesv2::operation::send_email::SendEmailError>) -> SendFailure {
    use aws_sdk_sesv2::error::SdkError;
    use aws_sdk_sesv2::operation::send_email::SendEmailError as E;
    match &e {
        SdkError::ServiceError(se) => {
            let code = aws_sdk_sesv2::error::ProvideErrorMetadata::code(se.err()).unwrap_or("Unknown").to_string();
            match se.err() {
                E::TooManyRequestsException(_) | E::LimitExceededException(_) => SendFailure::Throttled(code),
                E::MessageRejected(_) => SendFailure::Rejected(code),
                _ if se.raw().status().is_server_error() => SendFailure::Unknown(code),
                _ => SendFailure::Other(StoreError::Unavailable(format!("ses: {code}"))),
            }
        }
        // Never left the process.
        SdkError::ConstructionFailure(_) => {
            SendFailure::Other(StoreError::Unavailable("ses: request not built".into()))
        }
        // Sent, or perhaps sent, with no answer read.
        SdkError::TimeoutError(_) => SendFailure::Unknown("timeout".into()),
        SdkError::DispatchFailure(_) => SendFailure::Unknown("dispatch failure".into()),
        _ => SendFailure::Unknown("no readable answer".into()),
    }
}
