//! What `audit` prints: a per-repository table for people (text), the report as one JSON
//! document, one CSV row per finding, or a Markdown summary (a GitHub job summary, a wiki
//! page).

use std::fmt::Write as _;

use steward::audit::{AuditFinding, AuditReport, RepositorySummary};
use steward::notify::visible;

use crate::AuditFormat;

pub fn render(report: &AuditReport, format: AuditFormat) -> String {
    match format {
        AuditFormat::Text => text(report),
        AuditFormat::Json => {
            let mut json = serde_json::to_string_pretty(report).unwrap_or_default();
            json.push('\n');
            json
        }
        AuditFormat::Csv => csv(report),
        AuditFormat::Markdown => markdown(report),
    }
}

fn violations(summary: &RepositorySummary) -> usize {
    summary.violations.values().sum()
}

fn by_check(summary: &RepositorySummary) -> String {
    if summary.violations.is_empty() {
        return "-".into();
    }
    summary
        .violations
        .iter()
        .map(|(check, count)| format!("{check}={count}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn findings(count: usize) -> String {
    format!("{count} finding{}", if count == 1 { "" } else { "s" })
}

fn headline(report: &AuditReport) -> String {
    let totals = &report.totals;
    let flagged = report
        .repositories
        .iter()
        .filter(|r| r.findings > 0)
        .count();
    let mut line = format!(
        "{} in {flagged} of {} repositor{} ({}); {} images, {} tags, {} compliant",
        findings(totals.findings),
        totals.repositories,
        if totals.repositories == 1 { "y" } else { "ies" },
        report.regions.join(", "),
        totals.images,
        totals.tags,
        totals.compliant_tags,
    );
    if totals.ungoverned_repositories > 0 {
        let _ = write!(
            line,
            "; {} tags in {} ungoverned repositor{} not judged",
            totals.ungoverned_tags,
            totals.ungoverned_repositories,
            if totals.ungoverned_repositories == 1 {
                "y"
            } else {
                "ies"
            }
        );
    }
    if totals.images_archived > 0 {
        let _ = write!(
            line,
            "; {} archived images not audited (they cannot be pulled until restored)",
            totals.images_archived
        );
    }
    if totals.images_skipped > 0 {
        let _ = write!(
            line,
            "; {} images not audited (--max-images)",
            totals.images_skipped
        );
    }
    line
}

/// The totals by check, most first: `labels.required 12, tag.literals.deny 3`.
fn checks_line(report: &AuditReport) -> String {
    let mut checks: Vec<(&&str, &usize)> = report.totals.by_check.iter().collect();
    checks.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    checks
        .iter()
        .map(|(check, count)| format!("{check} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(report));
    if !report.totals.by_check.is_empty() {
        let _ = writeln!(out, "By check: {}", checks_line(report));
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {}", visible(warning));
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<10} {:<32} {:<16} {:>6} {:>6} {:>9} {:>10} {:>8} {:>8} {:>10}  BY CHECK",
        "REGION",
        "REPOSITORY",
        "RULE",
        "IMAGES",
        "TAGS",
        "COMPLIANT",
        "VIOLATIONS",
        "SETTINGS",
        "MISSING",
        "MISMATCHED"
    );
    for r in &report.repositories {
        let _ = writeln!(
            out,
            "{:<10} {:<32} {:<16} {:>6} {:>6} {:>9} {:>10} {:>8} {:>8} {:>10}  {}{}",
            r.region,
            r.repository,
            r.rule.as_deref().unwrap_or("(none)"),
            r.images,
            r.tags,
            r.compliant_tags,
            violations(r),
            r.settings,
            r.replicas_missing,
            r.replicas_mismatched,
            by_check(r),
            if r.access_denied {
                "  ACCESS DENIED"
            } else {
                ""
            }
        );
    }
    if !report.worst_offenders.is_empty() {
        out.push_str("\nWorst offenders:\n");
        for (rank, offender) in report.worst_offenders.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {}/{}: {}",
                rank + 1,
                offender.region,
                offender.repository,
                findings(offender.findings)
            );
        }
    }
    if report.findings.len() < report.totals.findings {
        let _ = writeln!(
            out,
            "\nFindings ({} of {}, as filtered):",
            report.findings.len(),
            report.totals.findings
        );
    } else if !report.findings.is_empty() {
        out.push_str("\nFindings:\n");
    }
    for finding in &report.findings {
        let _ = writeln!(out, "  {}", visible(&finding_line(finding)));
    }
    let _ = writeln!(out, "\n{}", headline(report));
    out
}

fn finding_line(f: &AuditFinding) -> String {
    let mut place = format!("{}/{}", f.region, f.repository);
    if let Some(tag) = &f.tag {
        let _ = write!(place, ":{tag}");
    }
    format!("{place} [{}] {}", f.check, f.message)
}

/// The CSV columns, in order: the finding's JSON field names.
pub const CSV_COLUMNS: [&str; 10] = [
    "region",
    "repository",
    "kind",
    "check",
    "rule",
    "tag",
    "digest",
    "destination",
    "found_digest",
    "message",
];

fn csv(report: &AuditReport) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for f in &report.findings {
        let cells = [
            f.region.as_str(),
            f.repository.as_str(),
            f.kind.as_str(),
            f.check,
            f.rule.as_deref().unwrap_or_default(),
            f.tag.as_deref().unwrap_or_default(),
            f.digest.as_deref().unwrap_or_default(),
            f.destination.as_deref().unwrap_or_default(),
            f.found_digest.as_deref().unwrap_or_default(),
            &visible(&f.message),
        ];
        let row: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting; a cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`) gets
/// a leading `'`, since messages quote label values from the images.
fn csv_cell(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn markdown(report: &AuditReport) -> String {
    let mut out = String::from("## ecr-steward audit\n\n");
    let _ = writeln!(
        out,
        "{} **{}**\n",
        if report.clean { "✅" } else { "❌" },
        headline(report)
    );
    for warning in &report.warnings {
        let _ = writeln!(out, "> ⚠️ {}\n", visible(warning));
    }
    out.push_str("| region | repository | rule | images | tags | compliant | violations | settings | replicas missing | replicas mismatched | access |\n");
    out.push_str("|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for r in &report.repositories {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.region,
            r.repository,
            r.rule
                .as_deref()
                .map_or("-".into(), |rule| format!("`{}`", rule.replace('`', "'"))),
            r.images,
            r.tags,
            r.compliant_tags,
            violations(r),
            r.settings,
            r.replicas_missing,
            r.replicas_mismatched,
            if r.access_denied { "denied" } else { "ok" }
        );
    }
    if !report.worst_offenders.is_empty() {
        out.push_str("\n### Worst offenders\n\n");
        for (rank, offender) in report.worst_offenders.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. `{}` ({}): {}",
                rank + 1,
                offender.repository,
                offender.region,
                findings(offender.findings)
            );
        }
    }
    let mut checks: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for finding in &report.findings {
        *checks.entry(finding.check).or_default() += 1;
    }
    if !checks.is_empty() {
        out.push_str("\n### Findings by check\n\n| check | findings |\n|---|--:|\n");
        for (check, count) in checks {
            let _ = writeln!(out, "| `{check}` | {count} |");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }
}
