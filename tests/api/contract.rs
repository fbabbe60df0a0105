//! The route table, the SAM template, the OpenAPI document and the functions' routers agree.
use crate::helpers::*;
use rapport::routes::ROUTES;
use rapport::store::schema;
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use std::collections::BTreeSet;

fn load(rel: &str) -> Yaml {
    let path = format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

fn route_set() -> BTreeSet<(String, String)> {
    ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect()
}

fn s(v: &Yaml) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}")).to_string()
}

/// `JobsFunction` serves the routes of function `jobs`.
fn function_of(logical_id: &str) -> String {
    logical_id.trim_end_matches("Function").to_ascii_lowercase()
}

#[test]
fn the_template_declares_exactly_the_routes_of_the_code() {
    let t = load("infra/template.yaml");
    let mut declared = BTreeSet::new();
    for (id, res) in t["Resources"].as_mapping().unwrap() {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let function = function_of(&s(id));
        assert_eq!(res["Metadata"]["BuildMethod"], "rust-cargolambda", "{function}");
        for (_, ev) in res["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if ev["Type"] != "HttpApi" {
                continue;
            }
            let (method, path) = (s(&ev["Properties"]["Method"]), s(&ev["Properties"]["Path"]));
            let route = ROUTES.iter().find(|r| r.method == method && r.path == path);
            let route = route.unwrap_or_else(|| panic!("{method} {path} is in the template but not the code"));
            assert_eq!(route.function, function, "{method} {path} is served by another function");
            let public = ev["Properties"]["Auth"]["Authorizer"] == "NONE";
            assert_eq!(public, !route.needs_token(), "{method} {path}: authorizer");
            declared.insert((method, path));
        }
    }
    assert_eq!(declared, route_set());
    assert_eq!(t["Globals"]["Function"]["Runtime"], "provided.al2023");
    assert_eq!(t["Globals"]["Function"]["Architectures"][0], "arm64");
}

#[test]
fn the_template_declares_exactly_the_schedules_of_the_code() {
    let t = load("infra/template.yaml");
    let mut declared = BTreeSet::new();
    for (id, res) in t["Resources"].as_mapping().unwrap() {
        for (_, ev) in res["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if ev["Type"] != "ScheduleV2" {
                continue;
            }
            let input: serde_json::Value = serde_json::from_str(&s(&ev["Properties"]["Input"])).unwrap();
            assert_eq!(input["scheduled_time"], "<aws.scheduler.scheduled-time>");
            declared.insert((
                input["task"].as_str().unwrap().to_string(),
                function_of(&s(id)),
                s(&ev["Properties"]["ScheduleExpression"]),
            ));
        }
    }
    let expected: BTreeSet<(String, String, String)> = rapport::routes::SCHEDULES
        .iter()
        .map(|s| (s.task.to_string(), s.function.to_string(), s.expression.to_string()))
        .collect();
    assert_eq!(declared, expected);
    for s in rapport::routes::SCHEDULES {
        assert!(s.period().is_some(), "{} has a rate the local stack can run", s.task);
        assert!(rapport_nurture::TASKS.contains(&s.task));
    }
}

#[test]
fn the_template_declares_the_tables_of_the_schema() {
    let t = load("infra/template.yaml");
    for table in schema::TABLES {
        let p = &t["Resources"][table.logical_id]["Properties"];
        let keys = |v: &Yaml| -> Vec<(String, String)> {
            v.as_sequence().unwrap().iter().map(|k| (s(&k["AttributeName"]), s(&k["KeyType"]))).collect()
        };
        let pair =
            |pk: &str, sk: &str| vec![(pk.to_string(), "HASH".to_string()), (sk.to_string(), "RANGE".to_string())];
        assert_eq!(keys(&p["KeySchema"]), pair(table.pk, table.sk));
        let mut expected_attrs: BTreeSet<String> = [table.pk, table.sk].iter().map(|a| a.to_string()).collect();
        let gsis = p["GlobalSecondaryIndexes"].as_sequence().unwrap();
        assert_eq!(gsis.len(), table.indexes.len());
        for ix in table.indexes {
            let g = gsis.iter().find(|g| g["IndexName"] == ix.name).unwrap_or_else(|| panic!("index {}", ix.name));
            assert_eq!(keys(&g["KeySchema"]), pair(ix.pk, ix.sk));
            assert_eq!(g["Projection"]["ProjectionType"], "ALL");
            expected_attrs.extend([ix.pk.to_string(), ix.sk.to_string()]);
        }
        let attrs: BTreeSet<String> =
            p["AttributeDefinitions"].as_sequence().unwrap().iter().map(|a| s(&a["AttributeName"])).collect();
        assert_eq!(attrs, expected_attrs);
        assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], table.ttl);
        assert_eq!(p["StreamSpecification"]["StreamViewType"], table.stream_view, "the outbox's stream");
        assert_eq!(p["DeletionProtectionEnabled"], true, "{} cannot be deleted by mistake", table.logical_id);
        assert!(
            t["Globals"]["Function"]["Environment"]["Variables"].get(table.env).is_some(),
            "{} is passed",
            table.env
        );
    }
}

/// The argument of a short-form intrinsic function (`!Ref X`, `!GetAtt X.Arn`, `!If [...]`).
fn intrinsic<'a>(v: &'a Yaml, name: &str) -> &'a Yaml {
    match v {
        Yaml::Tagged(t) if t.tag == name => &t.value,
        other => panic!("expected !{name}, got {other:?}"),
    }
}

/// The template's resources of one type, by logical id.
fn resources<'a>(t: &'a Yaml, kind: &str) -> Vec<(String, &'a Yaml)> {
    t["Resources"].as_mapping().unwrap().iter().filter(|(_, r)| r["Type"] == kind).map(|(id, r)| (s(id), r)).collect()
}

/// The events of a SAM function, by name.
fn events(function: &Yaml) -> Vec<(String, &Yaml)> {
    function["Properties"]["Events"].as_mapping().into_iter().flatten().map(|(id, ev)| (s(id), ev)).collect()
}

/// `!GetAtt Queue.Arn` names an SQS queue that keeps messages 14 days, encrypted, and an alarm watches it.
fn assert_dead_letter_queue(t: &Yaml, get_att: &Yaml, what: &str) {
    let queue = s(intrinsic(get_att, "GetAtt"));
    let queue = queue.strip_suffix(".Arn").unwrap_or_else(|| panic!("{what}: {queue} is not a queue's Arn"));
    let q = &t["Resources"][queue];
    assert_eq!(q["Type"], "AWS::SQS::Queue", "{what}: {queue}");
    assert_eq!(q["Properties"]["MessageRetentionPeriod"].as_u64(), Some(14 * 86_400), "{what}: {queue} keeps 14 days");
    let p = &q["Properties"];
    assert!(p["SqsManagedSseEnabled"] == true || p.get("KmsMasterKeyId").is_some(), "{what}: {queue} is encrypted");
    let watched = resources(t, "AWS::CloudWatch::Alarm").into_iter().any(|(_, a)| {
        let a = &a["Properties"];
        a["Namespace"] == "AWS/SQS"
            && a["MetricName"] == "ApproximateNumberOfMessagesVisible"
            && a["Threshold"].as_f64() == Some(0.0)
            && s(intrinsic(&a["Dimensions"][0]["Value"], "GetAtt")) == format!("{queue}.QueueName")
    });
    assert!(watched, "{what}: no alarm on the depth of {queue}");
}

#[test]
fn the_stream_reaches_the_events_function_filtered_with_partial_failures_and_a_failure_queue() {
    let t = load("infra/template.yaml");
    let table = &t["Resources"]["MainTable"]["Properties"];
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
    let streams: Vec<(String, String)> = resources(&t, "AWS::Serverless::Function")
        .into_iter()
        .flat_map(|(id, f)| {
            events(f).into_iter().filter(|(_, e)| e["Type"] == "DynamoDB").map(move |(n, _)| (id.clone(), n))
        })
        .collect();
    assert_eq!(streams, vec![("EventsFunction".to_string(), "Outbox".to_string())], "one consumer of the stream");
    let p = &t["Resources"]["EventsFunction"]["Properties"]["Events"]["Outbox"]["Properties"];
    assert_eq!(s(intrinsic(&p["Stream"], "GetAtt")), "MainTable.StreamArn");
    let pattern: Value = serde_json::from_str(&s(&p["FilterCriteria"]["Filters"][0]["Pattern"])).unwrap();
    assert_eq!(pattern, json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["EVENT"]}}}}));
    assert_eq!(p["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    let retries = p["MaximumRetryAttempts"].as_i64().unwrap();
    assert!((0..=10).contains(&retries), "a poison record is retried a bounded number of times: {retries}");
    assert_eq!(p["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_dead_letter_queue(&t, &p["DestinationConfig"]["OnFailure"]["Destination"], "the stream's failures");
    let behind = resources(&t, "AWS::CloudWatch::Alarm").into_iter().any(|(_, a)| {
        a["Properties"]["MetricName"] == "IteratorAge"
            && s(intrinsic(&a["Properties"]["Dimensions"][0]["Value"], "Ref")) == "EventsFunction"
    });
    assert!(behind, "an alarm says when the events function falls behind the stream");
}

#[test]
fn every_schedule_and_the_ses_rule_retry_then_keep_what_they_could_not_deliver() {
    let t = load("infra/template.yaml");
    let mut asynchronous = 0;
    for (id, function) in resources(&t, "AWS::Serverless::Function") {
        let mut invoked_async = false;
        for (name, ev) in events(function) {
            if !(ev["Type"] == "ScheduleV2" || ev["Type"] == "EventBridgeRule") {
                continue;
            }
            let (p, what) = (&ev["Properties"], format!("{id}.{name}"));
            let retry = &p["RetryPolicy"];
            assert!(retry["MaximumRetryAttempts"].as_u64().is_some_and(|n| n > 0), "{what}: retries");
            assert!(retry["MaximumEventAgeInSeconds"].as_u64().is_some_and(|n| n >= 60), "{what}: event age");
            assert_dead_letter_queue(&t, &p["DeadLetterConfig"]["Arn"], &what);
            invoked_async = true;
            asynchronous += 1;
        }
        // Scheduler and EventBridge invoke asynchronously: what the function itself fails on, after
        // Lambda's retries, is kept too.
        if invoked_async {
            let dlq = &function["Properties"]["DeadLetterQueue"];
            assert_eq!(dlq["Type"], "SQS", "{id}");
            assert_dead_letter_queue(&t, &dlq["TargetArn"], &id);
        }
    }
    assert_eq!(asynchronous, rapport::routes::SCHEDULES.len() + 1, "every schedule and the SES events rule");
}

#[test]
fn public_and_scheduled_functions_have_reserved_concurrency_from_a_parameter() {
    let t = load("infra/template.yaml");
    let mut reserved = BTreeSet::new();
    for (id, function) in resources(&t, "AWS::Serverless::Function") {
        let public_or_scheduled = events(function).iter().any(|(_, ev)| {
            ev["Properties"]["Auth"]["Authorizer"] == "NONE"
                || ev["Type"] == "ScheduleV2"
                || ev["Type"] == "EventBridgeRule"
        });
        if !public_or_scheduled {
            continue;
        }
        // `!If [Reserve…, !Ref …ReservedConcurrency, !Ref AWS::NoValue]`: 0 reserves none.
        let choice = intrinsic(&function["Properties"]["ReservedConcurrentExecutions"], "If");
        let condition = s(&choice[0]);
        let parameter = s(intrinsic(&choice[1], "Ref"));
        assert_eq!(s(intrinsic(&choice[2], "Ref")), "AWS::NoValue", "{id}");
        assert!(t["Conditions"].get(condition.as_str()).is_some(), "{id}: {condition}");
        let p = &t["Parameters"][parameter.as_str()];
        assert_eq!(p["Type"], "Number", "{id}: {parameter}");
        assert!(p["Default"].as_u64().is_some_and(|n| n > 0), "{id}: {parameter} reserves some by default");
        assert!(p["Description"].as_str().is_some_and(|d| d.len() > 40), "{id}: {parameter} says why");
        reserved.insert(function_of(&id));
    }
    assert!(["jobs", "intake", "nurture"].iter().all(|f| reserved.contains(*f)), "{reserved:?}");
}

#[test]
fn every_alarm_notifies_the_encrypted_topic_and_each_function_is_watched() {
    let t = load("infra/template.yaml");
    let alarms = resources(&t, "AWS::CloudWatch::Alarm");
    assert!(!alarms.is_empty());
    for (id, alarm) in &alarms {
        let p = &alarm["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            let targets = p[actions].as_sequence().unwrap_or_else(|| panic!("{id}: no {actions}"));
            assert_eq!(targets.len(), 1, "{id}: {actions}");
            assert_eq!(s(intrinsic(&targets[0], "Ref")), "AlarmTopic", "{id}: {actions}");
        }
        assert!(p["TreatMissingData"].is_string(), "{id}: says what missing data means");
        assert!(p["AlarmDescription"].as_str().is_some_and(|d| d.contains("Runbook")), "{id}: points to the runbook");
    }
    let topic = &t["Resources"]["AlarmTopic"];
    assert_eq!(topic["Type"], "AWS::SNS::Topic");
    let key = s(intrinsic(&topic["Properties"]["KmsMasterKeyId"], "Ref"));
    let key = &t["Resources"][key.as_str()];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    let statements = key["Properties"]["KeyPolicy"]["Statement"].as_sequence().unwrap();
    assert!(
        statements.iter().any(|st| st["Principal"]["Service"] == "cloudwatch.amazonaws.com"),
        "CloudWatch may use the topic's key (it cannot use SNS's AWS managed key)"
    );
    let subscription = &t["Resources"]["AlarmEmailSubscription"];
    assert_eq!(subscription["Condition"], "HasAlarmEmail");
    assert_eq!(s(intrinsic(&subscription["Properties"]["Endpoint"], "Ref")), "AlarmEmail");

    // What each alarm watches: a metric of its own, or the metrics of its metric-math expression.
    let watched = |namespace: &str, metric: &str| -> Vec<&Yaml> {
        let mut dims = Vec::new();
        for (_, alarm) in &alarms {
            let p = &alarm["Properties"];
            if p["Namespace"] == namespace && p["MetricName"] == metric {
                dims.push(&p["Dimensions"]);
            }
            for m in p["Metrics"].as_sequence().into_iter().flatten() {
                let stat = &m["MetricStat"]["Metric"];
                if stat["Namespace"] == namespace && stat["MetricName"] == metric {
                    dims.push(&stat["Dimensions"]);
                }
            }
        }
        dims
    };
    let names = |dims: Vec<&Yaml>| -> BTreeSet<String> {
        dims.iter()
            .filter_map(|d| match &d[0]["Value"] {
                Yaml::Tagged(t) if t.tag == "Ref" => Some(s(&t.value)),
                other => other.as_str().map(str::to_string),
            })
            .collect()
    };
    let functions: BTreeSet<String> =
        resources(&t, "AWS::Serverless::Function").into_iter().map(|(id, _)| id).collect();
    assert_eq!(names(watched("AWS/Lambda", "Errors")), functions, "an errors alarm per function");
    assert_eq!(names(watched("AWS/Lambda", "Throttles")), functions, "a throttles alarm per function");
    assert_eq!(names(watched("AWS/ApiGateway", "5xx")), BTreeSet::from(["HttpApi".to_string()]));
    assert_eq!(names(watched("AWS/ApiGateway", "Count")), BTreeSet::from(["HttpApi".to_string()]));
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        let dims = watched("AWS/DynamoDB", metric);
        let indexes: BTreeSet<String> =
            dims.iter().filter_map(|d| d[1]["Value"].as_str().map(str::to_string)).collect();
        assert!(names(dims).contains(schema::TABLES[0].logical_id), "{metric}");
        assert_eq!(indexes, schema::TABLES[0].indexes.iter().map(|i| i.name.to_string()).collect(), "{metric}");
    }
    assert_eq!(watched("AWS/SES", "Reputation.BounceRate").len(), 1);
    assert_eq!(watched("AWS/SES", "Reputation.ComplaintRate").len(), 1);
}

#[test]
fn the_api_logs_each_request_without_bodies_for_a_limited_time() {
    let t = load("infra/template.yaml");
    let settings = &t["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    let group = s(intrinsic(&settings["DestinationArn"], "GetAtt"));
    let group = &t["Resources"][group.strip_suffix(".Arn").unwrap()];
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert!(group["Properties"]["RetentionInDays"].as_u64().is_some_and(|d| d <= 90));
    let format: serde_json::Value =
        serde_json::from_str(&s(&settings["Format"])).expect("the format is one JSON object");
    let fields = format.as_object().unwrap();
    for key in ["requestId", "ip", "routeKey", "status", "latency", "integrationError"] {
        assert!(fields.contains_key(key), "{key} is logged");
    }
    for (key, value) in fields {
        let value = value.as_str().unwrap();
        assert!(value.starts_with("$context."), "{key}: {value}");
        // The route key names the template path; a path or query string could hold tokens or ids.
        for never in ["body", "header", "path", "querystring"] {
            assert!(!value.to_ascii_lowercase().contains(never), "{key} logs a {never}: {value}");
        }
    }
}

#[test]
fn the_openapi_document_describes_exactly_the_routes() {
    let doc = load("infra/openapi.yaml");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let method = s(method);
            if method == "parameters" {
                continue;
            }
            let path = s(path);
            let secured = op.get("security").is_some();
            let route = ROUTES.iter().find(|r| r.method.eq_ignore_ascii_case(&method) && r.path == path);
            let route = route.unwrap_or_else(|| panic!("{method} {path} is documented but does not exist"));
            assert_eq!(secured, route.needs_token(), "{method} {path}: security");
            documented.insert((method.to_ascii_uppercase(), path));
        }
    }
    assert_eq!(documented, route_set());
}

#[tokio::test]
async fn each_function_router_answers_each_of_its_routes() {
    let app = spawn_app().await;
    let token = app.token("admin").await;
    for route in ROUTES {
        let path = route.path.replace("{id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        let res = app
            .http
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        assert_ne!(body["type"], "/problems/no-route", "{} is not served by its function", route.key());
        assert!(body.get("message").is_none(), "{} did not reach a function: {body}", route.key());
    }
}
