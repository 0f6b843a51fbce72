//! `waymark vision eval` on the committed labelled set, as CI runs it.

use crate::{output, waymark};

#[test]
fn vision_eval_prints_precision_and_recall_per_check() {
    let out = output(waymark(&["vision", "eval"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "blurred",
        "too_dark",
        "overexposed",
        "obstructed",
        "broken",
        "faces",
        "sign classification",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(&format!("| {check}")))
            .unwrap_or_else(|| panic!("no {check} row: {stdout}"));
        // | check | precision | recall | TP | FP | FN |
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let precision: f64 = cells[2].parse().unwrap();
        let recall: f64 = cells[3].parse().unwrap();
        assert!(
            (0.0..=1.0).contains(&precision) && (0.0..=1.0).contains(&recall),
            "{row}"
        );
    }
}

#[test]
fn vision_eval_of_a_missing_set_says_so() {
    let out = output(waymark(&["vision", "eval", "/nonexistent/labelled-set"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/labelled-set"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
