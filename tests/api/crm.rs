//! The CRM through the local stack: prospects, content, an always-on campaign run day by day with
//! `/_local/run/nurture?now=`, credential-gated jobs, unsubscribe, bounces, and stop-on-apply.
use crate::helpers::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::clock::rfc3339;
use serde_json::{json, Value};

fn unique(name: &str) -> String {
    format!("{name}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

async fn add_prospect(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/api/prospects").bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Runs the nurture task at `at`; returns its report and the AWS operations it made.
async fn nurture(app: &TestApp, at: DateTime<Utc>) -> (Value, Vec<String>) {
    let res = app.post("/_local/run/nurture").query(&[("now", rfc3339(at))]).send().await.unwrap();
    let (status, ops) = (res.status(), calls(&res));
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (body, ops)
}

fn header<'a>(email: &'a Value, name: &str) -> Option<&'a str> {
    email["headers"].as_array()?.iter().find(|h| h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))?
        ["value"]
        .as_str()
}

async fn first_email(app: &TestApp, to: &str) -> Value {
    app.emails_to(to).await.first().cloned().unwrap_or_else(|| panic!("no email to {to}"))
}

/// What every email must carry (CAN-SPAM, RFC 8058).
fn assert_compliant(e: &Value) {
    let list = header(e, "List-Unsubscribe").unwrap_or_else(|| panic!("List-Unsubscribe: {e}"));
    assert!(list.starts_with("<http") && list.contains("/careers/unsubscribe?token="), "{list}");
    assert_eq!(header(e, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    let text = e["text"].as_str().expect("a text part");
    // HTML escaping writes `/` as an entity inside attributes; a mail client reads it back.
    let html = e["html"].as_str().expect("an HTML part").replace("&#x2f;", "/").replace("&amp;", "&");
    assert!(html.contains("<a href=\"http") && html.contains(">Unsubscribe</a>"), "a link, not just text: {html}");
    for part in [text, html.as_str()] {
        assert!(part.contains("1 Infirmary Street"), "the postal address: {part}");
        assert!(part.contains("/careers/unsubscribe?token="), "a visible unsubscribe link: {part}");
    }
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

/// Imports `csv` inline, lets the `imports` task finish it and send what it left, and returns the run.
async fn import(app: &TestApp, token: &str, csv: &str) -> Value {
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    assert!(res.status() == 200 || res.status() == 202, "{}", res.status());
    let run: Value = res.json().await.unwrap();
    finish_import(app, token, &run).await
}

/// Runs the `imports` task until the import is done (a busy machine may leave it to the task), then
/// once more for the consent emails; returns the run as `GET /api/prospects/imports/{id}` shows it.
async fn finish_import(app: &TestApp, token: &str, run: &Value) -> Value {
    let path = format!("/api/prospects/imports/{}", run["import_id"].as_str().unwrap());
    loop {
        let r: Value = app.post("/_local/run/imports").send().await.unwrap().json().await.unwrap();
        assert_eq!(r["task"], "imports", "{r}");
        let now: Value = app.get_json(&path, token).await;
        if now["status"] != "running" && r["complete"] == true {
            return now;
        }
    }
}

#[tokio::test]
async fn prior_applicants_import_once_with_per_line_errors_and_consent_asked_once() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let (ada, bo, cy, gone) = (unique("ada"), unique("bo"), unique("cy"), unique("gone"));
    add_prospect(&app, &token, json!({"email": cy, "consent": true, "tags": ["finance"]})).await;
    // Someone who unsubscribed earlier is never re-added by an import.
    let st = &app.stack.state;
    let gone_hash = st.email_hash(&rapport::email::Email::parse(&gone).unwrap()).await.unwrap();
    let link = rapport::prospect::unsubscribe_token(st.signer().await.unwrap(), &gone_hash);
    app.post("/careers/unsubscribe").query(&[("token", &link)]).send().await.unwrap();

    let csv = format!(
        "Email,First Name,Last Name,Tags,Credentials,Consent,Consent Date\n\
         {ada},Ada,L,nursing;icu,RN/GB@2028-01-31,yes,2025-03-01\n\
         {bo},Bo,,,,,\n\
         not-an-email,X,,,,,\n\
         {},Ada again,,,,yes,\n\
         {cy},Cy,,nursing,,,\n\
         {gone},G,,,,yes,\n",
        ada.to_uppercase()
    );
    let r = import(&app, &token, &csv).await;
    assert_eq!(
        (r["imported"].as_u64(), r["updated"].as_u64(), r["skipped"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{r}"
    );
    let lines: Vec<u64> = r["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![4, 5], "{r}");

    let ada_p = st
        .store
        .prospect(&st.email_hash(&rapport::email::Email::parse(&ada).unwrap()).await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ada_p.status.as_str(), ada_p.tags.clone()), ("active", vec!["icu".to_string(), "nursing".to_string()]));
    assert_eq!(ada_p.credentials[0].jurisdiction.as_deref(), Some("GB"));
    let cy_p = st
        .store
        .prospect(&st.email_hash(&rapport::email::Email::parse(&cy).unwrap()).await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cy_p.tags, vec!["finance", "nursing"]);
    assert_eq!(cy_p.origins.iter().map(|o| o.as_str()).collect::<Vec<_>>(), vec!["imported", "sourced"]);
    assert!(st.store.prospect(&gone_hash).await.unwrap().is_none(), "not re-added");

    // Bo had no consent evidence: pending, and one email asking.
    let asked = app.emails_to(&bo).await;
    assert_eq!(asked.len(), 1);
    assert_compliant(&asked[0]);
    assert!(app.emails_to(&ada).await.is_empty() && app.emails_to(&gone).await.is_empty());

    // The same file again changes nothing and sends nothing.
    let again = import(&app, &token, &csv).await;
    assert_eq!(
        (again["imported"].as_u64(), again["updated"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(0), Some(4))
    );
    assert_eq!(app.emails_to(&bo).await.len(), 1);

    // Bo says yes.
    let text = asked[0]["text"].as_str().unwrap();
    let confirm = text.split_whitespace().find(|w| w.contains("/careers/talent-pool/confirm?token=")).unwrap();
    assert_eq!(app.confirm(confirm.strip_prefix(&app.url).unwrap()).await.status(), 200);
    let bo_p = st
        .store
        .prospect(&st.email_hash(&rapport::email::Email::parse(&bo).unwrap()).await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bo_p.status.as_str(), "active");
    assert!(bo_p.origins.iter().any(|o| o.as_str() == "imported"));
    // One prospect.created a person: the recruiter's (Cy) and the import's (Ada, Bo, in the transaction
    // that adds them); none for the file imported again or for Bo's confirmation.
    let created = app
        .scan_table()
        .await
        .iter()
        .filter(|i| i.get("type").and_then(|v| v.as_s().ok()).is_some_and(|t| t == "prospect.created"))
        .count();
    assert_eq!(created, 3);

    // A larger file goes through an upload.
    let dee = unique("dee");
    let big = format!("email,consent\n{dee},yes\n");
    let up: Value = app
        .post("/api/prospects/import/uploads")
        .bearer_auth(&token)
        .json(&json!({"size": big.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Posted before the upload has arrived: refused, and nothing recorded, so the same key works after.
    let early = app.post("/api/prospects/import").bearer_auth(&token).json(&json!({"upload_key": up["upload_key"]}));
    assert_eq!(error_fields(&problem(early.send().await.unwrap(), 422).await), vec!["upload_key"]);
    let put =
        app.http.put(up["url"].as_str().unwrap()).header("content-type", "text/csv").body(big).send().await.unwrap();
    assert!(put.status().is_success());
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(&token)
        .json(&json!({"upload_key": up["upload_key"]}))
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    let r = finish_import(&app, &token, &r).await;
    assert_eq!(r["imported"], 1, "{r}");
    // The same upload again is the same import: nothing twice.
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(&token)
        .json(&json!({"upload_key": up["upload_key"]}))
        .send()
        .await
        .unwrap();
    let again: Value = res.json().await.unwrap();
    assert_eq!((&again["import_id"], &again["imported"]), (&r["import_id"], &r["imported"]), "{again}");

    // Wrong media type, a forged key, and no email column.
    let res = app.post("/api/prospects/import").bearer_auth(&token).body("x").send().await.unwrap();
    problem(res, 415).await;
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(&token)
        .json(&json!({"upload_key": "resumes/../secret.csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["upload_key"]);
    // A well-formed key nothing was uploaded under: "not there" (in AWS too, as the role may list
    // the bucket), not a refusal.
    let never = format!("imports/{}.csv", rapport::ids::ImportId::new(&rapport::clock::SystemClock));
    let res =
        app.post("/api/prospects/import").bearer_auth(&token).json(&json!({"upload_key": never})).send().await.unwrap();
    assert_eq!(error_fields(&problem(res, 422).await), vec!["upload_key"]);
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body("name\nAda\n")
        .send()
        .await
        .unwrap();
    problem(res, 422).await;
}

#[tokio::test]
async fn an_import_upload_url_lives_five_minutes() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let res =
        app.post("/api/prospects/import/uploads").bearer_auth(&token).json(&json!({"size": 100})).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let up: Value = res.json().await.unwrap();
    let url = reqwest::Url::parse(up["url"].as_str().unwrap()).unwrap();
    let expires = url.query_pairs().find(|(k, _)| k == "X-Amz-Expires").map(|(_, v)| v.into_owned());
    assert_eq!(expires.as_deref(), Some("300"), "{url}");
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

#[tokio::test]
async fn only_an_admin_may_mark_a_pending_prospect_as_consenting() {
    let app = spawn_app().await;
    let recruiter = app.token("recruiter").await;
    let email = format!("pending.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let p = add_prospect(&app, &recruiter, json!({"email": email})).await;
    assert_eq!(p["status"], "pending_consent", "{p}");
    let path = format!("/api/prospects/{}", p["id"].as_str().unwrap());

    // Skipping someone's double opt-in is an override: a recruiter may not, and nothing changes.
    let res = app.patch(&path).bearer_auth(&recruiter).json(&json!({"consent": true})).send().await.unwrap();
    problem(res, 403).await;
    let res = app.patch(&path).bearer_auth(&recruiter).json(&json!({"tags": ["icu"]})).send().await.unwrap();
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["status"], "pending_consent", "{after}");

    let admin = app.token("admin").await;
    let res = app.patch(&path).bearer_auth(&admin).json(&json!({"consent": true})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "active");
}

#[tokio::test]
async fn fifty_thousand_rows_import_a_page_at_a_time_with_flat_memory() {
    let app = spawn_app().await;
    let token = app.token("recruiter").await;
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    const ROWS: usize = 50_000;
    let bad = [12_345usize, 40_000];
    let mut csv = String::from("email,first_name,last_name,departments,consent,consent_date,notes\n");
    for i in 1..=ROWS {
        if bad.contains(&i) {
            csv.push_str(&format!("not-an-email-{i},X,Y,Nursing,yes,,\"a\nb\"\n"));
        } else if i % 10_000 == 0 {
            // No consent evidence: pending, and one email asking.
            csv.push_str(&format!("p{i}.{tag}@example.com,Pat,\"Doe, Jr\",Nursing,,,\"a\nb\"\n"));
        } else {
            csv.push_str(&format!("p{i}.{tag}@example.com,N{i},Lee,Nursing;ICU,yes,2025-01-31,\"met at\na fair\"\n"));
        }
    }
    let up: Value = app
        .post("/api/prospects/import/uploads")
        .bearer_auth(&token)
        .json(&json!({"size": csv.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = app.http.put(up["url"].as_str().unwrap()).header("content-type", "text/csv").body(csv.clone());
    assert!(put.send().await.unwrap().status().is_success());
    let res = app
        .post("/api/prospects/import")
        .bearer_auth(&token)
        .json(&json!({"upload_key": up["upload_key"]}))
        .send()
        .await
        .unwrap();
    assert!(res.status() == 200 || res.status() == 202, "{}", res.status());
    let mut writes = calls(&res).iter().filter(|c| c.ends_with("PutItem") || c.ends_with("TransactWriteItems")).count();
    let started: Value = res.json().await.unwrap();
    let path = format!("/api/prospects/imports/{}", started["import_id"].as_str().unwrap());
    let run = loop {
        let res = app.post("/_local/run/imports").send().await.unwrap();
        writes += calls(&res).iter().filter(|c| c.ends_with("PutItem") || c.ends_with("TransactWriteItems")).count();
        let report: Value = res.json().await.unwrap();
        let run: Value = app.get_json(&path, &token).await;
        if run["status"] != "running" && report["complete"] == true {
            break run;
        }
    };
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["imported"].as_u64(), Some((ROWS - bad.len()) as u64), "{}", run["errors"]);
    // Each record spans two lines (a quoted line break): the errors name the file's own lines.
    let lines: Vec<u64> = run["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, bad.iter().map(|i| 2 * *i as u64).collect::<Vec<_>>(), "{}", run["errors"]);
    // Memory: never more than a page of the file at once, whatever its size.
    assert_eq!(run["size"].as_u64(), Some(csv.len() as u64));
    let largest = run["largest_buffer_bytes"].as_u64().unwrap();
    assert!(largest <= rapport_crm::imports::PAGE_BYTES && largest * 10 < csv.len() as u64, "{largest}");
    // Writes come a transaction per group of new people (each with their consent records and event),
    // not one a row.
    let pages = (csv.len() as u64).div_ceil(rapport_crm::imports::PAGE_BYTES) as usize;
    assert!(writes <= ROWS / 12 + 3 * pages + 20, "{writes} writes for {ROWS} rows");
    // Those without consent evidence were each asked once.
    let st = &app.stack.state;
    let asked = format!("p10000.{tag}@example.com");
    // Those emails come from the imports task, not the events function: read what SES took without
    // handing the stream's 50,000 events over (the emulator answers every query by scanning the table,
    // and the events function reads the webhook endpoints once a batch).
    let all: Value = app.get("/_local/emails").send().await.unwrap().json().await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().iter().filter(|e| e["to"] == json!([asked])).count(), 1);
    let someone =
        st.email_hash(&rapport::email::Email::parse(&format!("p7.{tag}@example.com")).unwrap()).await.unwrap();
    let someone = st.store.prospect(&someone).await.unwrap().unwrap();
    assert_eq!((someone.status.as_str(), someone.last_name.as_deref()), ("active", Some("Lee")));
    let pending = st.email_hash(&rapport::email::Email::parse(&asked).unwrap()).await.unwrap();
    let pending = st.store.prospect(&pending).await.unwrap().unwrap();
    assert_eq!((pending.status.as_str(), pending.last_name.as_deref()), ("pending_consent", Some("Doe, Jr")));
}
