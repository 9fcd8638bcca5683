//! The metrics are a contract of dashboards and alarms: README's "Metrics and alarms" table has
//! a row for every metric, with its unit and its dimensions as the model says.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use steward_core::metrics::{Function, Metric};

#[test]
fn the_readme_describes_every_metric_as_it_is_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    for metric in Metric::ALL {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{}` |", metric.name())))
            .unwrap_or_else(|| panic!("README.md has no row for the metric `{}`", metric.name()));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], format!("`{}`", metric.unit().as_str()), "{row}");
        let dimensions: Vec<String> = metric
            .dimensions()
            .iter()
            .map(|d| format!("`{}`", d.as_str()))
            .collect();
        assert_eq!(cells[3], dimensions.join(", "), "{row}");
    }
    for function in Function::ALL {
        assert!(readme.contains(&format!("`{}`", function.as_str())));
    }
}
