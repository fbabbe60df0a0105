//! The matrix's rows: one request to each route and the status each caller gets.
use super::{Body, Ids, Row};
use crate::helpers::*;
use serde_json::json;

/// The same answer for everyone: a public route ignores any token.
const fn public(status: u16) -> [u16; 5] {
    [status; 5]
}

/// The rows, in the order they run (they change the data they share: the job is closed last).
pub(super) fn rows(ids: &Ids) -> Vec<Row> {
    let Ids { job, open_job, application, interview, candidate, erasable, prospect, campaign, webhook, .. } = ids;
    let row = |method, route, path: String, body, want| Row { method, route, path, body, want };
    let none = || Body::None;
    let csv = "email,first_name,consent\nmatrix.import@example.com,Imp,yes\n";
    vec![
        // Jobs: staff manage them; a hiring manager reads the jobs of their team and learns of no other.
        row("POST", "/api/jobs", "/api/jobs".into(), Body::Json(job_body()), [201, 201, 403, 403, 401]),
        row("GET", "/api/jobs", "/api/jobs".into(), none(), [200, 200, 200, 200, 401]),
        row("GET", "/api/jobs/{id}", format!("/api/jobs/{job}"), none(), [200, 200, 200, 404, 401]),
        row("PATCH", "/api/jobs/{id}", format!("/api/jobs/{job}"), none(), [200, 200, 403, 404, 401]),
        row(
            "PUT",
            "/api/jobs/{id}/description",
            format!("/api/jobs/{job}/description"),
            Body::Raw("text/markdown", "Care for *patients* on a busy ward."),
            [200, 200, 403, 404, 401],
        ),
        row(
            "GET",
            "/api/jobs/{id}/description",
            format!("/api/jobs/{job}/description"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row("POST", "/api/jobs/{id}/publish", format!("/api/jobs/{job}/publish"), none(), [200, 200, 403, 404, 401]),
        // Applicant tracking: a hiring manager on the team reads and gives feedback, never moves.
        row(
            "GET",
            "/api/jobs/{id}/applications",
            format!("/api/jobs/{job}/applications"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/applications/{id}",
            format!("/api/applications/{application}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "POST",
            "/api/applications/{id}/transitions",
            format!("/api/applications/{application}/transitions"),
            none(),
            [200, 200, 403, 404, 401],
        ),
        row(
            "POST",
            "/api/applications/{id}/interviews",
            format!("/api/applications/{application}/interviews"),
            Body::Json(json!({"scheduled_at": "2026-12-02T10:00:00Z", "kind": "video", "interviewers": ["x"]})),
            [201, 201, 403, 404, 401],
        ),
        row(
            "POST",
            "/api/interviews/{id}/feedback",
            format!("/api/interviews/{interview}/feedback"),
            Body::Json(json!({"rating": 3, "recommendation": "yes"})),
            [201, 201, 201, 404, 401],
        ),
        // Privacy requests act on a person as a whole: admins only. Everyone else is refused before
        // anything is read, so the answer says nothing about whether the person exists.
        row(
            "GET",
            "/api/candidates/{id}/export",
            format!("/api/candidates/{candidate}/export"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "PUT",
            "/api/candidates/{id}/consents/{purpose}",
            format!("/api/candidates/{candidate}/consents/marketing_email"),
            Body::Json(json!({"given": true, "note": "on the phone"})),
            [200, 403, 403, 403, 401],
        ),
        row("DELETE", "/api/candidates/{id}", format!("/api/candidates/{erasable}"), none(), [204, 403, 403, 403, 401]),
        // Reports: a hiring manager sees those of their own jobs; demographics are admins' only.
        row(
            "GET",
            "/api/reports/sources",
            format!("/api/reports/sources?job_id={job}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/reports/funnel",
            format!("/api/reports/funnel?job_id={job}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/reports/time-in-stage",
            format!("/api/reports/time-in-stage?job_id={job}"),
            none(),
            [200, 200, 200, 404, 401],
        ),
        row(
            "GET",
            "/api/reports/demographics",
            format!("/api/reports/demographics?job_id={job}"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "PUT",
            "/api/reports/spend",
            "/api/reports/spend".into(),
            Body::Json(json!({"month": "2026-11", "channel": "job_board", "source": "indeed", "amount": 10,
                              "currency": "USD"})),
            [200, 200, 403, 403, 401],
        ),
        row(
            "GET",
            "/api/reports/nurture",
            format!("/api/reports/nurture?campaign_id={campaign}"),
            none(),
            [200, 200, 403, 403, 401],
        ),
        row("GET", "/dashboard", "/dashboard".into(), none(), public(200)),
        // The CRM: recruiters and admins only; hiring managers work on their jobs' applicants.
        row("GET", "/api/prospects", "/api/prospects".into(), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/prospects",
            "/api/prospects".into(),
            Body::Json(json!({"email": "matrix.{n}@example.com", "consent": true})),
            [201, 201, 403, 403, 401],
        ),
        row(
            "PATCH",
            "/api/prospects/{id}",
            format!("/api/prospects/{prospect}"),
            Body::Json(json!({"tags": ["a"]})),
            [200, 200, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/prospects/import",
            "/api/prospects/import".into(),
            Body::Raw("text/csv", csv),
            [200, 200, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/prospects/import/uploads",
            "/api/prospects/import/uploads".into(),
            Body::Json(json!({"size": 100})),
            [201, 201, 403, 403, 401],
        ),
        // No such import: staff learn so, no one else learns anything.
        row(
            "GET",
            "/api/prospects/imports/{id}",
            format!("/api/prospects/imports/{}", rapport::ids::ImportId::new(&rapport::clock::SystemClock)),
            none(),
            [404, 404, 403, 403, 401],
        ),
        row("GET", "/api/content", "/api/content".into(), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/content",
            "/api/content".into(),
            Body::Json(json!({"kind": "story", "title": "t", "summary": "s", "body_html": "<p>b</p>"})),
            [201, 201, 403, 403, 401],
        ),
        row("GET", "/api/campaigns", "/api/campaigns".into(), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/campaigns",
            "/api/campaigns".into(),
            Body::Json(json!({"name": "c", "segment": {}, "steps": [{"after_days": 1, "content": {"kind": "jobs"}}]})),
            [201, 201, 403, 403, 401],
        ),
        row("GET", "/api/campaigns/{id}", format!("/api/campaigns/{campaign}"), none(), [200, 200, 403, 403, 401]),
        row(
            "POST",
            "/api/campaigns/{id}/activate",
            format!("/api/campaigns/{campaign}/activate"),
            none(),
            [200, 200, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/campaigns/{id}/preview",
            format!("/api/campaigns/{campaign}/preview"),
            none(),
            [200, 200, 403, 403, 401],
        ),
        // The career site and the job boards: public, whoever calls and whatever token they send.
        row("GET", "/careers/jobs", "/careers/jobs".into(), none(), public(200)),
        row("GET", "/careers/jobs/{id}", format!("/careers/jobs/{open_job}"), none(), public(200)),
        row("GET", "/feeds/indeed.xml", "/feeds/indeed.xml".into(), none(), public(200)),
        row("GET", "/feeds/linkedin.xml", "/feeds/linkedin.xml".into(), none(), public(200)),
        row("GET", "/feeds/jobs.json", "/feeds/jobs.json".into(), none(), public(200)),
        row(
            "POST",
            "/careers/uploads",
            "/careers/uploads".into(),
            Body::Json(json!({"content_type": "application/pdf", "size": 100, "purpose": "resume"})),
            public(201),
        ),
        row(
            "POST",
            "/careers/jobs/{id}/applications",
            format!("/careers/jobs/{open_job}/applications"),
            Body::Json(json!({"first_name": "A", "last_name": "B", "email": "matrix.{n}@example.com",
                              "consent": {"processing": true}})),
            public(201),
        ),
        row(
            "POST",
            "/careers/jobs/{id}/drafts",
            format!("/careers/jobs/{open_job}/drafts"),
            Body::Json(json!({"email": "matrix.{n}@example.com", "consent": {"talent_pool": false}})),
            public(201),
        ),
        row("GET", "/careers/thanks", "/careers/thanks".into(), none(), public(200)),
        row("GET", "/careers/widget.js", "/careers/widget.js".into(), none(), public(200)),
        row(
            "POST",
            "/careers/talent-pool",
            "/careers/talent-pool".into(),
            Body::Json(json!({"email": "matrix.{n}@example.com", "interests": {}, "consent": {"talent_pool": true}})),
            public(202),
        ),
        row(
            "GET",
            "/careers/talent-pool/confirm",
            format!("/careers/talent-pool/confirm?token={}", ids.confirm_token),
            none(),
            public(200),
        ),
        row(
            "POST",
            "/careers/talent-pool/confirm",
            format!("/careers/talent-pool/confirm?token={}", ids.confirm_token),
            none(),
            public(200),
        ),
        row(
            "GET",
            "/careers/unsubscribe",
            format!("/careers/unsubscribe?token={}", ids.unsubscribe_token),
            none(),
            public(200),
        ),
        row(
            "POST",
            "/careers/unsubscribe",
            format!("/careers/unsubscribe?token={}", ids.unsubscribe_token),
            Body::Raw("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"),
            public(200),
        ),
        // Webhooks: admins only (the endpoint refuses connections: a ping answers what it got).
        row(
            "POST",
            "/api/webhooks",
            "/api/webhooks".into(),
            Body::Json(json!({"url": "http://127.0.0.1:9/matrix", "events": ["*"]})),
            [201, 403, 403, 403, 401],
        ),
        row("GET", "/api/webhooks", "/api/webhooks".into(), none(), [200, 403, 403, 403, 401]),
        row("GET", "/api/webhooks/{id}", format!("/api/webhooks/{webhook}"), none(), [200, 403, 403, 403, 401]),
        row(
            "PATCH",
            "/api/webhooks/{id}",
            format!("/api/webhooks/{webhook}"),
            Body::Json(json!({"description": "matrix"})),
            [200, 403, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/webhooks/{id}/rotate",
            format!("/api/webhooks/{webhook}/rotate"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "POST",
            "/api/webhooks/{id}/test",
            format!("/api/webhooks/{webhook}/test"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        row(
            "GET",
            "/api/webhooks/{id}/deliveries",
            format!("/api/webhooks/{webhook}/deliveries"),
            none(),
            [200, 403, 403, 403, 401],
        ),
        // No such delivery: an admin learns that, others not even that.
        row(
            "POST",
            "/api/webhooks/{id}/deliveries/{event_id}/replay",
            format!("/api/webhooks/{webhook}/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay"),
            none(),
            [404, 403, 403, 403, 401],
        ),
        row("DELETE", "/api/webhooks/{id}", format!("/api/webhooks/{webhook}"), none(), [204, 403, 403, 403, 401]),
        row(
            "POST",
            "/api/jobs/{id}/close",
            format!("/api/jobs/{job}/close"),
            Body::Json(json!({"reason": "cancelled"})),
            [200, 200, 403, 404, 401],
        ),
    ]
}
