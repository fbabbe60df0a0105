//! The table's schema, defined once. The local stack creates the table from it and a test checks
//! that `infra/template.yaml` declares the same keys and indexes.
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

pub struct Table {
    /// The resource name in `infra/template.yaml`.
    pub logical_id: &'static str,
    /// The environment variable that carries the table's name to the functions.
    pub env: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub indexes: &'static [Index],
    /// Epoch-seconds attribute DynamoDB may expire items by. Only ever a clean-up: nothing relies on it.
    pub ttl: &'static str,
    /// What the table's stream carries of each change (the outbox's consumer reads new items).
    pub stream_view: &'static str,
}

pub const MAIN: Table = Table {
    logical_id: "MainTable",
    env: "RAPPORT_TABLE",
    pk: "pk",
    sk: "sk",
    indexes: &[Index { name: "GSI1", pk: "gsi1pk", sk: "gsi1sk" }, Index { name: "GSI2", pk: "gsi2pk", sk: "gsi2sk" }],
    ttl: "ttl",
    stream_view: "NEW_IMAGE",
};

pub const TABLES: &[&Table] = &[&MAIN];

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("name and type are set")
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// Creates the table if it does not exist (pay per request, as in the template).
pub async fn create(db: &aws_sdk_dynamodb::Client, table: &Table, name: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let mut req = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(table.pk, KeyType::Hash))
        .key_schema(key(table.sk, KeyType::Range))
        .attribute_definitions(attr(table.pk))
        .attribute_definitions(attr(table.sk))
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(table.stream_view.into())
                .build()
                .expect("enabled is set"),
        );
    for ix in table.indexes {
        req = req.attribute_definitions(attr(ix.pk)).attribute_definitions(attr(ix.sk)).global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ix.name)
                .key_schema(key(ix.pk, KeyType::Hash))
                .key_schema(key(ix.sk, KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("name and keys are set"),
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e) => {
            let e = aws_sdk_dynamodb::Error::from(e);
            if !matches!(e, aws_sdk_dynamodb::Error::ResourceInUseException(_)) {
                return Err(e);
            }
            return Ok(());
        }
    }
    db.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(table.ttl).enabled(true).build().expect("set"),
        )
        .send()
        .await?;
    Ok(())
}
