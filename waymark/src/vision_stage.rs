//! Wires the OpenCV vision stage into ingest's seam, and `waymark vision eval`.

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

/// The analyzer the pipeline worker uses, with the models `scripts/setup` installs.
pub fn analyzer() -> anyhow::Result<Arc<dyn FrameAnalyzer>> {
    let vision = vision::Vision::new(vision::VisionConfig::default())
        .context("cannot load the vision models; run scripts/setup (it installs OpenCV's data and the CenterFace model)")?;
    if !vision.uses_face_dnn() {
        tracing::warn!(
            "CenterFace model missing: faces are found with OpenCV's Haar cascades only; run scripts/setup"
        );
    }
    Ok(Arc::new(OpenCvAnalyzer(vision)))
}

/// `waymark vision eval [DIR]`: precision and recall of every check over a labelled set.
pub fn eval(dir: Option<&Path>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or(Path::new(vision::LABELLED_SET));
    let report = vision::evaluate(dir)
        .with_context(|| format!("cannot evaluate the labelled set in {}", dir.display()))?;
    print!("{report}");
    Ok(())
}
