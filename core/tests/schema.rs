//! The JSON Schema in schema/ and the policy model describe the same keys: every key that
//! the documented policies use is in the schema, and every key in the schema is used by them
//! (the built-in policy, examples/policy.yaml and examples/provenance.yaml together set every
//! key).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn load_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("readable");
    serde_yaml::from_str(&text).expect("YAML")
}

/// Follows a `$ref`; keys under a definition are named after it (`#tags.semver`), so a
/// definition used in several places is one set of keys.
fn resolve<'a>(schema: &'a Value, node: &'a Value, path: &str) -> (&'a Value, String) {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/$defs/");
            (&schema["$defs"][name], format!("#{name}"))
        }
        None => (node, path.to_string()),
    }
}

/// Walks a document along the schema, collecting the dotted paths of the keys it uses and
/// failing on a key the schema does not know.
fn used_keys(schema: &Value, node: &Value, data: &Value, path: &str, keys: &mut BTreeSet<String>) {
    let (node, path) = resolve(schema, node, path);
    let path = path.as_str();
    match data {
        Value::Object(object) => {
            let properties = node.get("properties").and_then(Value::as_object);
            for (key, value) in object {
                let child = match properties.and_then(|p| p.get(key)) {
                    Some(child) => {
                        keys.insert(format!("{path}.{key}"));
                        child
                    }
                    None => node
                        .get("additionalProperties")
                        .filter(|extra| extra.is_object())
                        .unwrap_or_else(|| panic!("{path}.{key} is not in the schema")),
                };
                used_keys(schema, child, value, &format!("{path}.{key}"), keys);
            }
        }
        Value::Array(items) => {
            for item in items {
                used_keys(schema, &node["items"], item, &format!("{path}[]"), keys);
            }
        }
        _ => {}
    }
}

fn schema_keys(
    schema: &Value,
    node: &Value,
    path: &str,
    keys: &mut BTreeSet<String>,
    depth: usize,
) {
    let (node, path) = resolve(schema, node, path);
    let path = path.as_str();
    assert!(depth < 10, "schema recursion at {path}");
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (key, child) in properties {
            keys.insert(format!("{path}.{key}"));
            schema_keys(schema, child, &format!("{path}.{key}"), keys, depth + 1);
        }
    }
    if let Some(items) = node.get("items") {
        schema_keys(schema, items, &format!("{path}[]"), keys, depth + 1);
    }
}

#[test]
fn schema_and_documented_policies_name_the_same_keys() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/policy.schema.json")).expect("schema"),
    )
    .expect("schema is JSON");
    let mut used = BTreeSet::new();
    for document in [
        root().join("core/src/policy/default-policy.yaml"),
        root().join("examples/policy.yaml"),
        root().join("examples/provenance.yaml"),
    ] {
        used_keys(&schema, &schema, &load_yaml(&document), "", &mut used);
    }
    let mut declared = BTreeSet::new();
    schema_keys(&schema, &schema, "", &mut declared, 0);
    let unused: Vec<_> = declared.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "schema keys no documented policy uses: {unused:?}"
    );
    assert!(declared.len() > 40, "the walk found only {declared:?}");
}
