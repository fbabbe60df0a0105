//! Nurture campaigns run day by day: each step on its day to the right people until they leave, one
//! email a run and the cap, the run's time budget, and SES throttling, rejections and lost answers.
use super::{add_prospect, assert_compliant, header, unique};
use crate::helpers::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::clock::rfc3339;
use serde_json::{json, Value};

/// Runs the nurture task at `at`; returns its report and the AWS operations it made.
async fn nurture(app: &TestApp, at: DateTime<Utc>) -> (Value, Vec<String>) {
    let res = app.post("/_local/run/nurture").query(&[("now", rfc3339(at))]).send().await.unwrap();
    let (status, ops) = (res.status(), calls(&res));
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (body, ops)
}

async fn first_email(app: &TestApp, to: &str) -> Value {
    app.emails_to(to).await.first().cloned().unwrap_or_else(|| panic!("no email to {to}"))
}

#[tokio::test]
async fn an_always_on_campaign_sends_each_step_on_its_day_to_the_right_people_until_they_leave() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;

    // An RN-gated nursing job and one anyone may do.
    let rn = app.create_job(&token, job_body()).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &rn).await;
    let mut hca = job_body();
    hca["title"] = json!("Healthcare Assistant");
    hca["required_credentials"] = json!([]);
    let hca = app.create_job(&token, hca).await["id"].as_str().unwrap().to_string();
    app.publish(&token, &hca).await;

    let story = |title: &str| {
        json!({"kind": "story", "title": title, "summary": "Life on the ward",
        "body_html": "<p>Night shift<script>alert(1)</script></p>", "tags": ["nursing"]})
    };
    for t in ["A night on ward 4", "Why I became a nurse"] {
        let res = app.post("/api/content").bearer_auth(&token).json(&story(t)).send().await.unwrap();
        assert_eq!(res.status(), 201);
        assert!(!res.text().await.unwrap().contains("<script>"), "story HTML is sanitised");
    }

    let nurses = |email: &str, creds: Value| {
        json!({"email": email, "first_name": "Mary", "consent": true, "interests": {"departments": ["Nursing"]},
               "credentials": creds, "tags": ["Nursing"]})
    };
    let rn_holder = unique("rn");
    let expired = unique("expired");
    let none = unique("none");
    let leaver = unique("leaver");
    let bouncer = unique("bouncer");
    let no_consent = unique("noconsent");
    let holder =
        add_prospect(&app, &token, nurses(&rn_holder, json!([{"type": "RN", "expires_on": "2028-01-01"}]))).await;
    add_prospect(&app, &token, nurses(&expired, json!([{"type": "RN", "expires_on": "2026-06-30"}]))).await;
    add_prospect(&app, &token, nurses(&none, json!([]))).await;
    let leaver_p = add_prospect(&app, &token, nurses(&leaver, json!([]))).await;
    add_prospect(&app, &token, nurses(&bouncer, json!([]))).await;
    let mut pending = nurses(&no_consent, json!([]));
    pending["consent"] = json!(false);
    assert_eq!(add_prospect(&app, &token, pending).await["status"], "pending_consent");
    let dup = app.post("/api/prospects").bearer_auth(&token).json(&nurses(&rn_holder, json!([]))).send().await.unwrap();
    problem(dup, 409).await;

    let campaign = json!({"name": "Nurses", "segment": {"tags_any": ["nursing"]}, "steps": [
        {"after_days": 0, "content": {"kind": "jobs"}},
        {"after_days": 3, "content": {"kind": "story", "tags_any": ["nursing"]}},
        {"after_days": 4, "content": {"kind": "story", "tags_any": ["nursing"]}}]});
    let res = app.post("/api/campaigns").bearer_auth(&token).json(&campaign).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["status"], "draft");

    // The preview explains who is left out and why.
    let preview: Value = app
        .post(&format!("/api/campaigns/{id}/preview"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = |email: &str| preview["items"].as_array().unwrap().iter().find(|r| r["email"] == email).unwrap().clone();
    assert_eq!(row(&rn_holder)["included"], true);
    assert_eq!(row(&no_consent)["excluded_because"][0]["rule"], "status");

    // Nothing goes out before activation.
    assert_eq!(nurture(&app, start).await.0["sent"], 0);
    let res = app.post(&format!("/api/campaigns/{id}/activate")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // Day 0: the jobs step. Only the RN holder hears of the RN-gated job.
    let (report, _) = nurture(&app, start).await;
    assert_eq!((report["enrolled"].as_u64(), report["sent"].as_u64()), (Some(5), Some(5)), "{report}");
    let to_holder = first_email(&app, &rn_holder).await;
    assert!(to_holder["text"].as_str().unwrap().contains("Registered Nurse"));
    for other in [&expired, &none] {
        let text = first_email(&app, other).await["text"].as_str().unwrap().to_string();
        assert!(!text.contains("Registered Nurse") && text.contains("Healthcare Assistant"), "{text}");
    }
    assert!(app.emails_to(&no_consent).await.is_empty(), "no consent, no nurture");
    assert_eq!(nurture(&app, start + Duration::hours(1)).await.0["sent"], 0, "a repeated run sends nothing");

    // The leaver uses the one-click unsubscribe from the header; the bouncer's mailbox bounces.
    let link =
        header(&first_email(&app, &leaver).await, "List-Unsubscribe").unwrap().trim_matches(['<', '>']).to_string();
    let res = app
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bounce = json!({"source": "aws.ses", "detail-type": "Email Bounced", "detail": {"eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": bouncer.to_uppercase()}]},
        "mail": {"messageId": "m1", "destination": [bouncer], "tags": {"campaign": [id]}}}});
    let res: Value = app.post("/_local/ses-events").json(&bounce).send().await.unwrap().json().await.unwrap();
    assert_eq!(res["suppressed"], 1);

    // The RN holder applies through the link in their email: credited to the campaign, nurture ends.
    let url = to_holder["text"].as_str().unwrap().split_whitespace().find(|w| w.contains("rt=")).unwrap().to_string();
    let rt = url.split("rt=").nth(1).unwrap().to_string();
    clock.set(start + Duration::days(1));
    let body = json!({"first_name": "Mary", "last_name": "Q", "email": rn_holder, "consent": {"processing": true},
                      "source": {"landing_url": url, "token": rt}});
    let res = app.post(&format!("/careers/jobs/{rn}/applications")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let application: Value = res.json().await.unwrap();
    let stored = app
        .stack
        .state
        .store
        .get_application(&application["application_id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.attribution.channel.as_str(), "crm_campaign");
    assert_eq!(stored.attribution.campaign.as_deref(), Some(id.as_str()));
    let p = app.stack.state.store.prospect(&holder["id"].as_str().unwrap().parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(p.status.as_str(), "applied");
    assert_eq!(p.candidate_id.as_deref(), application["candidate_id"].as_str(), "linked to the candidate");

    // The unsubscribed leaver gets no confirmation when they apply either.
    let body = json!({"first_name": "L", "last_name": "Q", "email": leaver, "consent": {"processing": true}});
    assert_eq!(app.post(&format!("/careers/jobs/{hca}/applications")).json(&body).send().await.unwrap().status(), 201);
    let l = app.stack.state.store.prospect(&leaver_p["id"].as_str().unwrap().parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((l.status.as_str(), l.candidate_id.is_some()), ("unsubscribed", true), "linked, still unsubscribed");

    // Days 1 and 2: nothing is due. Day 3: the second step, for the two still in. Day 7: the third.
    for day in [1, 2] {
        assert_eq!(nurture(&app, start + Duration::days(day)).await.0["sent"], 0);
    }
    let (report, ops) = nurture(&app, start + Duration::days(3)).await;
    assert_eq!(report["sent"], 2, "{report}");
    let writes = ops
        .iter()
        .filter(|o| {
            ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"]
                .iter()
                .any(|w| o.ends_with(w))
        })
        .count();
    let ses = ops
        .iter()
        .filter(|o| o.starts_with("sesv2.SendEmail") || o.starts_with("ses"))
        .filter(|o| o.contains("SendEmail"))
        .count();
    // Two sends, and three enrolments ended (applied, unsubscribed, bounced): one write each.
    assert_eq!(ses, 2, "{ops:?}");
    assert!(writes <= 2 * 2 + 3, "at most 2 writes per email: {ops:?}");
    assert!(!ops.iter().any(|o| o.ends_with(".Scan")));
    // Reads go by the page (a query, a batch read per 25 people), none an email's own: see nurture.rs.
    assert!(!ops.iter().any(|o| o.ends_with(".GetItem")), "{ops:?}");
    assert_eq!(nurture(&app, start + Duration::days(3) + Duration::hours(2)).await.0["sent"], 0);
    assert_eq!(nurture(&app, start + Duration::days(6)).await.0["sent"], 0);
    assert_eq!(nurture(&app, start + Duration::days(7)).await.0["sent"], 2);
    assert_eq!(nurture(&app, start + Duration::days(30)).await.0["sent"], 0, "three steps, three emails");

    for (who, expected) in [(&rn_holder, 2), (&expired, 3), (&none, 3), (&leaver, 1), (&bouncer, 1), (&no_consent, 0)] {
        let got = app.emails_to(who).await;
        assert_eq!(got.len(), expected, "{who}: {:?}", got.iter().map(|e| e["subject"].clone()).collect::<Vec<_>>());
        got.iter().for_each(assert_compliant);
    }
    let stories: Vec<String> =
        app.emails_to(&none).await[1..].iter().map(|e| e["subject"].as_str().unwrap().to_string()).collect();
    assert_eq!(stories.len(), 2);
    assert_ne!(stories[0], stories[1], "a story is never sent twice");

    // The campaign's report.
    let r: Value = app.get_json(&format!("/api/reports/nurture?campaign_id={id}"), &token).await;
    assert_eq!(
        (
            r["enrolled"].as_u64(),
            r["sent"].as_u64(),
            r["unsubscribed"].as_u64(),
            r["bounced"].as_u64(),
            r["applied"].as_u64()
        ),
        (Some(5), Some(9), Some(1), Some(1), Some(1)),
        "{r}"
    );

    // A later joiner enrols by themselves on the next run.
    let late = unique("late");
    add_prospect(&app, &token, nurses(&late, json!([]))).await;
    let (report, _) = nurture(&app, start + Duration::days(31)).await;
    assert_eq!((report["enrolled"].as_u64(), report["sent"].as_u64()), (Some(1), Some(1)), "{report}");

    // Filters, and hiring managers are kept out of the pool.
    let page: Value = app.get_json("/api/prospects?status=unsubscribed", &token).await;
    let emails: Vec<&str> = page["items"].as_array().unwrap().iter().map(|p| p["email"].as_str().unwrap()).collect();
    assert_eq!(emails, vec![leaver.as_str()]);
    let page: Value = app.get_json("/api/prospects?credential=RN&origin=sourced", &token).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let hm = app.token_for(json!({"role": "hiring_manager", "sub": "hm-on-team"})).await;
    problem(app.get("/api/prospects").bearer_auth(&hm).send().await.unwrap(), 403).await;
    let res = app
        .patch(&format!("/api/prospects/{}", leaver_p["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    problem(res, 409).await;
    let res = app
        .post("/api/campaigns")
        .bearer_auth(&token)
        .json(&json!({"name": "", "segment": {}, "steps": []}))
        .send()
        .await
        .unwrap();
    let mut fields = error_fields(&problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["name", "steps"]);
}

#[tokio::test]
async fn nurture_keeps_to_its_budget_backs_off_when_throttled_and_records_rejections() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let people: Vec<String> = ["rejected", "throttled", "fine"].iter().map(|n| unique(n)).collect();
    for p in &people {
        add_prospect(&app, &token, json!({"email": p, "consent": true})).await;
    }
    let id = app
        .active_campaign(
            &token,
            json!({"name": "All", "segment": {}, "steps": [{"after_days": 0, "content": {"kind": "jobs"}}]}),
        )
        .await;
    let id = id.as_str();

    // No time left: nothing is done, and the run says it is incomplete.
    let res = app
        .post("/_local/run/nurture")
        .query(&[("now", rfc3339(start)), ("budget_ms", "0".into())])
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert_eq!((r["complete"].as_bool(), r["enrolled"].as_u64(), r["sent"].as_u64()), (Some(false), Some(0), Some(0)));

    // SES refuses one message for good, and throttles another (each email is one attempt).
    let faults = json!({"ses_send": [{"to": people[0], "fault": "reject"}, {"to": people[1], "fault": "throttle"}]});
    let res = app.http.post(format!("{}/_rapport/faults", app.stack.moto_url)).json(&faults).send().await.unwrap();
    assert!(res.status().is_success());
    let (first, _) = nurture(&app, start).await;
    assert_eq!(first["complete"], false, "throttling ends the run: {first}");
    assert!(app.emails_to(&people[1]).await.is_empty());
    // The next run sends what was left, and the rejection is recorded once, never retried.
    let (second, _) = nurture(&app, start + Duration::minutes(15)).await;
    assert_eq!(second["complete"], true, "{second}");
    assert_eq!(first["sent"].as_u64().unwrap() + second["sent"].as_u64().unwrap(), 2, "{first} {second}");
    assert_eq!(first["rejected"].as_u64().unwrap() + second["rejected"].as_u64().unwrap(), 1);
    assert!(app.emails_to(&people[0]).await.is_empty());
    assert_eq!(app.emails_to(&people[1]).await.len(), 1);
    assert_eq!(app.emails_to(&people[2]).await.len(), 1);
    assert_eq!(nurture(&app, start + Duration::minutes(30)).await.0["sent"], 0);
    let r: Value = app.get_json(&format!("/api/reports/nurture?campaign_id={id}"), &token).await;
    assert_eq!((r["sent"].as_u64(), r["rejected"].as_u64()), (Some(2), Some(1)), "{r}");
}

#[tokio::test]
async fn an_email_whose_answer_is_lost_is_sent_once_marked_unknown_and_never_resent() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let email = unique("lost");
    add_prospect(&app, &token, json!({"email": email, "consent": true})).await;
    let id = app
        .active_campaign(
            &token,
            json!({"name": "Lost", "segment": {}, "steps": [
                {"after_days": 0, "content": {"kind": "jobs"}}, {"after_days": 3, "content": {"kind": "jobs"}}]}),
        )
        .await;

    // SES takes the email and the answer is a 500 (as when it times out): one attempt, no retry.
    let faults = json!({"ses_send": [{"to": email, "fault": "lost_answer"}]});
    let res = app.http.post(format!("{}/_rapport/faults", app.stack.moto_url)).json(&faults).send().await.unwrap();
    assert!(res.status().is_success());
    let (first, _) = nurture(&app, start).await;
    assert_eq!((first["unknown"].as_u64(), first["sent"].as_u64()), (Some(1), Some(0)), "{first}");
    assert_eq!(app.emails_to(&email).await.len(), 1, "the SDK's retry sent it again");
    // Later runs never resend the step; the campaign goes on to its next step when it is due.
    assert_eq!(nurture(&app, start + Duration::minutes(15)).await.0["sent"], 0);
    assert_eq!(app.emails_to(&email).await.len(), 1);
    assert_eq!(nurture(&app, start + Duration::days(3)).await.0["sent"], 1);
    let r: Value = app.get_json(&format!("/api/reports/nurture?campaign_id={id}"), &token).await;
    assert_eq!((r["sent"].as_u64(), r["unknown"].as_u64()), (Some(1), Some(1)), "{r}");
}

#[tokio::test]
async fn one_person_in_two_campaigns_gets_one_email_a_run_and_the_cap_holds() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let (app, _clock) = spawn_app_at(start).await;
    let token = app.token("recruiter").await;
    app.open_job(&token, |b| b["required_credentials"] = json!([])).await;
    let email = unique("both");
    add_prospect(&app, &token, json!({"email": email, "consent": true})).await;
    for name in ["First", "Second"] {
        app.active_campaign(
            &token,
            json!({"name": name, "segment": {}, "steps": [{"after_days": 0, "content": {"kind": "jobs"}}], "max_per_30_days": 1}),
        )
        .await;
    }
    let (r, _) = nurture(&app, start).await;
    assert_eq!(
        (r["enrolled"].as_u64(), r["sent"].as_u64(), r["deferred"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(app.emails_to(&email).await.len(), 1);
    // Thirty days on, the cap lets the second campaign's email go.
    assert_eq!(nurture(&app, start + Duration::days(15)).await.0["sent"], 0);
    assert_eq!(nurture(&app, start + Duration::days(31)).await.0["sent"], 1);
}
