//! template.yaml:
//! - its EventBridge patterns, loaded into moto's EventBridge with an SQS target per function:
//!   every sample event in events/ reaches exactly the functions meant for it
//!   (scripts/testbed/check_patterns.py does the work; see its header);
//! - its roles and functions as they deploy with some parameters (the modes' destructive
//!   actions, the replicator's destinations, the VPC), and no literal partition or domain;
//! - the IAM linter scripts/iam-lint (parliament), which check-template runs on its policies:
//!   it fails a policy with an action that does not exist, and passes the CI pipeline policy
//!   that `ecr-steward iam pipeline` prints.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use testbed::{function_binary, workspace_root, Stack};

#[test]
fn every_sample_event_reaches_exactly_its_functions() {
    let stack = Stack::start();
    let output = stack
        .command(stack.python())
        .arg(workspace_root().join("scripts/testbed/check_patterns.py"))
        .current_dir(workspace_root())
        .output()
        .expect("check_patterns.py runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for function in [
        "PushGuardFunction",
        "ScanAlertFunction",
        "ReplicatorFunction",
    ] {
        assert!(
            stdout.contains(function),
            "{function} not checked:\n{stdout}"
        );
    }
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // ECR's DELETE events reach the replicator only with ReplicateDeletes=true (delete
    // replication); by default, no function.
    assert_eq!(
        reached(&stdout, "defaults", "image-delete.json"),
        Vec::<String>::new()
    );
    assert_eq!(
        reached(&stdout, "ReplicateDeletes=true", "image-delete.json"),
        ["ReplicatorFunction"]
    );
    assert_eq!(
        reached(
            &stdout,
            "ReplicateDeletes=true, prefix team-b/",
            "image-delete.json"
        ),
        Vec::<String>::new()
    );
}

/// The functions `event` reached in `scenario`, from check_patterns.py's table (a `yes` in a
/// function's column).
fn reached(stdout: &str, scenario: &str, event: &str) -> Vec<String> {
    let block = stdout
        .split("\nscenario: ")
        .skip(1)
        .find(|block| {
            let name = block.lines().next().unwrap_or_default();
            name == scenario || name.starts_with(&format!("{scenario} {{"))
        })
        .unwrap_or_else(|| panic!("no scenario {scenario:?}:\n{stdout}"));
    let mut lines = block.lines().skip(1);
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let row: Vec<&str> = lines
        .find(|line| line.split_whitespace().next() == Some(event))
        .unwrap_or_else(|| panic!("no row for {event} in {scenario:?}:\n{stdout}"))
        .split_whitespace()
        .collect();
    assert_eq!(header.len(), row.len(), "{scenario:?}: {row:?}");
    header
        .iter()
        .zip(&row)
        .filter(|(_, cell)| **cell == "yes")
        .map(|(function, _)| function.to_string())
        .collect()
}

// ---------------------------------------------------------------- the roles, by parameters
// template.yaml as it deploys with some parameters: `scripts/check-template --expand` runs the
// SAM transform offline (its venv, installed on first use) and resolves the Conditions, Fn::If
// and AWS::NoValue with those values (scripts/guard-controls --resolve).

/// The expanded template with `parameters` (`NAME=VALUE`; the rest by default).
fn deployed(parameters: &[&str]) -> Value {
    let output = std::process::Command::new(workspace_root().join("scripts/check-template"))
        .arg("--expand")
        .args(parameters)
        .current_dir(workspace_root())
        .output()
        .expect("scripts/check-template --expand runs");
    assert!(
        output.status.success(),
        "check-template --expand {parameters:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the expanded template is JSON")
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"].as_object().expect("Resources")
}

/// A role's inline statements of `effect`.
fn statements<'a>(template: &'a Value, role: &str, effect: &str) -> Vec<&'a Value> {
    let role = &template["Resources"][role];
    assert_eq!(role["Type"], "AWS::IAM::Role", "{role}");
    role["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| {
            policy["PolicyDocument"]["Statement"]
                .as_array()
                .expect("Statement")
        })
        .filter(|statement| statement["Effect"] == effect)
        .collect()
}

fn actions(statement: &Value) -> Vec<&str> {
    match &statement["Action"] {
        Value::String(action) => vec![action.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        other => panic!("Action {other}"),
    }
}

/// Every action a role's inline policies allow.
fn allowed(template: &Value, role: &str) -> Vec<String> {
    statements(template, role, "Allow")
        .into_iter()
        .flat_map(actions)
        .map(str::to_string)
        .collect()
}

fn statement<'a>(template: &'a Value, role: &str, sid: &str) -> Option<&'a Value> {
    statements(template, role, "Allow")
        .into_iter()
        .find(|statement| statement["Sid"] == sid)
}

const UNTAG: [&str; 2] = ["ecr:BatchDeleteImage", "ecr:PutImage"];
const EXPIRE: [&str; 2] = ["ecr:BatchDeleteImage", "ecr:UpdateImageStorageClass"];

#[test]
fn push_guard_may_untag_only_when_it_may_enforce() {
    for (mode, untags) in [("audit", false), ("enforce", true), ("policy", true)] {
        let template = deployed(&[&format!("Mode={mode}")]);
        let actions = allowed(&template, "PushGuardFunctionRole");
        for action in UNTAG {
            assert_eq!(
                actions.iter().any(|a| a == action),
                untags,
                "Mode={mode}: {action} in {actions:?}"
            );
        }
        assert!(
            actions.iter().any(|a| a == "ecr:BatchGetImage"),
            "Mode={mode}: {actions:?}"
        );
    }
}

#[test]
fn retention_may_delete_only_with_apply() {
    for (mode, deletes) in [("off", false), ("dry-run", false), ("apply", true)] {
        let template = deployed(&[&format!("RetentionMode={mode}")]);
        let actions = allowed(&template, "RetentionFunctionRole");
        for action in EXPIRE {
            assert_eq!(
                actions.iter().any(|a| a == action),
                deletes,
                "RetentionMode={mode}: {action} in {actions:?}"
            );
        }
        assert!(
            actions.iter().any(|a| a == "ecr:DescribeImages"),
            "RetentionMode={mode}: {actions:?}"
        );
    }
}

/// Every function may put its verdicts on exactly `VerdictEventBus`, with source
/// `ecr-steward`, and is told the bus; an empty parameter grants and sets nothing.
#[test]
fn every_function_may_announce_its_verdicts_on_exactly_the_verdict_bus() {
    const ROLES: [&str; 4] = [
        "PushGuardFunctionRole",
        "ScanAlertFunctionRole",
        "ReplicatorFunctionRole",
        "RetentionFunctionRole",
    ];
    let by_default = deployed(&["RetentionMode=dry-run"]);
    let none = deployed(&["RetentionMode=dry-run", "VerdictEventBus="]);
    for role in ROLES {
        let announce = statement(&by_default, role, "AnnounceVerdicts")
            .unwrap_or_else(|| panic!("{role}: no AnnounceVerdicts"));
        assert_eq!(actions(announce), ["events:PutEvents"], "{role}");
        assert_eq!(
            announce["Condition"]["StringEquals"]["events:source"], "ecr-steward",
            "{role}: {announce}"
        );
        let arns = evaluated_arns(&by_default, announce, &["RetentionMode=dry-run"]);
        assert_eq!(arns.len(), 1, "{role}: {arns:?}");
        assert!(arns[0].ends_with(":event-bus/default"), "{role}: {arns:?}");
        assert!(
            statement(&none, role, "AnnounceVerdicts").is_none(),
            "{role}: a statement with VerdictEventBus empty"
        );
    }
    let variables = |template: &Value, function: &str| {
        template["Resources"][function]["Properties"]["Environment"]["Variables"].clone()
    };
    for function in resources(&by_default)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(name, _)| name.clone())
    {
        assert_eq!(
            variables(&by_default, &function)["STEWARD_VERDICT_EVENT_BUS"],
            "default",
            "{function}"
        );
        assert!(
            variables(&none, &function)
                .get("STEWARD_VERDICT_EVENT_BUS")
                .is_none(),
            "{function}"
        );
    }
}

#[test]
fn replicator_may_create_repositories_only_when_allowed() {
    let key = "ReplicaKmsKeyArns=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let by_default = deployed(&["DestinationRegions=eu-west-1", key]);
    let actions = allowed(&by_default, "ReplicatorFunctionRole");
    assert!(
        actions.iter().any(|a| a == "ecr:CreateRepository"),
        "{actions:?}"
    );
    assert!(statement(
        &by_default,
        "ReplicatorFunctionRole",
        "EncryptCreatedReplicas"
    )
    .is_some());

    let never = deployed(&[
        "DestinationRegions=eu-west-1",
        key,
        "CreateDestinationRepositories=false",
    ]);
    let actions = allowed(&never, "ReplicatorFunctionRole");
    assert!(
        !actions.iter().any(|a| a == "ecr:CreateRepository"),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a.starts_with("kms:CreateGrant")),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "ecr:PutImage"),
        "the copies themselves stay: {actions:?}"
    );
}

#[test]
fn replicator_may_remove_destination_tags_only_with_replicate_deletes() {
    let off = deployed(&["DestinationRegions=eu-west-1"]);
    let granted = allowed(&off, "ReplicatorFunctionRole");
    assert!(
        !granted.iter().any(|a| a == "ecr:BatchDeleteImage"),
        "{granted:?}"
    );
    let on = deployed(&["DestinationRegions=eu-west-1", "ReplicateDeletes=true"]);
    let deletes = statement(&on, "ReplicatorFunctionRole", "ReplicateDestinationDeletes")
        .expect("ReplicateDestinationDeletes");
    assert_eq!(
        actions(deletes),
        ["ecr:DescribeImages", "ecr:BatchDeleteImage"]
    );
    assert_eq!(
        deletes["Condition"]["StringEquals"]["aws:RequestedRegion"],
        serde_json::json!(["eu-west-1"])
    );
    assert!(statement(&on, "ReplicatorFunctionRole", "ReadSourceTags").is_some());
}

#[test]
fn destination_accounts_scope_the_replicators_writes() {
    let own = deployed(&["DestinationRegions=eu-west-1"]);
    assert!(statement(&own, "ReplicatorFunctionRole", "WriteOtherAccountImages").is_none());
    assert!(statement(
        &own,
        "ReplicatorFunctionRole",
        "CreateOtherAccountRepositories"
    )
    .is_none());

    let parameters = [
        "DestinationRegions=eu-west-1",
        "DestinationAccountIds=111122223333,444455556666",
    ];
    let others = deployed(&parameters);
    for sid in ["WriteOtherAccountImages", "CreateOtherAccountRepositories"] {
        let statement =
            statement(&others, "ReplicatorFunctionRole", sid).unwrap_or_else(|| panic!("{sid}"));
        let resources = statement["Resource"].as_array().expect("a list of ARNs");
        // One ARN per account: the n-th entry of DestinationAccountIds, in its repository ARN.
        assert_eq!(resources.len(), 2, "{sid}: {resources:?}");
        for (index, arn) in resources.iter().enumerate() {
            let sub = arn["Fn::Sub"]
                .as_array()
                .expect("Fn::Sub [text, variables]");
            assert_eq!(
                sub[0], "arn:${AWS::Partition}:ecr:*:${Account}:repository/${Pattern}",
                "{sid}"
            );
            assert_eq!(sub[1]["Account"]["Fn::Select"][0], index, "{sid}: {arn}");
        }
        assert_eq!(
            evaluated_arns(&others, statement, &parameters),
            [
                "arn:aws:ecr:*:111122223333:repository/*",
                "arn:aws:ecr:*:444455556666:repository/*"
            ],
            "{sid}"
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:RequestedRegion"],
            serde_json::json!(["eu-west-1"]),
            "{sid}"
        );
    }
    // Too many accounts, or not account ids, are refused by the parameter's pattern.
    let output = std::process::Command::new(workspace_root().join("scripts/check-template"))
        .args(["--expand", "DestinationAccountIds=1234"])
        .output()
        .expect("check-template runs");
    assert!(!output.status.success());
}

// ---------------------------------------------------------------- several repository patterns
// RepositoryPattern and RepositoryPrefix take up to 5 comma-separated entries: an IAM statement
// lists one ARN per pattern (per account and pattern for the other accounts), an EventBridge
// pattern one `prefix` per prefix (scripts/testbed/check_patterns.py checks what they match).

/// `value` (an expanded template's ARN or pattern value) with its Fn::Sub, Fn::Select,
/// Fn::Split and Refs evaluated: parameters by `parameters` (`NAME=VALUE`) or their defaults,
/// the pseudo parameters as in the aws partition, us-east-1, account 123456789012.
fn evaluate(template: &Value, value: &Value, parameters: &[&str]) -> Value {
    let lookup = |name: &str| -> String {
        match name {
            "AWS::Partition" => return "aws".into(),
            "AWS::Region" => return "us-east-1".into(),
            "AWS::AccountId" => return "123456789012".into(),
            _ => {}
        }
        parameters
            .iter()
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
            .or_else(|| {
                template["Parameters"][name]["Default"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("no value for {name}"))
    };
    let sub = |text: &str, variables: &Value| -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').expect("a closing brace");
            let name = &rest[start + 2..end];
            match variables.get(name) {
                Some(value) => out.push_str(
                    evaluate(template, value, parameters)
                        .as_str()
                        .expect("a string"),
                ),
                None => out.push_str(&lookup(name)),
            }
            rest = &rest[end + 1..];
        }
        out + rest
    };
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (function, arguments) = map.iter().next().expect("one entry");
            match function.as_str() {
                "Ref" => Value::String(lookup(arguments.as_str().expect("a name"))),
                "Fn::Sub" => Value::String(match arguments {
                    Value::String(text) => sub(text, &Value::Null),
                    Value::Array(pair) => sub(pair[0].as_str().expect("text"), &pair[1]),
                    other => panic!("Fn::Sub {other}"),
                }),
                "Fn::Split" => {
                    let separator = arguments[0].as_str().expect("a separator");
                    let text = evaluate(template, &arguments[1], parameters);
                    let text = text.as_str().expect("a string");
                    Value::Array(text.split(separator).map(|s| s.into()).collect())
                }
                "Fn::Select" => {
                    let index = arguments[0].as_u64().expect("an index") as usize;
                    evaluate(template, &arguments[1], parameters)[index].clone()
                }
                _ => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), evaluate(template, v, parameters)))
                        .collect(),
                ),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), evaluate(template, v, parameters)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(
            list.iter()
                .map(|v| evaluate(template, v, parameters))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A statement's resources, evaluated (a single ARN as a list of one).
fn evaluated_arns(template: &Value, statement: &Value, parameters: &[&str]) -> Vec<String> {
    match evaluate(template, &statement["Resource"], parameters) {
        Value::String(arn) => vec![arn],
        Value::Array(list) => list
            .into_iter()
            .map(|arn| arn.as_str().expect("an ARN").to_string())
            .collect(),
        other => panic!("Resource {other}"),
    }
}

/// The statements that name repositories by RepositoryPattern: (role, Sid, the ARNs' region).
const PATTERN_STATEMENTS: [(&str, &str, &str); 8] = [
    ("PushGuardFunctionRole", "ReadImages", "us-east-1"),
    ("PushGuardFunctionRole", "UntagImages", "us-east-1"),
    ("ScanAlertFunctionRole", "ReadScanFindings", "us-east-1"),
    ("ReplicatorFunctionRole", "ReadSourceImages", "us-east-1"),
    ("ReplicatorFunctionRole", "WriteDestinationImages", "*"),
    (
        "ReplicatorFunctionRole",
        "CreateDestinationRepositories",
        "*",
    ),
    ("RetentionFunctionRole", "ReadGovernedImages", "us-east-1"),
    ("RetentionFunctionRole", "ExpireGovernedImages", "us-east-1"),
];

#[test]
fn every_repository_pattern_has_its_arn_in_every_statement() {
    // The default, `*`: one ARN, as before patterns could be several.
    let enforcing = ["Mode=enforce", "RetentionMode=apply"];
    let defaults = deployed(&enforcing);
    for (role, sid, region) in PATTERN_STATEMENTS {
        let statement = statement(&defaults, role, sid).unwrap_or_else(|| panic!("{role} {sid}"));
        assert_eq!(
            evaluated_arns(&defaults, statement, &enforcing),
            [format!("arn:aws:ecr:{region}:123456789012:repository/*")],
            "{role} {sid}"
        );
    }

    let patterns = ["team-a/*", "team-b/*", "base/app"];
    let parameters = [
        "Mode=enforce",
        "RetentionMode=apply",
        "RepositoryPattern=team-a/*,team-b/*,base/app",
        "DestinationRegions=eu-west-1",
        "DestinationAccountIds=111122223333,444455556666",
    ];
    let template = deployed(&parameters);
    for (role, sid, region) in PATTERN_STATEMENTS {
        let statement = statement(&template, role, sid).unwrap_or_else(|| panic!("{role} {sid}"));
        let expected: Vec<String> = patterns
            .iter()
            .map(|p| format!("arn:aws:ecr:{region}:123456789012:repository/{p}"))
            .collect();
        assert_eq!(
            evaluated_arns(&template, statement, &parameters),
            expected,
            "{role} {sid}"
        );
    }
    // The other accounts': one ARN per account and pattern.
    for sid in ["WriteOtherAccountImages", "CreateOtherAccountRepositories"] {
        let statement =
            statement(&template, "ReplicatorFunctionRole", sid).unwrap_or_else(|| panic!("{sid}"));
        let expected: Vec<String> = ["111122223333", "444455556666"]
            .iter()
            .flat_map(|account| {
                patterns
                    .iter()
                    .map(move |p| format!("arn:aws:ecr:*:{account}:repository/{p}"))
            })
            .collect();
        assert_eq!(
            evaluated_arns(&template, statement, &parameters),
            expected,
            "{sid}"
        );
    }
    // Listing repositories is not bound by the patterns (it reads names only).
    let list = statement(&template, "RetentionFunctionRole", "ListRepositories").expect("Sid");
    assert_eq!(
        evaluated_arns(&template, list, &parameters),
        ["arn:aws:ecr:us-east-1:123456789012:repository/*"]
    );
}

#[test]
fn every_repository_prefix_is_a_prefix_of_every_rule() {
    /// Every `prefix` value in a rule's pattern, evaluated, in order.
    fn prefixes(pattern: &Value, found: &mut Vec<String>) {
        match pattern {
            Value::Object(map) => {
                if let Some(Value::String(prefix)) = map.get("prefix") {
                    found.push(prefix.clone());
                }
                map.values().for_each(|v| prefixes(v, found));
            }
            Value::Array(list) => list.iter().for_each(|v| prefixes(v, found)),
            _ => {}
        }
    }
    let rules = |template: &Value, parameters: &[&str]| -> Vec<(String, Vec<String>)> {
        resources(template)
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
            .map(|(name, r)| {
                let pattern = evaluate(template, &r["Properties"]["EventPattern"], parameters);
                let mut found = Vec::new();
                prefixes(&pattern, &mut found);
                (name.clone(), found)
            })
            .collect()
    };

    let everything = rules(&deployed(&[]), &[]);
    assert_eq!(everything.len(), 3, "{everything:?}");
    for (rule, found) in &everything {
        assert!(found.is_empty(), "{rule}: {found:?}");
    }

    let parameters = ["RepositoryPrefix=team-a/,team-b/,base/"];
    let three = rules(&deployed(&parameters), &parameters);
    assert_eq!(three.len(), 3, "{three:?}");
    let names = ["team-a/", "team-b/", "base/"];
    let arns: Vec<String> = names
        .iter()
        .map(|p| format!("arn:aws:ecr:us-east-1:123456789012:repository/{p}"))
        .collect();
    for (rule, found) in &three {
        // Each of the rule's event kinds lists the three prefixes (Inspector's the ARNs).
        let expected: Vec<String> = match rule.as_str() {
            "PushGuardFunctionPush" => names.map(String::from).to_vec(),
            "ReplicatorFunctionReplicate" => {
                names.iter().chain(&names).map(|s| s.to_string()).collect()
            }
            "ScanAlertFunctionScan" => names
                .iter()
                .map(|s| s.to_string())
                .chain(arns.clone())
                .collect(),
            other => panic!("an unexpected rule {other}"),
        };
        assert_eq!(found, &expected, "{rule}");
    }

    // More than 5, an empty entry, or characters a repository name cannot hold: refused.
    for refused in [
        "RepositoryPrefix=a/,b/,c/,d/,e/,f/",
        "RepositoryPrefix=team-a/,,team-b/",
        "RepositoryPrefix=team-a/, team-b/",
        "RepositoryPattern=a,b,c,d,e,f",
        "RepositoryPattern=team-a/*,",
    ] {
        let output = std::process::Command::new(workspace_root().join("scripts/check-template"))
            .args(["--expand", refused])
            .current_dir(workspace_root())
            .output()
            .expect("check-template runs");
        assert!(!output.status.success(), "{refused} was accepted");
    }
}

#[test]
fn template_names_no_partition_or_domain_literally() {
    let text =
        std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    // Service principals are names, not hosts: `events.amazonaws.com` in every partition.
    let principal = |line: &str| line.trim_start().starts_with("Service: ");
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !principal(l)) {
        for literal in ["arn:aws:", "amazonaws.com"] {
            assert!(
                !line.contains(literal),
                "template.yaml:{}: {literal}: {line}",
                number + 1
            );
        }
    }
    // After the transform, only the AWS managed policies SAM attaches name a partition (the
    // transform writes the deploy region's; here, offline, `aws`).
    fn walk(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::String(text) if text.contains("arn:aws:") => {
                found.push(format!("{path}: {text}"))
            }
            Value::Array(list) => list
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(v, &format!("{path}[{i}]"), found)),
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| walk(v, &format!("{path}.{k}"), found)),
            _ => {}
        }
    }
    let template = deployed(&[]);
    let mut found = Vec::new();
    walk(&template["Resources"], "Resources", &mut found);
    let unexpected: Vec<_> = found
        .iter()
        .filter(|hit| {
            !(hit.contains(".Properties.ManagedPolicyArns[")
                && hit.contains("arn:aws:iam::aws:policy/"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[test]
fn vpc_parameters_put_every_function_in_the_vpc() {
    let functions = |template: &Value| -> Vec<(String, Value)> {
        resources(template)
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
            .map(|(name, r)| (name.clone(), r["Properties"].clone()))
            .collect()
    };
    let denies_network = |template: &Value, role: &str| {
        statements(template, role, "Deny").into_iter().any(|s| {
            s["Sid"] == "NoNetworkInterfaces"
                && actions(s) == ["ec2:CreateNetworkInterface", "ec2:AssignPrivateIpAddresses"]
        })
    };

    let outside = deployed(&[]);
    let found = functions(&outside);
    assert_eq!(found.len(), 4, "{found:?}");
    for (name, properties) in &found {
        assert!(
            properties.get("VpcConfig").is_none(),
            "{name}: {properties}"
        );
        let role = properties["Role"]["Fn::GetAtt"][0]
            .as_str()
            .expect("the function's role");
        // SAM attaches AWSLambdaVPCAccessExecutionRole whatever the !If says; the role denies it.
        assert!(
            denies_network(&outside, role),
            "{role} may manage network interfaces"
        );
    }

    let inside = deployed(&[
        "SubnetIds=subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
        "SecurityGroupIds=sg-0a1b2c3d4e5f60003",
    ]);
    let found = functions(&inside);
    assert_eq!(found.len(), 4, "{found:?}");
    for (name, properties) in &found {
        assert_eq!(
            properties["VpcConfig"],
            serde_json::json!({
                "SubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
                "SecurityGroupIds": ["sg-0a1b2c3d4e5f60003"],
            }),
            "{name}"
        );
        let role = properties["Role"]["Fn::GetAtt"][0]
            .as_str()
            .expect("the function's role");
        assert!(
            !denies_network(&inside, role),
            "{role} cannot create its network interfaces"
        );
        let managed = inside["Resources"][role]["Properties"]["ManagedPolicyArns"].to_string();
        assert!(
            managed.contains("AWSLambdaVPCAccessExecutionRole"),
            "{role}: {managed}"
        );
    }
}

// ---------------------------------------------------------------- the IAM linter
// scripts/iam-lint runs parliament (in its venv iam-venv, installed on first use) on policy
// documents; scripts/check-template runs it on every policy of the template as deployed with
// three parameter sets. Here: that it can fail, and the policy the CLI prints for CI pipelines.

/// scripts/iam-lint on `policy`, written to `policy.json`: (its exit code, stdout and stderr).
fn iam_lint(policy: &Value) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.json");
    std::fs::write(&path, serde_json::to_vec_pretty(policy).expect("JSON")).expect("write");
    let output = std::process::Command::new(workspace_root().join("scripts/iam-lint"))
        .arg(&path)
        .current_dir(workspace_root())
        .output()
        .expect("scripts/iam-lint runs");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn iam_lint_fails_a_wrong_action_and_passes_the_pipeline_policy() {
    // ecr:GetImages does not exist (ecr:BatchGetImage does).
    let wrong = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReadImages",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetImages"],
            "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/team/web"
        }]
    });
    let (code, output) = iam_lint(&wrong);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("FINDING  policy.json [ReadImages]: UNKNOWN_ACTION")
            && output.contains("Unknown action ecr:GetImages"),
        "{output}"
    );
    assert!(output.contains("1 finding(s) not allowed"), "{output}");

    for args in [
        &["--repository", "team/web"][..],
        &[
            "--repository",
            "team/**",
            "--repository",
            "base/app-?",
            "--gate",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
        ],
        &["--repository", "team/*", "--gate", "--partition", "aws-cn"],
    ] {
        let printed = std::process::Command::new(function_binary("ecr-steward"))
            .args(["iam", "pipeline"])
            .args(args)
            .output()
            .expect("ecr-steward runs");
        assert!(printed.status.success(), "{printed:?}");
        let policy: Value = serde_json::from_slice(&printed.stdout).expect("the policy is JSON");
        let (code, output) = iam_lint(&policy);
        assert_eq!(code, Some(0), "iam pipeline {args:?}:\n{output}");
        // With --gate, one allowed finding: ecr:DescribeImageSigningStatus, newer than
        // parliament's IAM definitions (scripts/iam-lint's ALLOWED says so).
        let allowed = if args.contains(&"--gate") { 1 } else { 0 };
        assert!(
            output.contains(&format!("0 finding(s) not allowed, {allowed} allowed")),
            "iam pipeline {args:?}:\n{output}"
        );
    }
}
