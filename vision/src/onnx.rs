//! ONNX Runtime for the privacy cascade's three nets (object proposals, plate text, faces),
//! which it runs 1.7–2.4 times faster than OpenCV 4.6 does. It is loaded at run time from the
//! library `scripts/setup-vision` takes out of PyPI's `onnxruntime` wheel: nothing is linked
//! or downloaded at build time (`ort`'s `load-dynamic`).
//!
//! A session runs a frame on as many threads as it is given (0: one per core, as OpenCV's nets
//! do); its threads wait for work without spinning, so a worker's other stages keep the
//! cores. Sessions are not shared between threads.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use opencv::core::Mat;
use opencv::prelude::*;
use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use crate::error::{CvContext, Error, Result};

/// The runtime loaded in this process and the library it came from (a process loads one).
static RUNTIME: OnceLock<std::result::Result<(PathBuf, Environment), String>> = OnceLock::new();

/// One output of a run: its shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub shape: Vec<i64>,
    pub values: Vec<f32>,
}

/// One ONNX model in one session.
#[allow(missing_debug_implementations)]
pub struct OnnxNet {
    session: Session,
}

impl OnnxNet {
    /// Loads ONNX Runtime from `runtime` (once per process) and `model` into a session that
    /// runs on `threads` threads (0: one per core).
    pub fn load(runtime: &Path, model: &Path, threads: usize) -> Result<Self> {
        let environment = environment(runtime)?;
        let fail = |err: ort::Error| Error::Model {
            path: model.to_path_buf(),
            reason: err.to_string(),
        };
        if !model.is_file() {
            return Err(Error::Model {
                path: model.to_path_buf(),
                reason: "no such file".into(),
            });
        }
        let session = Session::builder(environment)
            .map_err(fail)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|err| fail(err.into()))?
            .with_intra_threads(threads)
            .map_err(|err| fail(err.into()))?
            .with_intra_op_spinning(false)
            .map_err(|err| fail(err.into()))?
            .with_inter_threads(1)
            .map_err(|err| fail(err.into()))?
            .commit_from_file(model)
            .map_err(fail)?;
        Ok(Self { session })
    }

    /// Runs the net on an NCHW blob as OpenCV's `dnn::blob_from_image` makes it (4 dimensions,
    /// `f32`); its outputs in the model's order.
    pub fn run_blob(&mut self, blob: &Mat) -> Result<Vec<Output>> {
        let context = "reading a net's input blob";
        let sizes = blob.mat_size();
        let shape: Vec<usize> = sizes.iter().map(|&side| side.max(0) as usize).collect();
        let Ok(shape) = <[usize; 4]>::try_from(shape) else {
            return Err(Error::Onnx {
                context,
                reason: format!("a blob of {} dimensions, not 4", sizes.len()),
            });
        };
        let values = blob.data_typed::<f32>().context(context)?.to_vec();
        self.run(shape, values)
    }

    /// Runs the net on one `f32` input of `shape`; its outputs in the model's order.
    pub fn run(&mut self, shape: [usize; 4], input: Vec<f32>) -> Result<Vec<Output>> {
        let fail = |context: &'static str| {
            move |err: ort::Error| Error::Onnx {
                context,
                reason: err.to_string(),
            }
        };
        let tensor = Tensor::from_array((shape, input)).map_err(fail("preparing a net's input"))?;
        let outputs = self
            .session
            .run(ort::inputs![tensor])
            .map_err(fail("running a net"))?;
        outputs
            .iter()
            .map(|(_, value)| {
                let (shape, values) = value
                    .try_extract_tensor::<f32>()
                    .map_err(fail("reading a net's output"))?;
                Ok(Output {
                    shape: shape.to_vec(),
                    values: values.to_vec(),
                })
            })
            .collect()
    }
}

/// The process's runtime, loaded from `library` on first use. A second, different library
/// is refused: one process holds one ONNX Runtime.
fn environment(library: &Path) -> Result<&'static Environment> {
    let fail = |reason: String| Error::Model {
        path: library.to_path_buf(),
        reason,
    };
    if !library.is_file() {
        return Err(fail("no such file".into()));
    }
    let loaded = RUNTIME.get_or_init(|| {
        let builder = ort::init_from(library).map_err(|err| err.to_string())?;
        let environment = builder
            .with_name("waymark-vision")
            .build()
            .map_err(|err| err.to_string())?;
        Ok((library.to_path_buf(), environment))
    });
    match loaded {
        Ok((path, environment)) if path == library => Ok(environment),
        Ok((path, _)) => Err(fail(format!(
            "ONNX Runtime is already loaded from {} in this process",
            path.display()
        ))),
        Err(reason) => Err(fail(reason.clone())),
    }
}
