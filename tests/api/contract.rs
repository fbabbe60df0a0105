//! The route table, the SAM template, the OpenAPI document and the functions' routers agree.
use crate::helpers::*;
use rapport::routes::ROUTES;
use rapport::store::schema;
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
        assert!(
            t["Globals"]["Function"]["Environment"]["Variables"].get(table.env).is_some(),
            "{} is passed",
            table.env
        );
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
