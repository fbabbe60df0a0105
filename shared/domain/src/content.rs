//! The content library: stories to share with prospects (team stories, day-in-the-life pieces).
//! Their HTML is written by recruiters and mailed to candidates, so it is sanitised on the way in.
use crate::error::Invalid;
use crate::parse::{Fields, Line, Text};
use crate::prospect::normalise_tags;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::choice!(ContentKind { Story = "story" });

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub id: String,
    pub kind: ContentKind,
    pub title: String,
    pub summary: String,
    pub body_html: String,
    pub tags: Vec<String>,
    pub departments: Vec<String>,
    pub locations: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/content`.
#[derive(Debug, Clone)]
pub struct StoryInput {
    pub title: String,
    pub summary: String,
    pub body_html: String,
    pub tags: Vec<String>,
    pub departments: Vec<String>,
    pub locations: Vec<String>,
}

impl StoryInput {
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let _kind: Option<ContentKind> = f.req("kind");
            let title: Option<Line<1, 200>> = f.req("title");
            let summary: Option<Text<1, 1000>> = f.req("summary");
            let body: Option<Text<1, 100_000>> = f.req("body_html");
            let body_html = body.and_then(|b| {
                let clean = ammonia::clean(&b.0);
                if clean.trim().is_empty() {
                    f.error("body_html", "has no content once unsafe HTML is removed");
                    None
                } else {
                    Some(clean)
                }
            });
            let tags: Option<Option<Vec<Line<1, 50>>>> = f.opt("tags");
            let departments: Option<Option<Vec<Line<1, 100>>>> = f.opt("departments");
            let locations: Option<Option<Vec<Line<1, 100>>>> = f.opt("locations");
            let lines = |v: Option<Vec<Line<1, 100>>>| v.unwrap_or_default().into_iter().map(|l| l.0).collect();
            Some(StoryInput {
                title: title?.0,
                summary: summary?.0,
                body_html: body_html?,
                tags: normalise_tags(tags?.unwrap_or_default().into_iter().map(|l| l.0)),
                departments: lines(departments?),
                locations: lines(locations?),
            })
        })
    }

    pub fn into_story(self, id: String, now: DateTime<Utc>) -> Story {
        Story {
            id,
            kind: ContentKind::Story,
            title: self.title,
            summary: self.summary,
            body_html: self.body_html,
            tags: self.tags,
            departments: self.departments,
            locations: self.locations,
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn story_html_is_sanitised() {
        let s = StoryInput::parse(json!({"kind": "story", "title": "A day on ward 4", "summary": "Night shift",
            "body_html": "<p onclick=\"x()\">Hello<script>alert(1)</script></p>", "tags": ["Nursing", "nursing"]}))
        .unwrap();
        assert_eq!(s.body_html, "<p>Hello</p>");
        assert_eq!(s.tags, vec!["nursing"]);
        assert!(StoryInput::parse(
            json!({"kind": "story", "title": "x", "summary": "y", "body_html": "<script>1</script>"})
        )
        .is_err());
        assert!(
            StoryInput::parse(json!({"kind": "video", "title": "x", "summary": "y", "body_html": "<p>z</p>"})).is_err()
        );
    }
}
