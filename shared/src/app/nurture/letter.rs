//! The email a nurture step sends a person: its content as a letter, its links crediting the campaign.
use crate::api::AppState;
use crate::app::notify::Letter;
use crate::attribution::{Channel, TokenClaims};
use crate::campaign::{Campaign, Send};
use crate::prospect::Prospect;
use crate::token::Signer;
use chrono::{DateTime, Utc};
use serde_json::json;

/// How long a link in a nurture email credits the campaign.
const LINK_DAYS: i64 = 90;

/// The email a step's content makes for the person, with the story it sends; `Err`: nothing suits
/// them, and why.
pub(super) fn letter_for<'a>(
    st: &AppState,
    signer: &Signer,
    c: &'a Campaign,
    p: &'a Prospect,
    send: Send<'a>,
    now: DateTime<Utc>,
) -> Result<(Letter<'a>, Option<&'a str>), &'static str> {
    let (subject, template, context, story_id) = match send {
        Send::Nothing(why) => return Err(why),
        Send::Story(s) => (
            s.title.clone(),
            "nurture_story",
            json!({"first_name": p.first_name, "title": s.title, "summary": s.summary, "body_html": s.body_html,
                   "read_url": tracked(signer, &format!("{}/", st.config.careers_url), c, now)}),
            Some(s.id.as_str()),
        ),
        Send::Jobs(list) => (
            format!("Jobs at {} for you", st.config.company_name),
            "nurture_jobs",
            json!({"first_name": p.first_name, "jobs": list.iter().map(|j| json!({
                "title": j.spec.title,
                "location": format!("{}, {}", j.spec.location.city, j.spec.location.country.0),
                "url": tracked(signer, &j.url(&st.config.careers_url), c, now),
            })).collect::<Vec<_>>()}),
            None,
        ),
    };
    let letter = Letter {
        to: &p.email,
        to_name: p.first_name.clone(),
        email_hash: &p.id,
        subject,
        template,
        context,
        campaign: Some(c.id),
    };
    Ok((letter, story_id))
}

/// A link that credits the campaign when the person applies through it.
fn tracked(signer: &Signer, url: &str, c: &Campaign, now: DateTime<Utc>) -> String {
    let id = c.id.to_string();
    let claims = TokenClaims { channel: Channel::CrmCampaign, source: id.to_lowercase(), campaign: Some(id) };
    let token = signer.sign("attribution", &claims, Some(now + chrono::Duration::days(LINK_DAYS)));
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}rt={token}")
}
