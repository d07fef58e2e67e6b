//! The published conformance vectors, one test per file, through the same runners as
//! `canopy vectors`. Each test checks the exact number of cases so that a runner that
//! silently checks nothing fails.

use std::path::PathBuf;

use canopy_engine::conformance::{run_file, Kind};

fn vector(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_vectors")
        .join(rel)
}

/// Run a file and require `passed` passes, no failures and `skipped` skips.
fn check(rel: &str, kind: Kind, passed: usize, skipped: usize) {
    let report = run_file(&vector(rel)).unwrap_or_else(|e| panic!("{e}"));
    let t = &report.tally;
    println!(
        "{rel}: {} passed, {} failed, {} skipped, {} checks",
        t.passed, t.failed, t.skipped, t.checks
    );
    for note in &t.notes {
        println!("  {note}");
    }
    assert_eq!(report.kind, kind);
    assert_eq!(t.failed, 0, "{rel}: failures: {:#?}", t.notes);
    assert_eq!(
        (t.passed, t.skipped),
        (passed, skipped),
        "{rel}: case counts changed"
    );
    assert!(t.checks >= passed, "{rel}: fewer checks than cases");
}

#[test]
fn tree_math() {
    check("mls/tree-math.json", Kind::TreeMath, 10, 0);
}

#[test]
fn messages() {
    check("mls/messages.json", Kind::Messages, 300, 0);
}

#[test]
fn deserialization() {
    check("mls/deserialization.json", Kind::Deserialization, 14, 0);
}
