//! The metrics are a contract of dashboards and alarms: the "Metrics and alarms" table of
//! docs/operations.md has a row for every metric, with its unit and its dimensions as the model
//! says, and the docs name every value of the `Function` dimension.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use steward_core::metrics::{Function, Metric};

#[test]
fn the_docs_describe_every_metric_as_it_is_written() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/operations.md"
    ))
    .expect("docs/operations.md");
    for metric in Metric::ALL {
        let row = docs
            .lines()
            .find(|line| line.starts_with(&format!("| `{}` |", metric.name())))
            .unwrap_or_else(|| {
                panic!(
                    "docs/operations.md has no row for the metric `{}`",
                    metric.name()
                )
            });
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], format!("`{}`", metric.unit().as_str()), "{row}");
        let dimensions: Vec<String> = metric
            .dimensions()
            .iter()
            .map(|d| format!("`{}`", d.as_str()))
            .collect();
        assert_eq!(cells[3], dimensions.join(", "), "{row}");
    }
    let values = docs
        .lines()
        .find(|line| line.starts_with("`Function` is "))
        .expect("docs/operations.md: a line \"`Function` is …\" naming the dimension's values");
    for function in Function::ALL {
        assert!(
            values.contains(&format!("`{}`", function.as_str())),
            "docs/operations.md: `Function` does not name `{}`: {values}",
            function.as_str()
        );
    }
}
