//! The port to SES: one message as Raw content, one attempt, and what SES answered. What may be sent
//! to whom is decided before, in `app::notify`.
use crate::aws::{Aws, Lazy};
use crate::email::{split_sender, to_mime, Outgoing};
use crate::error::StoreError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

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
    aws: Aws,
    client: Lazy<aws_sdk_sesv2::Client>,
    sender: String,
    configuration_set: Option<String>,
}

impl Mailer {
    pub fn new(aws: &Aws, sender: String, configuration_set: Option<String>) -> Self {
        Self { aws: aws.clone(), client: Lazy::new(), sender, configuration_set }
    }

    /// The SES client, built at the first send (see [`Lazy`]).
    fn ses(&self) -> &aws_sdk_sesv2::Client {
        self.client.get(|| self.aws.ses())
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
            .ses()
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
        let out = self.ses().get_account().send().await.ok()?;
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
