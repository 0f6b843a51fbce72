//! Reproducible training of the sign classifier from the GTSRB photos in
//! `datasets/images/gtsrb/` (5 per class, 32×32).
//!
//! With so few photos, three things stretch them, all driven by one seeded generator:
//! - every photo is augmented (perspective, rotation, scale, shift, gamma, contrast,
//!   brightness, blur or noise);
//! - a photo whose mirror image is a sign is also used mirrored: for its own class when the
//!   sign is symmetric (yield, no entry, …), for its twin otherwise (turn left ↔ turn right,
//!   keep left ↔ keep right, curve left ↔ curve right);
//! - signs that are plain geometry, digits or simple symbols are also drawn ([`crate::synth`]).
//!
//! "Background" patches — the candidate blobs and random crops of sign-free real frames —
//! teach the model to reject clutter. Augmented and mirrored copies stay in their photo's fold,
//! so cross-validation never scores a photo whose copy it trained on. One photo per
//! class (fold [`HELD_OUT_FOLD`], the last by file name) is never trained on: the evaluation
//! harness measures the committed model on those 43 photos. Same inputs and seed, same model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opencv::core::{self, Mat, Point2f, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::error::{CvContext, Error, Result};
use crate::signs::{self, BACKGROUND, MODEL_FORMAT, SignFeatures, SignModel};
use crate::synth;

/// Photos per class in the GTSRB sample; photo `k` of a class (by file name) is in fold `k`.
pub const FOLDS: usize = 5;
/// The fold the committed model never sees; the labelled set evaluates on it.
pub const HELD_OUT_FOLD: usize = 4;

/// L2 penalty of the background score's weights.
const BACKGROUND_L2: f32 = 1e-3;

/// Augmented copies of every sign-coloured background blob.
const BACKGROUND_AUGMENTATIONS: usize = 4;

/// Training settings; the defaults built the committed model.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub seed: u64,
    /// Augmented copies per training photo.
    pub augmentations: usize,
    /// Random background crops per negative frame (besides its colour candidates).
    pub random_crops: usize,
    /// Synthetic photos per drawable class ([`crate::synth`]), each augmented once.
    pub synthetic: usize,
    /// Weight of the identity in LDA's shrunk covariance (0 = the sample covariance).
    pub shrinkage: f32,
    /// Passes of SGD over the samples for the background score.
    pub background_epochs: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 20_261_124,
            augmentations: 80,
            random_crops: 250,
            synthetic: 200,
            shrinkage: 0.1,
            background_epochs: 5,
        }
    }
}

/// One GTSRB photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtsrbPhoto {
    pub path: PathBuf,
    pub class_id: usize,
    pub fold: usize,
}

/// Reads `GT.csv` (`;`-separated, `Filename` and `ClassId` columns) and assigns folds.
pub fn gtsrb_photos(dir: &Path) -> Result<Vec<GtsrbPhoto>> {
    let csv_path = dir.join("GT.csv");
    let text = std::fs::read_to_string(&csv_path).map_err(|source| Error::Io {
        path: csv_path.clone(),
        source,
    })?;
    let invalid = |reason: String| Error::LabelledSet {
        path: csv_path.clone(),
        reason,
    };
    let mut by_class: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.trim().split(';').collect();
        let (Some(file), Some(class)) = (fields.first(), fields.last()) else {
            return Err(invalid(format!("malformed line {line:?}")));
        };
        let class_id: usize = class
            .parse()
            .map_err(|_| invalid(format!("class id {class:?} is not a number")))?;
        if class_id >= BACKGROUND {
            return Err(invalid(format!("class id {class_id} is not a GTSRB class")));
        }
        by_class
            .entry(class_id)
            .or_default()
            .push((*file).to_owned());
    }
    let mut photos = Vec::new();
    for (class_id, mut files) in by_class {
        files.sort();
        for (index, file) in files.into_iter().enumerate() {
            photos.push(GtsrbPhoto {
                path: dir.join(file),
                class_id,
                fold: index % FOLDS,
            });
        }
    }
    Ok(photos)
}

/// A small deterministic generator (SplitMix64), so training needs no RNG crate.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Reads an image file as BGR: a JPEG, or a binary PPM (GTSRB's photos).
pub fn read_bgr(path: &Path) -> Result<Mat> {
    let bytes = crate::read(path)?;
    let invalid = |reason: String| Error::LabelledSet {
        path: path.to_path_buf(),
        reason,
    };
    let image = if bytes.starts_with(b"P6") {
        ppm_to_bgr(&bytes).map_err(invalid)?
    } else {
        crate::decode::decode_full(&bytes)?
    };
    if crate::decode::is_empty(&image) {
        return Err(invalid("not a decodable JPEG or PPM image".into()));
    }
    Ok(image)
}

/// A binary PPM (`P6`, 8 bits a sample, `#` comments in the header) as BGR.
pub fn ppm_to_bgr(bytes: &[u8]) -> std::result::Result<Mat, String> {
    let mut fields = Vec::new();
    let mut at = 0;
    // Magic, width, height and the largest sample, each after white space or a comment.
    while fields.len() < 4 {
        match bytes.get(at) {
            None => return Err("a PPM header cut short".into()),
            Some(b'#') => {
                while bytes.get(at).is_some_and(|&b| b != b'\n') {
                    at += 1;
                }
            }
            Some(b) if b.is_ascii_whitespace() => at += 1,
            Some(_) => {
                let start = at;
                while bytes.get(at).is_some_and(|b| !b.is_ascii_whitespace()) {
                    at += 1;
                }
                fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
            }
        }
    }
    let number = |field: &str| {
        field
            .parse::<usize>()
            .map_err(|_| format!("{field:?} is not a PPM size"))
    };
    let (width, height, largest) = (
        number(&fields[1])?,
        number(&fields[2])?,
        number(&fields[3])?,
    );
    if fields[0] != "P6"
        || largest != 255
        || width == 0
        || height == 0
        || width > 10_000
        || height > 10_000
    {
        return Err(format!(
            "a {} PPM of {width}×{height} with samples to {largest}; only 8-bit P6 is read",
            fields[0]
        ));
    }
    // One white-space byte ends the header.
    let pixels = bytes
        .get(at + 1..at + 1 + width * height * 3)
        .ok_or("the PPM's pixels are cut short")?;
    let bgr: Vec<u8> = pixels
        .chunks_exact(3)
        .flat_map(|rgb| [rgb[2], rgb[1], rgb[0]])
        .collect();
    Mat::from_slice(&bgr)
        .and_then(|row| row.reshape(3, height as i32)?.try_clone())
        .map_err(|err| err.to_string())
}

/// A randomly warped (perspective, rotation, scale, shift), re-lit (contrast, brightness,
/// gamma) and possibly blurred or noisy copy of a sign patch.
pub fn augment(patch: &Mat, rng: &mut SplitMix) -> Result<Mat> {
    let (w, h) = (patch.cols() as f32, patch.rows() as f32);
    let angle = rng.uniform(-12.0, 12.0).to_radians();
    let scale = rng.uniform(0.85, 1.15);
    let (sin, cos) = ((angle.sin() * scale) as f32, (angle.cos() * scale) as f32);
    let (dx, dy) = (
        rng.uniform(-0.07, 0.07) as f32 * w,
        rng.uniform(-0.07, 0.07) as f32 * h,
    );
    let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let mut source = Vector::<Point2f>::new();
    let mut target = Vector::<Point2f>::new();
    for (x, y) in corners {
        source.push(Point2f::new(x, y));
        // Rotate and scale about the centre, shift, then move each corner a little on its own
        // (a perspective change: the sign seen from the side or from below).
        let (cx, cy) = (x - w / 2.0, y - h / 2.0);
        let jitter = |rng: &mut SplitMix, side: f32| rng.uniform(-0.06, 0.06) as f32 * side;
        target.push(Point2f::new(
            w / 2.0 + cos * cx - sin * cy + dx + jitter(rng, w),
            h / 2.0 + sin * cx + cos * cy + dy + jitter(rng, h),
        ));
    }
    let transform = imgproc::get_perspective_transform(&source, &target, core::DECOMP_LU)
        .context("building an augmentation")?;
    let mut warped = Mat::default();
    imgproc::warp_perspective(
        patch,
        &mut warped,
        &transform,
        Size::new(patch.cols(), patch.rows()),
        imgproc::INTER_LINEAR,
        core::BORDER_REPLICATE,
        Scalar::default(),
    )
    .context("warping an augmentation")?;
    let gamma = rng.uniform(0.5, 2.0);
    let contrast = rng.uniform(0.6, 1.4);
    let brightness = rng.uniform(-40.0, 40.0);
    let lookup: Vec<u8> = (0..=255u8)
        .map(|v| {
            let curved = 255.0 * (f64::from(v) / 255.0).powf(gamma);
            (curved * contrast + brightness).round().clamp(0.0, 255.0) as u8
        })
        .collect();
    let mut lit = Mat::default();
    core::lut(
        &warped,
        &Mat::from_slice(&lookup).context("building a lookup")?,
        &mut lit,
    )
    .context("re-lighting an augmentation")?;
    let roll = rng.uniform(0.0, 1.0);
    if roll < 0.3 {
        let mut blurred = Mat::default();
        let sigma = rng.uniform(0.5, 1.5);
        imgproc::gaussian_blur(
            &lit,
            &mut blurred,
            Size::new(0, 0),
            sigma,
            sigma,
            core::BORDER_REPLICATE,
        )
        .context("blurring an augmentation")?;
        return Ok(blurred);
    }
    if roll < 0.5 {
        let float = core::CV_MAKETYPE(core::CV_32F, lit.channels());
        let mut noise =
            Mat::new_size_with_default(lit.size().context("sizing")?, float, Scalar::all(0.0))
                .context("allocating noise")?;
        let sigma = rng.uniform(3.0, 12.0);
        core::set_rng_seed(rng.next_u64() as i32).context("seeding noise")?;
        core::randn(&mut noise, &Scalar::all(0.0), &Scalar::all(sigma)).context("drawing noise")?;
        let mut noisy = Mat::default();
        core::add(&lit, &noise, &mut noisy, &core::no_array(), lit.typ())
            .context("adding noise")?;
        return Ok(noisy);
    }
    Ok(lit)
}

/// GTSRB classes that are their own mirror image (left–right).
const MIRROR_SYMMETRIC: [usize; 11] = [11, 12, 13, 15, 17, 18, 22, 26, 30, 35, 40];
/// Pairs of classes that are each other's mirror image: dangerous curve left/right, turn
/// right/left ahead, straight or right/left, keep right/left.
const MIRROR_PAIRS: [(usize, usize); 4] = [(19, 20), (33, 34), (36, 37), (38, 39)];

/// The class a left–right mirrored photo of `class_id` shows, if it is a sign at all.
pub fn mirrored_class(class_id: usize) -> Option<usize> {
    if MIRROR_SYMMETRIC.contains(&class_id) {
        return Some(class_id);
    }
    MIRROR_PAIRS.iter().find_map(|&(a, b)| match class_id {
        _ if class_id == a => Some(b),
        _ if class_id == b => Some(a),
        _ => None,
    })
}

/// A photo and, when its mirror image is a sign too, the mirrored photo with its class.
fn with_mirror(image: Mat, class_id: usize) -> Result<Vec<(Mat, usize)>> {
    let mut sources = Vec::with_capacity(2);
    if let Some(mirror_class) = mirrored_class(class_id) {
        let mut flipped = Mat::default();
        core::flip(&image, &mut flipped, 1).context("mirroring a photo")?;
        sources.push((flipped, mirror_class));
    }
    sources.push((image, class_id));
    Ok(sources)
}

/// Background patches from sign-free frames: every colour candidate plus random crops.
pub fn background_patches(
    frames: &[PathBuf],
    config: &TrainConfig,
    rng: &mut SplitMix,
) -> Result<Vec<Mat>> {
    let mut patches = Vec::new();
    for path in frames {
        let frame = read_bgr(path)?;
        for candidate in signs::candidates(&frame, 8)? {
            let crop = signs::crop_rect(candidate.rect, frame.cols(), frame.rows());
            let patch = Mat::roi(&frame, crop)
                .context("cropping a background")?
                .try_clone()
                .context("copying")?;
            for _ in 0..BACKGROUND_AUGMENTATIONS {
                patches.push(augment(&patch, rng)?);
            }
            patches.push(patch);
        }
        for _ in 0..config.random_crops {
            let side = 12 + rng.below(80) as i32;
            if side >= frame.cols() || side >= frame.rows() {
                continue;
            }
            let x = rng.below((frame.cols() - side) as usize) as i32;
            let y = rng.below((frame.rows() - side) as usize) as i32;
            let rect = Rect::new(x, y, side, side);
            patches.push(
                Mat::roi(&frame, rect)
                    .context("cropping a background")?
                    .try_clone()
                    .context("copying")?,
            );
        }
    }
    Ok(patches)
}

/// Labelled feature vectors: augmented photos of the training folds, background patches, and
/// signs drawn over patches of `drawing_grounds` (road frames a sign stands in front of).
pub fn training_set(
    photos: &[GtsrbPhoto],
    train_folds: &[usize],
    backgrounds: &[Mat],
    drawing_grounds: &[Mat],
    config: &TrainConfig,
    features: &SignFeatures,
    rng: &mut SplitMix,
) -> Result<Vec<(Vec<f32>, usize)>> {
    let mut samples = Vec::new();
    for photo in photos.iter().filter(|p| train_folds.contains(&p.fold)) {
        // A mirrored photo stays in its photo's fold, so cross-validation never sees it.
        for (image, class_id) in with_mirror(read_bgr(&photo.path)?, photo.class_id)? {
            samples.push((features.extract(&image)?, class_id));
            for _ in 0..config.augmentations {
                samples.push((features.extract(&augment(&image, rng)?)?, class_id));
            }
        }
    }
    for patch in backgrounds {
        samples.push((features.extract(patch)?, BACKGROUND));
    }
    // Drawn signs belong to no photo and no fold.
    for &class_id in &synth::DRAWN_CLASSES {
        for _ in 0..config.synthetic {
            let ground = &drawing_grounds[rng.below(drawing_grounds.len())];
            if let Some(drawing) = synth::render(class_id, ground, rng)? {
                samples.push((features.extract(&augment(&drawing, rng)?)?, class_id));
            }
        }
    }
    Ok(samples)
}

/// Fits the classifier on standardised features: [`fit_lda`] on the sign samples, and
/// [`fit_background`] on all of them.
pub fn fit(samples: &[(Vec<f32>, usize)], config: &TrainConfig, provenance: String) -> SignModel {
    let dims = samples.first().map_or(0, |s| s.0.len());
    let n = samples.len().max(1) as f32;
    let mut mean = vec![0f32; dims];
    for (x, _) in samples {
        for (m, v) in mean.iter_mut().zip(x) {
            *m += v / n;
        }
    }
    let mut var = vec![0f32; dims];
    for (x, _) in samples {
        for ((s, v), m) in var.iter_mut().zip(x).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    let inv_std: Vec<f32> = var.iter().map(|v| 1.0 / (v.sqrt() + 1e-3)).collect();
    let signs: Vec<&(Vec<f32>, usize)> = samples.iter().filter(|s| s.1 != BACKGROUND).collect();
    let (weights, bias) = fit_lda(&signs, &mean, &inv_std, config.shrinkage);
    let (background_weights, background_bias) = fit_background(samples, &mean, &inv_std, config);
    SignModel {
        format: MODEL_FORMAT.to_owned(),
        provenance,
        mean,
        inv_std,
        weights,
        bias,
        background_weights,
        background_bias,
    }
}

/// Fits linear discriminant analysis on standardised features: class means, one within-class
/// covariance shared by all classes and shrunk towards a multiple of the identity
/// (by `shrinkage`), and each class's linear discriminant. The softmax of the discriminants
/// is LDA's posterior, so the result is an ordinary linear [`SignModel`]. Closed form, hence
/// deterministic; the shared covariance lets four photos per class borrow the spread of all.
fn fit_lda(
    samples: &[&(Vec<f32>, usize)],
    mean: &[f32],
    inv_std: &[f32],
    shrinkage: f32,
) -> (Vec<Vec<f32>>, Vec<f32>) {
    let dims = mean.len();
    let classes = BACKGROUND;
    let n = samples.len().max(1) as f32;
    let standardize = |x: &[f32], d: usize| (x[d] - mean[d]) * inv_std[d];

    let mut counts = vec![0usize; classes];
    let mut class_means = vec![vec![0f64; dims]; classes];
    for (x, label) in samples {
        counts[*label] += 1;
        for (d, m) in class_means[*label].iter_mut().enumerate() {
            *m += f64::from(standardize(x, d));
        }
    }
    for (m, &count) in class_means.iter_mut().zip(&counts) {
        m.iter_mut().for_each(|v| *v /= count.max(1) as f64);
    }
    // Feature-major copy of the samples minus their class mean, for the covariance's dot products.
    let columns: Vec<Vec<f32>> = (0..dims)
        .map(|d| {
            samples
                .iter()
                .map(|(x, label)| standardize(x, d) - class_means[*label][d] as f32)
                .collect()
        })
        .collect();
    let mut covariance = gram(&columns);
    covariance.iter_mut().for_each(|v| *v /= f64::from(n));
    let shrinkage = f64::from(shrinkage);
    let average_variance = (0..dims).map(|d| covariance[d * dims + d]).sum::<f64>() / dims as f64;
    for i in 0..dims {
        for j in 0..dims {
            let identity = if i == j { average_variance } else { 0.0 };
            covariance[i * dims + j] =
                (1.0 - shrinkage) * covariance[i * dims + j] + shrinkage * identity;
        }
    }
    let factor = cholesky(covariance, dims);
    let mut weights = Vec::with_capacity(classes);
    let mut bias = Vec::with_capacity(classes);
    for (class_mean, &count) in class_means.iter().zip(&counts) {
        if count == 0 {
            weights.push(vec![0f32; dims]);
            bias.push(-1e4);
            continue;
        }
        let w = cholesky_solve(&factor, dims, class_mean);
        let quadratic: f64 = w.iter().zip(class_mean).map(|(a, b)| a * b).sum();
        let prior = (count as f64 / f64::from(n)).ln();
        weights.push(w.iter().map(|&v| v as f32).collect());
        bias.push((prior - 0.5 * quadratic) as f32);
    }
    (weights, bias)
}

/// Fits logistic regression of "background" against every sign class by seeded SGD. Background
/// samples are revisited so both sides weigh the same however many samples each has.
fn fit_background(
    samples: &[(Vec<f32>, usize)],
    mean: &[f32],
    inv_std: &[f32],
    config: &TrainConfig,
) -> (Vec<f32>, f32) {
    let dims = mean.len();
    let backgrounds: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].1 == BACKGROUND)
        .collect();
    let mut order: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].1 != BACKGROUND)
        .collect();
    let repeats = order.len() / backgrounds.len().max(1);
    for _ in 0..repeats.max(1) {
        order.extend(&backgrounds);
    }
    let mut weights = vec![0f32; dims];
    let mut bias = 0f32;
    let mut x = vec![0f32; dims];
    let mut rng = SplitMix::new(config.seed ^ 0xB6);
    for epoch in 0..config.background_epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        // A step of about one logit unit per sample at first, then decaying.
        let rate = 1.0 / (dims as f32 * (1.0 + epoch as f32));
        for &index in &order {
            let (raw, label) = &samples[index];
            for (((x, v), m), s) in x.iter_mut().zip(raw).zip(mean).zip(inv_std) {
                *x = (v - m) * s;
            }
            let z = bias + weights.iter().zip(&x).map(|(w, v)| w * v).sum::<f32>();
            let target = if *label == BACKGROUND { 1.0 } else { 0.0 };
            let gradient = 1.0 / (1.0 + (-z).exp()) - target;
            for (w, v) in weights.iter_mut().zip(&x) {
                *w -= rate * (gradient * v + BACKGROUND_L2 * *w);
            }
            bias -= rate * gradient * dims as f32 * 0.01;
        }
    }
    (weights, bias)
}

/// The symmetric matrix of dot products between `columns` (row-major, `columns.len()` square).
fn gram(columns: &[Vec<f32>]) -> Vec<f64> {
    let dims = columns.len();
    let mut out = vec![0f64; dims * dims];
    // Eight rows at a time keep them in cache while every later column streams past once.
    const BLOCK: usize = 8;
    for first in (0..dims).step_by(BLOCK) {
        let last = (first + BLOCK).min(dims);
        for j in first..dims {
            for i in first..last.min(j + 1) {
                let value = dot(&columns[i], &columns[j]);
                out[i * dims + j] = value;
                out[j * dims + i] = value;
            }
        }
    }
    out
}

/// Dot product in 16 f32 lanes (so it vectorises), summed in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 16;
    let mut lanes = [0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| f64::from(x * y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    tail + lanes.iter().map(|&v| f64::from(v)).sum::<f64>()
}

/// The lower-triangular `L` with `L·Lᵀ = matrix` (row-major, `dims` square, positive definite:
/// the shrinkage guarantees it).
fn cholesky(mut matrix: Vec<f64>, dims: usize) -> Vec<f64> {
    for j in 0..dims {
        let (done, rest) = matrix.split_at_mut(j * dims);
        let row_j = &mut rest[..dims];
        for k in 0..j {
            let row_k = &done[k * dims..k * dims + dims];
            let partial: f64 = row_j[..k].iter().zip(&row_k[..k]).map(|(a, b)| a * b).sum();
            row_j[k] = (row_j[k] - partial) / row_k[k];
        }
        let squares: f64 = row_j[..j].iter().map(|v| v * v).sum();
        row_j[j] = (row_j[j] - squares).max(1e-12).sqrt();
        row_j[j + 1..].iter_mut().for_each(|v| *v = 0.0);
    }
    matrix
}

/// Solves `L·Lᵀ·x = rhs` for the Cholesky factor `L` of [`cholesky`].
fn cholesky_solve(factor: &[f64], dims: usize, rhs: &[f64]) -> Vec<f64> {
    let mut y = vec![0f64; dims];
    for i in 0..dims {
        let row = &factor[i * dims..i * dims + i];
        let partial: f64 = row.iter().zip(&y[..i]).map(|(a, b)| a * b).sum();
        y[i] = (rhs[i] - partial) / factor[i * dims + i];
    }
    let mut x = vec![0f64; dims];
    for i in (0..dims).rev() {
        let partial: f64 = (i + 1..dims).map(|k| factor[k * dims + i] * x[k]).sum();
        x[i] = (y[i] - partial) / factor[i * dims + i];
    }
    x
}

/// A held-out photo the model got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub path: PathBuf,
    pub class_id: usize,
    pub predicted: usize,
}

/// Accuracy of `model` on the photos of `fold` (unaugmented), and the misclassified ones.
pub fn fold_accuracy(
    model: &SignModel,
    photos: &[GtsrbPhoto],
    fold: usize,
    features: &SignFeatures,
) -> Result<(f32, Vec<Miss>)> {
    let mut correct = 0usize;
    let mut total = 0usize;
    let mut wrong = Vec::new();
    for photo in photos.iter().filter(|p| p.fold == fold) {
        let image = read_bgr(&photo.path)?;
        let (predicted, _) = signs::argmax(&model.probabilities(&features.extract(&image)?));
        total += 1;
        if predicted == photo.class_id {
            correct += 1;
        } else {
            wrong.push(Miss {
                path: photo.path.clone(),
                class_id: photo.class_id,
                predicted,
            });
        }
    }
    Ok((correct as f32 / total.max(1) as f32, wrong))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solve_inverts_a_symmetric_positive_definite_matrix() {
        let matrix = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let rhs = [1.0, -2.0, 0.5];
        let x = cholesky_solve(&cholesky(matrix.clone(), 3), 3, &rhs);
        for (row, expected) in matrix.chunks(3).zip(rhs) {
            let product: f64 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!(
                (product - expected).abs() < 1e-12,
                "{product} != {expected}"
            );
        }
    }

    #[test]
    fn mirrored_classes_pair_up() {
        assert_eq!(mirrored_class(33), Some(34));
        assert_eq!(mirrored_class(39), Some(38));
        assert_eq!(mirrored_class(13), Some(13));
        // A mirrored "30" is not a sign.
        assert_eq!(mirrored_class(1), None);
    }
}
