//! Prints the cheap quality measures of the labelled set's frames (calibration aid).
//!
//!     cargo run -p vision --example probe

use std::path::Path;

use vision::eval::LabelledSet;

fn main() -> anyhow::Result<()> {
    let dir = Path::new(vision::LABELLED_SET);
    let set: LabelledSet =
        serde_json::from_str(&std::fs::read_to_string(dir.join("labels.json"))?)?;
    for frame in &set.frames {
        let original = std::fs::read(dir.join(&frame.file))?;
        let bytes = match frame.degradation {
            Some(d) => d.apply(&original)?,
            None => original,
        };
        let report = vision::check_quality(&bytes, &vision::QualityThresholds::default())?;
        let m = report.quality.measures;
        println!(
            "{:<55} {:<14} sharp {:>8.1} mean {:>5.1} shadow {:.2} high {:.2} obstr {:.2} -> {:?} labelled {:?}",
            frame.file.rsplit('/').next().unwrap_or_default(),
            frame
                .degradation
                .map(|d| format!("{d:?}"))
                .unwrap_or_default(),
            m.sharpness,
            m.mean_luma,
            m.shadow_clipped,
            m.highlight_clipped,
            m.obstructed,
            report.quality.problems,
            frame.problems
        );
    }
    Ok(())
}
