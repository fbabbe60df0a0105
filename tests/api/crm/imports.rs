//! Prospects imported from CSV (inline, or uploaded: 50,000 rows a page at a time), with per-line
//! errors and consent asked once; only an admin marks a pending prospect as consenting.
use super::{add_prospect, assert_compliant, unique};
use crate::helpers::*;
use serde_json::{json, Value};

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
