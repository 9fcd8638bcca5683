//! A small JSON Schema (2020-12) validator for tests: the keywords schema/*.v1.schema.json
//! use (`type`, `required`, `properties`, `additionalProperties`, `enum`, `const`, `pattern`,
//! `items`, `minItems`, `maxItems`, `minLength`, `maxLength`, `minimum`, `$ref` to
//! `#/$defs/…`); other keywords (`format`, `description`, …) are not checked.

use serde_json::Value;

/// Every way `value` breaks `schema`, as `path: what`; empty when it conforms.
pub fn violations(value: &Value, schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(value, schema, schema, "$", &mut found);
    found
}

fn type_matches(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    }
}

fn check(value: &Value, node: &Value, root: &Value, path: &str, found: &mut Vec<String>) {
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/$defs/");
            &root["$defs"][name]
        }
        None => node,
    };
    if let Some(kind) = node.get("type") {
        let ok = match kind {
            Value::String(name) => type_matches(value, name),
            Value::Array(names) => names
                .iter()
                .filter_map(Value::as_str)
                .any(|name| type_matches(value, name)),
            _ => true,
        };
        if !ok {
            found.push(format!("{path}: {value} is not of type {kind}"));
            return;
        }
    }
    if let Some(options) = node.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            found.push(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let Some(constant) = node.get("const") {
        if constant != value {
            found.push(format!("{path}: {value} is not {constant}"));
        }
    }
    if let Value::String(text) = value {
        let length = text.chars().count() as u64;
        if let Some(pattern) = node.get("pattern").and_then(Value::as_str) {
            match regex::Regex::new(pattern) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => found.push(format!("{path}: {text:?} does not match {pattern}")),
                Err(error) => found.push(format!("{path}: bad pattern {pattern}: {error}")),
            }
        }
        if node
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| length > m)
        {
            found.push(format!("{path}: longer than maxLength"));
        }
        if node
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| length < m)
        {
            found.push(format!("{path}: shorter than minLength"));
        }
    }
    if let (Some(number), Some(minimum)) =
        (value.as_f64(), node.get("minimum").and_then(Value::as_f64))
    {
        if number < minimum {
            found.push(format!("{path}: {number} < {minimum}"));
        }
    }
    if let Value::Array(items) = value {
        let count = items.len() as u64;
        if node
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| count > m)
        {
            found.push(format!("{path}: more than maxItems"));
        }
        if node
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| count < m)
        {
            found.push(format!("{path}: fewer than minItems"));
        }
        if let Some(schema) = node.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item, schema, root, &format!("{path}[{i}]"), found);
            }
        }
    }
    if let Value::Object(object) = value {
        for required in node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                found.push(format!("{path}: {required} is missing"));
            }
        }
        let properties = node.get("properties").and_then(Value::as_object);
        for (key, child) in object {
            let child_path = format!("{path}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(schema) => check(child, schema, root, &child_path, found),
                None => match node.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        found.push(format!("{child_path} is not in the schema"))
                    }
                    Some(extra @ Value::Object(_)) => check(child, extra, root, &child_path, found),
                    _ => {}
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::violations;

    #[test]
    fn finds_what_breaks_a_schema() {
        let schema = json!({
            "type": "object",
            "required": ["a"],
            "additionalProperties": false,
            "properties": {
                "a": { "type": "string", "pattern": "^x", "maxLength": 3 },
                "b": { "type": "array", "items": { "enum": [1, 2] }, "maxItems": 2 },
                "c": { "$ref": "#/$defs/n" }
            },
            "$defs": { "n": { "type": "integer", "minimum": 0 } }
        });
        assert!(violations(&json!({ "a": "xy", "b": [1], "c": 3 }), &schema).is_empty());
        let found = violations(&json!({ "b": [3, 1, 1], "c": -1, "d": true }), &schema);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert_eq!(violations(&json!({ "a": "yyyy" }), &schema).len(), 2);
        assert_eq!(violations(&json!([]), &schema).len(), 1);
    }
}
