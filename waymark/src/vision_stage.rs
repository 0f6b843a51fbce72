//! Wires the OpenCV vision stage into ingest's seam, `waymark vision eval` and `waymark
//! vision analyze`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ingest::worker::FrameAnalyzer;
use model::AnalyzedFrame;

/// `vision::Vision` behind ingest's `FrameAnalyzer` trait.
struct OpenCvAnalyzer(vision::Vision);

impl FrameAnalyzer for OpenCvAnalyzer {
    fn analyze(&self, jpeg: &[u8]) -> Result<AnalyzedFrame, String> {
        self.0.analyze(jpeg).map_err(|err| err.to_string())
    }
}

/// The analyzer the pipeline worker uses: the models `scripts/setup` installs and any the
/// `[vision]` settings name.
pub fn analyzer(config: &vision::VisionConfig) -> anyhow::Result<Arc<dyn FrameAnalyzer>> {
    // A missing shipped model's error names scripts/setup-vision; a bad operator detector's
    // names its settings key or file.
    let vision = vision::Vision::new(config.clone()).context("cannot start the vision stage")?;
    Ok(Arc::new(OpenCvAnalyzer(vision)))
}

/// `waymark vision eval [DIR]`: precision and recall of every check, as the `[vision]`
/// settings configure them, over a labelled set.
pub fn eval(config: &vision::VisionConfig, dir: Option<&Path>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or(Path::new(vision::LABELLED_SET));
    let report = vision::eval::evaluate_with(dir, config.clone())
        .with_context(|| format!("cannot evaluate the labelled set in {}", dir.display()))?;
    print!("{report}");
    Ok(())
}

/// `waymark vision analyze --out DIR FILE…`: the pipeline's vision checks on each file; the
/// blurred public copy and the report are written to `out`, one summary line per file.
pub fn analyze_files(
    config: &vision::VisionConfig,
    files: &[std::path::PathBuf],
    out: &Path,
) -> anyhow::Result<()> {
    let vision = vision::Vision::new(config.clone()).context("cannot start the vision stage")?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    for file in files {
        let jpeg =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let analyzed = vision
            .analyze(&jpeg)
            .with_context(|| format!("cannot analyze {}", file.display()))?;
        let stem = file
            .file_stem()
            .map_or_else(|| "frame".into(), |s| s.to_string_lossy().into_owned());
        let report_path = out.join(format!("{stem}.json"));
        std::fs::write(&report_path, serde_json::to_vec_pretty(&analyzed.report)?)
            .with_context(|| format!("cannot write {}", report_path.display()))?;
        if let Some(public) = &analyzed.public_jpeg {
            let public_path = out.join(format!("{stem}.jpg"));
            std::fs::write(&public_path, public)
                .with_context(|| format!("cannot write {}", public_path.display()))?;
        }
        let report = &analyzed.report;
        println!(
            "{}: {}x{}, quality {:?} {:.2}, {} privacy regions blurred, {} signs",
            file.display(),
            report.width,
            report.height,
            report.quality.verdict,
            report.quality.score,
            report.privacy.len(),
            report.signs.len()
        );
    }
    Ok(())
}
