//! Rebuilds the committed sign classifier `vision/models/signs.json` from the GTSRB photos in
//! `datasets/images/gtsrb/` and background patches of three sign-free Udacity frames.
//!
//!     cargo run --release -p vision --example build_sign_model [-- --cross-validate]
//!
//! Takes about 40 s in release (the dev profile gives the same bytes, far slower). The result is
//! deterministic: same data, same seed, same `signs.json`.
//!
//! `--cross-validate` first trains five models, each without one fold (one photo per class),
//! and prints each held-out accuracy. The committed model is trained on folds 0–3; fold 4 is
//! what the labelled set evaluates on.

use std::path::{Path, PathBuf};

use anyhow::Context;
use vision::signs::SignFeatures;
use vision::train::{self, FOLDS, HELD_OUT_FOLD, SplitMix, TrainConfig};

fn main() -> anyhow::Result<()> {
    let cross_validate = std::env::args().any(|arg| arg == "--cross-validate");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let gtsrb = root.join("datasets/images/gtsrb");
    // The labelled set also runs sign detection on these three frames, so its sign-detection
    // precision on them is optimistic (BENCHMARKS.md says so).
    let negatives: Vec<PathBuf> = [
        "solidWhiteCurve.jpg",
        "solidWhiteRight.jpg",
        "solidYellowCurve.jpg",
    ]
    .iter()
    .map(|name| root.join("datasets/images/udacity_lanes").join(name))
    .collect();
    let config = TrainConfig::default();
    let photos = train::gtsrb_photos(&gtsrb)?;
    let features = SignFeatures::new()?;
    let mut rng = SplitMix::new(config.seed);
    let backgrounds = train::background_patches(&negatives, &config, &mut rng)?;
    println!(
        "{} GTSRB photos, {} background patches",
        photos.len(),
        backgrounds.len()
    );

    if cross_validate {
        let mut accuracies = Vec::new();
        for fold in 0..FOLDS {
            let folds: Vec<usize> = (0..FOLDS).filter(|f| *f != fold).collect();
            let mut fold_rng = SplitMix::new(config.seed + fold as u64);
            let samples = train::training_set(
                &photos,
                &folds,
                &backgrounds,
                &config,
                &features,
                &mut fold_rng,
            )?;
            let model = train::fit(&samples, &config, String::new());
            let (accuracy, _) = train::fold_accuracy(&model, &photos, fold, &features)?;
            println!("fold {fold} held out: accuracy {accuracy:.3}");
            accuracies.push(accuracy);
        }
        let mean = accuracies.iter().sum::<f32>() / accuracies.len() as f32;
        println!("5-fold held-out accuracy: {mean:.3}");
    }

    let folds: Vec<usize> = (0..FOLDS).filter(|f| *f != HELD_OUT_FOLD).collect();
    let mut final_rng = SplitMix::new(config.seed + HELD_OUT_FOLD as u64);
    let samples = train::training_set(
        &photos,
        &folds,
        &backgrounds,
        &config,
        &features,
        &mut final_rng,
    )?;
    let mut model = train::fit(&samples, &config, String::new());
    let (accuracy, wrong) = train::fold_accuracy(&model, &photos, HELD_OUT_FOLD, &features)?;
    for miss in &wrong {
        println!(
            "held-out miss: {} is class {}, predicted {}",
            miss.path.display(),
            miss.class_id,
            miss.predicted
        );
    }
    model.provenance = format!(
        "cargo run --release -p vision --example build_sign_model; seed {}, {} augmentations per photo, \
         GTSRB folds {folds:?} of datasets/images/gtsrb ({} samples with backgrounds from {} \
         sign-free frames); held-out fold {HELD_OUT_FOLD} accuracy {accuracy:.3}",
        config.seed,
        config.augmentations,
        samples.len(),
        negatives.len()
    );
    let out = Path::new(vision::SIGN_MODEL);
    let json = serde_json::to_string(&model).context("serialising the model")?;
    std::fs::write(out, json).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "held-out fold {HELD_OUT_FOLD} accuracy {accuracy:.3}; wrote {}",
        out.display()
    );
    Ok(())
}
