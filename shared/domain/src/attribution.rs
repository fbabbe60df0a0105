//! Where an applicant came from. A pure rules table turns what the career site saw (a signed token,
//! `utm_*` parameters, the referrer, the landing URL) into `{channel, source, campaign}`.
//!
//! The rules, first match wins:
//!
//! | # | when | channel | source |
//! |---|------|---------|--------|
//! | 1 | a valid signed token (Rapport's own links: nurture emails) | the token's channel | the token's source |
//! | 2 | `utm_medium` is `job_board`, or `utm_source` is a known job board | `job_board` | `utm_source` |
//! | 3 | `utm_medium` is `referral` / `employee_referral` | `referral` | `utm_source` or `referral` |
//! | 4 | `utm_medium` is `agency` / `recruiter` | `agency` | `utm_source` or `agency` |
//! | 5 | `utm_medium` is `sourcing` / `sourced` / `outreach` | `sourced` | `utm_source` or `sourced` |
//! | 6 | `utm_medium` is `event` / `career_fair` | `event` | `utm_source` or `event` |
//! | 7 | `utm_medium` is `social` / `paid_social` / `social_media`, or `utm_source` is a social network | `social` | `utm_source` |
//! | 8 | any other `utm_source` | `other` | `utm_source` |
//! | 9 | the referrer is a job board's site | `job_board` | the board |
//! | 10 | the referrer is a social network | `social` | the network |
//! | 11 | the referrer is a search engine | `career_site` | `organic_search` |
//! | 12 | another site referred | `other` | the referrer's host |
//! | 13 | a landing URL and no outside referrer (came straight to the career site) | `career_site` | `career_site` |
//! | 14 | nothing at all | `unattributed` | `unattributed` |
//!
//! `utm_*` parameters missing from the request are read from the landing URL's query. Sources are
//! lower-cased and limited to `a-z 0-9 . _ -` (64 characters), so a report never splits `Indeed` and
//! `indeed`, and nobody can inject markup into a report through a parameter.
use serde::{Deserialize, Serialize};
use url::Url;

crate::choice!(Channel {
    CareerSite = "career_site", JobBoard = "job_board", Referral = "referral", Agency = "agency",
    Sourced = "sourced", CrmCampaign = "crm_campaign", Social = "social", Event = "event",
    Import = "import", Other = "other", Unattributed = "unattributed",
});

/// Job boards Rapport publishes to or knows; the first three have feeds.
pub const BOARDS: &[&str] =
    &["indeed", "linkedin", "google", "glassdoor", "ziprecruiter", "monster", "stepstone", "seek"];
const SOCIAL: &[&str] =
    &["facebook", "instagram", "twitter", "x", "tiktok", "youtube", "reddit", "threads", "mastodon"];
const SEARCH: &[&str] = &["bing", "duckduckgo", "yahoo", "ecosia", "baidu", "yandex"];

/// What the career site reports about a visit; every field untrusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touchpoint {
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub referrer: Option<String>,
    pub landing_url: Option<String>,
    pub token: Option<String>,
}

/// A link Rapport itself wrote, verified: its claims win over everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub channel: Channel,
    pub source: String,
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub channel: Channel,
    pub source: String,
    pub campaign: Option<String>,
}

/// Lower-case, `a-z0-9._-` only, at most 64 characters; `None` if nothing is left.
pub fn normalise(raw: &str) -> Option<String> {
    let s: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    (!s.is_empty()).then_some(s)
}

fn host_of(url: &str) -> Option<String> {
    let host = Url::parse(url.trim()).ok()?.host_str()?.to_ascii_lowercase();
    Some(host.trim_start_matches("www.").to_string())
}

/// `uk.indeed.com` → `indeed` when `indeed` is in `names`.
fn site_name(host: &str, names: &[&str]) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    names
        .iter()
        .find(|n| {
            labels.iter().rev().skip(1).any(|l| l == *n)
                || (**n == "x" && host == "x.com")
                || (**n == "twitter" && host == "t.co")
        })
        .map(|n| n.to_string())
}

/// Applies the rules table. `own_hosts` are the career site's and the API's hosts (not outside
/// referrers); `verify` checks a token and returns its claims.
pub fn attribute(t: &Touchpoint, own_hosts: &[String], verify: impl Fn(&str) -> Option<TokenClaims>) -> Attribution {
    if let Some(claims) = t.token.as_deref().and_then(&verify) {
        return Attribution { channel: claims.channel, source: claims.source, campaign: claims.campaign };
    }
    let landing = t.landing_url.as_deref().and_then(|u| Url::parse(u.trim()).ok());
    let from_landing = |name: &str| {
        landing.as_ref().and_then(|u| u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()))
    };
    let pick = |given: &Option<String>, name: &str| {
        given.clone().or_else(|| from_landing(name)).as_deref().and_then(normalise)
    };
    let source = pick(&t.utm_source, "utm_source");
    let medium = pick(&t.utm_medium, "utm_medium");
    let campaign = t.utm_campaign.clone().or_else(|| from_landing("utm_campaign")).as_deref().and_then(normalise);
    let with = |channel: Channel, source: String| Attribution { channel, source, campaign: campaign.clone() };
    let or = |default: &str| source.clone().unwrap_or_else(|| default.to_string());

    let is_board = source.as_deref().is_some_and(|s| BOARDS.contains(&s));
    let is_social = source.as_deref().is_some_and(|s| SOCIAL.contains(&s));
    match medium.as_deref() {
        Some("job_board") | Some("jobboard") => return with(Channel::JobBoard, or("job_board")),
        _ if is_board => return with(Channel::JobBoard, or("job_board")),
        Some("referral") | Some("employee_referral") => return with(Channel::Referral, or("referral")),
        Some("agency") | Some("recruiter") => return with(Channel::Agency, or("agency")),
        Some("sourcing") | Some("sourced") | Some("outreach") => return with(Channel::Sourced, or("sourced")),
        Some("event") | Some("career_fair") => return with(Channel::Event, or("event")),
        Some("social") | Some("paid_social") | Some("social_media") => return with(Channel::Social, or("social")),
        _ if is_social => return with(Channel::Social, or("social")),
        _ => {}
    }
    if let Some(source) = source {
        return with(Channel::Other, source);
    }
    let referrer = t.referrer.as_deref().and_then(host_of).filter(|h| !own_hosts.iter().any(|o| o == h));
    if let Some(host) = referrer {
        if let Some(board) = site_name(&host, BOARDS) {
            return with(Channel::JobBoard, board);
        }
        if let Some(net) = site_name(&host, SOCIAL).or_else(|| (host == "lnkd.in").then(|| "linkedin".to_string())) {
            return with(Channel::Social, net);
        }
        if site_name(&host, SEARCH).is_some() {
            return with(Channel::CareerSite, "organic_search".into());
        }
        return with(Channel::Other, normalise(&host).unwrap_or_else(|| "other".into()));
    }
    if landing.is_some() {
        return with(Channel::CareerSite, "career_site".into());
    }
    with(Channel::Unattributed, "unattributed".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn own() -> Vec<String> {
        vec!["careers.acme.example".to_string()]
    }

    fn no_token(_: &str) -> Option<TokenClaims> {
        None
    }

    fn tp(f: impl FnOnce(&mut Touchpoint)) -> Touchpoint {
        let mut t = Touchpoint::default();
        f(&mut t);
        t
    }

    #[test]
    fn the_rules_table() {
        let cases: Vec<(Touchpoint, Channel, &str)> = vec![
            (
                tp(|t| {
                    t.landing_url =
                        Some("https://careers.acme.example/jobs/1?utm_source=indeed&utm_medium=job_board".into())
                }),
                Channel::JobBoard,
                "indeed",
            ),
            (tp(|t| t.utm_source = Some("LinkedIn".into())), Channel::JobBoard, "linkedin"),
            (
                tp(|t| {
                    t.utm_source = Some("anna".into());
                    t.utm_medium = Some("employee_referral".into())
                }),
                Channel::Referral,
                "anna",
            ),
            (tp(|t| t.utm_medium = Some("agency".into())), Channel::Agency, "agency"),
            (tp(|t| t.utm_medium = Some("outreach".into())), Channel::Sourced, "sourced"),
            (
                tp(|t| {
                    t.utm_source = Some("univ fair".into());
                    t.utm_medium = Some("career_fair".into())
                }),
                Channel::Event,
                "univ_fair",
            ),
            (tp(|t| t.utm_source = Some("facebook".into())), Channel::Social, "facebook"),
            (tp(|t| t.utm_source = Some("newsletter".into())), Channel::Other, "newsletter"),
            (tp(|t| t.referrer = Some("https://uk.indeed.com/viewjob?jk=1".into())), Channel::JobBoard, "indeed"),
            (tp(|t| t.referrer = Some("https://www.linkedin.com/jobs".into())), Channel::JobBoard, "linkedin"),
            (tp(|t| t.referrer = Some("https://t.co/abc".into())), Channel::Social, "twitter"),
            (
                tp(|t| t.referrer = Some("https://www.bing.com/search?q=nurse".into())),
                Channel::CareerSite,
                "organic_search",
            ),
            (tp(|t| t.referrer = Some("https://blog.example.org/post".into())), Channel::Other, "blog.example.org"),
            (
                tp(|t| {
                    t.referrer = Some("https://careers.acme.example/".into());
                    t.landing_url = Some("https://careers.acme.example/jobs/1".into())
                }),
                Channel::CareerSite,
                "career_site",
            ),
            (tp(|t| t.landing_url = Some("https://careers.acme.example/".into())), Channel::CareerSite, "career_site"),
            (Touchpoint::default(), Channel::Unattributed, "unattributed"),
        ];
        for (t, channel, source) in cases {
            let a = attribute(&t, &own(), no_token);
            assert_eq!((a.channel, a.source.as_str()), (channel, source), "{t:?}");
        }
    }

    #[test]
    fn explicit_parameters_win_over_the_landing_url_and_campaign_is_kept() {
        let t = tp(|t| {
            t.utm_source = Some("linkedin".into());
            t.utm_campaign = Some("Spring Nurses 2026".into());
            t.landing_url = Some("https://careers.acme.example/?utm_source=indeed".into());
        });
        let a = attribute(&t, &own(), no_token);
        assert_eq!((a.source.as_str(), a.campaign.as_deref()), ("linkedin", Some("spring_nurses_2026")));
    }

    fn strategy() -> impl Strategy<Value = Touchpoint> {
        let opt = || proptest::option::of(".{0,80}");
        (opt(), opt(), opt(), opt(), opt(), opt(), opt()).prop_map(|(a, b, c, d, e, f, g)| Touchpoint {
            utm_source: a,
            utm_medium: b,
            utm_campaign: c,
            utm_content: d,
            referrer: e,
            landing_url: f,
            token: g,
        })
    }

    proptest! {
        #[test]
        fn sources_are_always_clean(t in strategy()) {
            let a = attribute(&t, &own(), no_token);
            prop_assert!(!a.source.is_empty() && a.source.len() <= 64);
            prop_assert!(a.source.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')));
            if let Some(c) = &a.campaign {
                prop_assert!(c.len() <= 64);
            }
        }

        #[test]
        fn a_valid_token_always_wins(t in strategy()) {
            let claims = TokenClaims { channel: Channel::CrmCampaign, source: "nurture".into(), campaign: Some("c1".into()) };
            let mut t = t;
            t.token = Some("signed".into());
            let a = attribute(&t, &own(), |tok| (tok == "signed").then(|| claims.clone()));
            prop_assert_eq!(a, Attribution { channel: Channel::CrmCampaign, source: "nurture".into(), campaign: Some("c1".into()) });
        }

        #[test]
        fn board_tracking_links_always_resolve_to_their_board(board in proptest::sample::select(BOARDS), path in "[a-z0-9/]{0,20}", referrer in proptest::option::of(".{0,40}")) {
            let t = Touchpoint {
                landing_url: Some(format!("https://careers.acme.example/{path}?utm_source={board}&utm_medium=job_board")),
                referrer,
                ..Default::default()
            };
            let a = attribute(&t, &own(), no_token);
            prop_assert_eq!((a.channel, a.source), (Channel::JobBoard, board.to_string()));
        }
    }
}
