//! Faces with dlib: detection (HOG), five landmarks, 128-number embeddings and their distance,
//! the similarity reported to workflows, and a presentation-quality signal.
//!
//! The models are dlib's CC0 files `shape_predictor_5_face_landmarks.dat` and
//! `dlib_face_recognition_resnet_model_v1.dat` from the models folder. dlib's detector and
//! network may not be used from two threads at once, so [`Faces`] keeps a small pool of model
//! sets: each call takes one set for itself and gives it back afterwards.
//!
//! The presentation-quality signal ([`PresentationQuality`]) says whether a picture is fit to
//! compare (one face, large enough, sharp, well exposed). It is **not** liveness detection: a
//! printed photo or a screen held up to the camera passes it.

use std::sync::Mutex;

use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait as _, FaceEncoderNetwork, FaceEncoderTrait as _, FaceLandmarks,
    ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait as _, Rectangle,
};
use image::RgbImage;

use crate::Settings;

/// The landmark model (five points; the 68-point model is not used).
pub const LANDMARKS_MODEL: &str = "shape_predictor_5_face_landmarks.dat";
/// The embedding network.
pub const EMBEDDING_MODEL: &str = "dlib_face_recognition_resnet_model_v1.dat";

/// Images are shrunk to at most this many pixels before the first detection pass.
const DETECT_PIXELS: f64 = 1_000_000.0;
/// When the first pass finds nothing, the second pass looks at the image enlarged up to this
/// many pixels (and at most [`MAX_UPSCALE`] times), to find small faces such as a document's
/// portrait.
const DETECT_PIXELS_SMALL_FACES: f64 = 4_000_000.0;
/// The largest enlargement of the second detection pass.
const MAX_UPSCALE: f64 = 2.0;
/// The face box size (pixels) at which landmarks and embeddings are computed; larger faces are
/// shrunk to it first (dlib's network looks at a 150-pixel chip).
const DESCRIBE_FACE_SIZE: f64 = 300.0;
/// At most this many faces of one image are described (landmarks and embedding).
pub const MAX_FACES: usize = 10;

/// The usual dlib threshold: two embeddings closer than this are the same person.
pub const SAME_PERSON_DISTANCE: f64 = 0.6;

/// A face found in an image: its box in pixels of that image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl FaceBox {
    /// The box's centre, in pixels.
    pub fn center(&self) -> (f64, f64) {
        (
            self.x as f64 + self.width as f64 / 2.0,
            self.y as f64 + self.height as f64 / 2.0,
        )
    }

    fn area(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

/// A point in pixels of the image: `[x, y]`.
pub type Point = [f64; 2];

/// The five landmarks in the Face API's order: left eye, right eye, nose, left and right
/// corners of the mouth ("left" meaning the image's left).
///
/// The eyes (the middle of each eye's two corners) and the nose (the point under it) come from
/// dlib's five-point model. That model has no mouth points: the mouth corners are placed from
/// the eyes and nose with average face proportions (0.35 eye distances below the nose point,
/// 0.4 eye distances either side), so they are estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landmarks {
    pub points: [Point; 5],
}

impl Landmarks {
    /// The face's roll: the angle of the line from the left eye to the right eye against the
    /// horizontal, in degrees (positive when the right eye is lower, the image's y axis pointing
    /// down).
    pub fn roll_degrees(&self) -> f64 {
        let [l, r] = [self.points[0], self.points[1]];
        (r[1] - l[1]).atan2(r[0] - l[0]).to_degrees()
    }

    /// The distance between the eyes, in pixels.
    pub fn eye_distance(&self) -> f64 {
        let [l, r] = [self.points[0], self.points[1]];
        ((r[0] - l[0]).powi(2) + (r[1] - l[1]).powi(2)).sqrt()
    }

    /// From dlib's five points: corners 0–1 of one eye, 2–3 of the other, 4 under the nose.
    fn from_dlib(parts: &[Point; 5]) -> Landmarks {
        let mid = |a: Point, b: Point| [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        let eye_a = mid(parts[0], parts[1]);
        let eye_b = mid(parts[2], parts[3]);
        let (left, right) = if eye_a[0] <= eye_b[0] {
            (eye_a, eye_b)
        } else {
            (eye_b, eye_a)
        };
        let nose = parts[4];
        let (dx, dy) = (right[0] - left[0], right[1] - left[1]);
        let d = (dx * dx + dy * dy).sqrt().max(1.0);
        // u along the eyes (left to right), v perpendicular, pointing down the face.
        let u = [dx / d, dy / d];
        let v = [-u[1], u[0]];
        let mouth = [nose[0] + v[0] * 0.35 * d, nose[1] + v[1] * 0.35 * d];
        let mouth_left = [mouth[0] - u[0] * 0.4 * d, mouth[1] - u[1] * 0.4 * d];
        let mouth_right = [mouth[0] + u[0] * 0.4 * d, mouth[1] + u[1] * 0.4 * d];
        Landmarks {
            points: [left, right, nose, mouth_left, mouth_right],
        }
    }
}

/// A face's embedding: 128 numbers from dlib's network. Two embeddings of the same person are
/// close ([`distance`] below [`SAME_PERSON_DISTANCE`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(pub Vec<f64>);

impl Embedding {
    /// The Euclidean distance to `other`.
    pub fn distance(&self, other: &Embedding) -> f64 {
        distance(self, other)
    }
}

/// The Euclidean distance between two embeddings: 0 for the same picture, below 0.6 for the
/// same person, usually above 0.6 for two people.
pub fn distance(a: &Embedding, b: &Embedding) -> f64 {
    a.0.iter()
        .zip(&b.0)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The similarity reported for an embedding distance `d`, in [0, 1], piecewise linear:
///
/// - `d ≤ 0.6`: `1 − d / 3` (1 at `d = 0`, 0.8 at the usual same-person threshold `d = 0.6`);
/// - `0.6 < d < 1.0`: `2 − 2d` (from 0.8 down to 0);
/// - `d ≥ 1.0`: 0.
///
/// It decreases as the distance grows, and "similarity ≥ 0.8" (the rule of Regula's General
/// KYC workflow) means exactly "distance ≤ 0.6".
pub fn similarity(d: f64) -> f64 {
    if !d.is_finite() {
        return 0.0;
    }
    let d = d.max(0.0);
    if d <= SAME_PERSON_DISTANCE {
        1.0 - d / 3.0
    } else if d < 1.0 {
        2.0 - 2.0 * d
    } else {
        0.0
    }
}

/// A face with its landmarks and embedding.
#[derive(Debug, Clone)]
pub struct Face {
    pub bbox: FaceBox,
    pub landmarks: Landmarks,
    pub embedding: Embedding,
}

/// One set of dlib models; used by one thread at a time.
#[derive(Clone)]
struct Models {
    detector: FaceDetector,
    landmarks: LandmarkPredictor,
    encoder: FaceEncoderNetwork,
}

/// The face models, shared by every request: a pool of model sets, one per call in progress.
pub struct Faces {
    /// Sets not in use.
    idle: Mutex<Vec<Models>>,
    /// The set new ones are copied from when every set is in use.
    original: Mutex<Models>,
    /// Sets kept in the pool once returned (more are dropped).
    keep: usize,
}

impl Faces {
    /// Loads the landmark model and the embedding network from the models folder.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let open_error = |name: &str, e: String| {
            anyhow::anyhow!(
                "{e}: the face model {name} is missing or unreadable in {}; scripts/install_checks.sh installs it",
                settings.models.display()
            )
        };
        let landmarks = LandmarkPredictor::open(settings.model(LANDMARKS_MODEL))
            .map_err(|e| open_error(LANDMARKS_MODEL, e))?;
        let encoder = FaceEncoderNetwork::open(settings.model(EMBEDDING_MODEL))
            .map_err(|e| open_error(EMBEDDING_MODEL, e))?;
        let models = Models {
            detector: FaceDetector::new(),
            landmarks,
            encoder,
        };
        Ok(Faces {
            idle: Mutex::new(vec![models.clone()]),
            original: Mutex::new(models),
            keep: settings.workers.max(1) + 1,
        })
    }

    /// Runs `f` with a model set of its own.
    fn with_models<R>(&self, f: impl FnOnce(&Models) -> R) -> R {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let models = taken.unwrap_or_else(|| {
            self.original
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        });
        let out = f(&models);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push(models);
        }
        out
    }

    /// The faces in `image`, largest first.
    ///
    /// The image is shrunk to about a million pixels and searched (dlib's HOG detector finds
    /// faces from about 80 pixels up); when nothing is found it is searched again enlarged (up
    /// to twice its size and four million pixels), which finds faces down to about 40 pixels,
    /// such as the portrait on a photographed document.
    pub fn detect(&self, image: &RgbImage) -> Vec<FaceBox> {
        self.with_models(|m| detect_with(&m.detector, image))
    }

    /// Landmarks and embedding of each face in `boxes` (at most [`MAX_FACES`]), in the same
    /// order.
    pub fn describe(&self, image: &RgbImage, boxes: &[FaceBox]) -> Vec<Face> {
        self.with_models(|m| {
            boxes
                .iter()
                .take(MAX_FACES)
                .map(|b| describe_with(m, image, *b))
                .collect()
        })
    }

    /// [`Faces::detect`] then [`Faces::describe`] with one model set.
    pub fn analyze(&self, image: &RgbImage) -> Vec<Face> {
        self.with_models(|m| {
            detect_with(&m.detector, image)
                .into_iter()
                .take(MAX_FACES)
                .map(|b| describe_with(m, image, b))
                .collect()
        })
    }
}

/// `image` as dlib's matrix (a copy).
fn matrix(image: &RgbImage) -> ImageMatrix {
    let view = image024::ImageBuffer::<image024::Rgb<u8>, &[u8]>::from_raw(
        image.width(),
        image.height(),
        image.as_raw().as_slice(),
    )
    .expect("an RgbImage holds width × height × 3 bytes");
    ImageMatrix::from_image(&view)
}

/// `image` scaled by `scale` (shrunk by area averaging, enlarged bilinearly).
fn scaled(image: &RgbImage, scale: f64) -> RgbImage {
    let w = ((image.width() as f64 * scale).round() as u32).max(1);
    let h = ((image.height() as f64 * scale).round() as u32).max(1);
    if scale < 1.0 {
        image::imageops::thumbnail(image, w, h)
    } else {
        image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle)
    }
}

/// The faces dlib finds in `image` at `scale`, in pixels of `image`.
fn detect_at(detector: &FaceDetector, image: &RgbImage, scale: f64) -> Vec<FaceBox> {
    let found = if (scale - 1.0).abs() < 1e-3 {
        detector.face_locations(&matrix(image))
    } else {
        detector.face_locations(&matrix(&scaled(image, scale)))
    };
    let (iw, ih) = (image.width() as f64, image.height() as f64);
    found
        .iter()
        .filter_map(|r| {
            let x0 = (r.left as f64 / scale).clamp(0.0, iw);
            let y0 = (r.top as f64 / scale).clamp(0.0, ih);
            let x1 = ((r.right + 1) as f64 / scale).clamp(0.0, iw);
            let y1 = ((r.bottom + 1) as f64 / scale).clamp(0.0, ih);
            let b = FaceBox {
                x: x0.round() as u32,
                y: y0.round() as u32,
                width: (x1 - x0).round() as u32,
                height: (y1 - y0).round() as u32,
            };
            (b.width >= 4 && b.height >= 4).then_some(b)
        })
        .collect()
}

fn detect_with(detector: &FaceDetector, image: &RgbImage) -> Vec<FaceBox> {
    let pixels = image.width() as f64 * image.height() as f64;
    if pixels < 16.0 {
        return Vec::new();
    }
    let first = (DETECT_PIXELS / pixels).sqrt().min(1.0);
    let mut faces = detect_at(detector, image, first);
    if faces.is_empty() {
        let second = (DETECT_PIXELS_SMALL_FACES / pixels).sqrt().min(MAX_UPSCALE);
        if second > first * 1.25 {
            faces = detect_at(detector, image, second);
        }
    }
    faces.sort_by_key(|b| std::cmp::Reverse(b.area()));
    faces
}

/// Landmarks and embedding of the face in `b`, computed on a crop around it that is shrunk
/// so that the face is at most [`DESCRIBE_FACE_SIZE`] pixels.
fn describe_with(m: &Models, image: &RgbImage, b: FaceBox) -> Face {
    // A margin of one face size on each side leaves room for dlib's aligned chip.
    let margin = b.width.max(b.height);
    let x0 = b.x.saturating_sub(margin);
    let y0 = b.y.saturating_sub(margin);
    let x1 = (b.x + b.width + margin).min(image.width());
    let y1 = (b.y + b.height + margin).min(image.height());
    let crop = image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
    let scale = (DESCRIBE_FACE_SIZE / b.width.max(b.height).max(1) as f64).min(1.0);
    let crop = if scale < 1.0 {
        scaled(&crop, scale)
    } else {
        crop
    };
    let mat = matrix(&crop);
    let rect = Rectangle {
        left: ((b.x - x0) as f64 * scale).round() as _,
        top: ((b.y - y0) as f64 * scale).round() as _,
        right: (((b.x - x0 + b.width) as f64 * scale).round() as i64 - 1) as _,
        bottom: (((b.y - y0 + b.height) as f64 * scale).round() as i64 - 1) as _,
    };
    let shape: FaceLandmarks = m.landmarks.face_landmarks(&mat, &rect);
    let mut parts = [[0.0; 2]; 5];
    for (i, p) in shape.iter().take(5).enumerate() {
        parts[i] = [
            p.x() as f64 / scale + x0 as f64,
            p.y() as f64 / scale + y0 as f64,
        ];
    }
    let encodings = m.encoder.get_face_encodings(&mat, &[shape], 0);
    let embedding = Embedding(
        encodings
            .first()
            .map(|e| e.as_ref().to_vec())
            .unwrap_or_default(),
    );
    Face {
        bbox: b,
        landmarks: Landmarks::from_dlib(&parts),
        embedding,
    }
}

/// A portrait of `face` cut from `image` and turned so that the eyes are level: `aspect`
/// (width, height) proportions, four eye distances wide, the eyes centred across and 42 % of
/// the height from the top; `size` (width, height) in pixels if given, else the image's own
/// scale but at most 480 pixels wide. Parts outside the image are filled with `pad`.
pub fn aligned_crop(
    image: &RgbImage,
    face: &Face,
    aspect: (u32, u32),
    pad: [u8; 3],
    size: Option<(u32, u32)>,
) -> RgbImage {
    let [l, r] = [face.landmarks.points[0], face.landmarks.points[1]];
    let d = face
        .landmarks
        .eye_distance()
        .max(face.bbox.width as f64 / 2.5)
        .max(2.0);
    let (ux, uy) = ((r[0] - l[0]) / d.max(1e-9), (r[1] - l[1]) / d.max(1e-9));
    let (ux, uy) = if (ux * ux + uy * uy) > 0.25 {
        (ux, uy)
    } else {
        (1.0, 0.0)
    };
    let norm = (ux * ux + uy * uy).sqrt();
    let (ux, uy) = (ux / norm, uy / norm);
    let (vx, vy) = (-uy, ux);
    let centre = [(l[0] + r[0]) / 2.0, (l[1] + r[1]) / 2.0];
    let region_w = 4.0 * d;
    let (out_w, out_h) = match size {
        Some((w, h)) => (w.max(1), h.max(1)),
        None => {
            let w = region_w.min(480.0).round().max(1.0) as u32;
            let h = (w as f64 * aspect.1.max(1) as f64 / aspect.0.max(1) as f64).round() as u32;
            (w, h.max(1))
        }
    };
    let region_h = region_w * out_h as f64 / out_w as f64;
    let (iw, ih) = (image.width() as f64, image.height() as f64);
    RgbImage::from_fn(out_w, out_h, |u, v| {
        let rx = (u as f64 + 0.5) / out_w as f64 * region_w - region_w / 2.0;
        let ry = (v as f64 + 0.5) / out_h as f64 * region_h - 0.42 * region_h;
        let sx = centre[0] + rx * ux + ry * vx - 0.5;
        let sy = centre[1] + rx * uy + ry * vy - 0.5;
        if sx < 0.0 || sy < 0.0 || sx > iw - 1.0 || sy > ih - 1.0 {
            return image::Rgb(pad);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = (
            (x0 + 1).min(image.width() - 1),
            (y0 + 1).min(image.height() - 1),
        );
        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
        let p = |x, y, c: usize| f64::from(image.get_pixel(x, y)[c]);
        image::Rgb(std::array::from_fn(|c| {
            let top = p(x0, y0, c) * (1.0 - fx) + p(x1, y0, c) * fx;
            let bottom = p(x0, y1, c) * (1.0 - fx) + p(x1, y1, c) * fx;
            (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// The presentation-quality thresholds (see `docs/checks.md`, "Face match").
pub mod thresholds {
    /// Exactly this many faces.
    pub const FACE_COUNT: u32 = 1;
    /// The face box's share of the image, on its larger side (face width ÷ image width or face
    /// height ÷ image height, whichever is larger): at least this.
    pub const MIN_FACE_RATIO: f64 = 0.15;
    /// The face box's smaller side, in pixels: at least this.
    pub const MIN_FACE_PIXELS: f64 = 80.0;
    /// The variance of the Laplacian of the face, seen as a 128 × 128 grey picture with its
    /// contrast normalised (standard deviation 50 grey levels): at least this (lower is blurred).
    pub const MIN_SHARPNESS: f64 = 80.0;
    /// The face's mean luminance (0–255): within this range.
    pub const LUMINANCE: (f64, f64) = (60.0, 200.0);
    /// The share of the face's pixels at or below 8 (black) and, separately, at or above 247
    /// (white): at most this.
    pub const MAX_CLIPPED: f64 = 0.10;
}

/// One measured property with the range it must fall in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub value: f64,
    /// The lowest passing value, if any.
    pub min: Option<f64>,
    /// The highest passing value, if any.
    pub max: Option<f64>,
}

impl Measure {
    fn new(value: f64, min: Option<f64>, max: Option<f64>) -> Measure {
        Measure { value, min, max }
    }

    /// Whether the value is within range.
    pub fn passed(&self) -> bool {
        self.value.is_finite()
            && self.min.is_none_or(|m| self.value >= m)
            && self.max.is_none_or(|m| self.value <= m)
    }
}

/// Whether a picture is fit for comparing faces: exactly one face, large enough in the image
/// and in pixels, sharp, and well exposed. Each property is measured on the face (the largest
/// one) and passes or fails against [`thresholds`].
///
/// This is a capture-quality signal, **not liveness detection or anti-spoofing**: a printed
/// photo, a screen or a mask held up to the camera can pass it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationQuality {
    /// The number of faces found (passes at exactly one).
    pub face_count: Measure,
    /// The face's share of the image on its larger side.
    pub face_ratio: Measure,
    /// The face box's smaller side, in pixels.
    pub face_pixels: Measure,
    /// The variance of the Laplacian of the face at 128 × 128.
    pub sharpness: Measure,
    /// The face's mean luminance (0–255).
    pub luminance: Measure,
    /// The share of the face's pixels at or below 8.
    pub dark_clipped: Measure,
    /// The share of the face's pixels at or above 247.
    pub bright_clipped: Measure,
}

impl PresentationQuality {
    /// The properties by their JSON names, in a fixed order.
    pub fn measures(&self) -> [(&'static str, &Measure); 7] {
        [
            ("faceCount", &self.face_count),
            ("faceRatio", &self.face_ratio),
            ("facePixels", &self.face_pixels),
            ("sharpness", &self.sharpness),
            ("luminance", &self.luminance),
            ("darkClipped", &self.dark_clipped),
            ("brightClipped", &self.bright_clipped),
        ]
    }

    /// Whether every property passes.
    pub fn passed(&self) -> bool {
        self.measures().iter().all(|(_, m)| m.passed())
    }

    /// The names of the properties that fail.
    pub fn failed(&self) -> Vec<&'static str> {
        self.measures()
            .iter()
            .filter(|(_, m)| !m.passed())
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Measures [`PresentationQuality`] of `face` (one of the `face_count` faces found in
/// `image`).
pub fn presentation_quality(
    image: &RgbImage,
    face: FaceBox,
    face_count: usize,
) -> PresentationQuality {
    use thresholds::*;
    let ratio = (face.width as f64 / image.width().max(1) as f64)
        .max(face.height as f64 / image.height().max(1) as f64);
    let x = face.x.min(image.width().saturating_sub(1));
    let y = face.y.min(image.height().saturating_sub(1));
    let w = face.width.min(image.width() - x).max(1);
    let h = face.height.min(image.height() - y).max(1);
    let crop = image::imageops::crop_imm(image, x, y, w, h).to_image();
    let grey = image::imageops::grayscale(&crop);
    let norm = image::imageops::resize(&grey, 128, 128, image::imageops::FilterType::Triangle);
    let (mean, dark, bright) = exposure(&grey);
    let count = f64::from(FACE_COUNT);
    PresentationQuality {
        face_count: Measure::new(face_count as f64, Some(count), Some(count)),
        face_ratio: Measure::new(ratio, Some(MIN_FACE_RATIO), None),
        face_pixels: Measure::new(
            face.width.min(face.height) as f64,
            Some(MIN_FACE_PIXELS),
            None,
        ),
        sharpness: Measure::new(laplacian_variance(&norm), Some(MIN_SHARPNESS), None),
        luminance: Measure::new(mean, Some(LUMINANCE.0), Some(LUMINANCE.1)),
        dark_clipped: Measure::new(dark, None, Some(MAX_CLIPPED)),
        bright_clipped: Measure::new(bright, None, Some(MAX_CLIPPED)),
    }
}

/// The variance of the 4-neighbour Laplacian over the picture's inner pixels, after its grey
/// levels are stretched to a standard deviation of [`CONTRAST`] (so that a dark or faint
/// picture is not taken for a blurred one). A flat picture has 0.
pub fn laplacian_variance(grey: &image::GrayImage) -> f64 {
    let (w, h) = grey.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let n = f64::from(w * h);
    let mean = grey.pixels().map(|p| f64::from(p[0])).sum::<f64>() / n;
    let var = grey
        .pixels()
        .map(|p| (f64::from(p[0]) - mean).powi(2))
        .sum::<f64>()
        / n;
    if var < 1.0 {
        return 0.0;
    }
    let k = CONTRAST / var.sqrt();
    let px = |x: u32, y: u32| f64::from(grey.get_pixel(x, y)[0]) * k;
    let (mut sum, mut sum2, mut count) = (0.0, 0.0, 0.0);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let l = px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4.0 * px(x, y);
            sum += l;
            sum2 += l * l;
            count += 1.0;
        }
    }
    let mean = sum / count;
    sum2 / count - mean * mean
}

/// The grey-level standard deviation [`laplacian_variance`] measures at.
pub const CONTRAST: f64 = 50.0;

/// Mean luminance, and the shares of pixels at or below 8 and at or above 247.
fn exposure(grey: &image::GrayImage) -> (f64, f64, f64) {
    let n = grey.pixels().len().max(1) as f64;
    let (mut sum, mut dark, mut bright) = (0.0, 0.0, 0.0);
    for p in grey.pixels() {
        let v = p[0];
        sum += f64::from(v);
        if v <= 8 {
            dark += 1.0;
        }
        if v >= 247 {
            bright += 1.0;
        }
    }
    (sum / n, dark / n, bright / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landmarks_order_eyes_left_to_right_and_put_the_mouth_below_the_nose() {
        // dlib's order: the image-right eye's corners first.
        let l = Landmarks::from_dlib(&[
            [120.0, 50.0],
            [100.0, 50.0],
            [40.0, 50.0],
            [60.0, 50.0],
            [80.0, 80.0],
        ]);
        assert_eq!(l.points[0], [50.0, 50.0]);
        assert_eq!(l.points[1], [110.0, 50.0]);
        assert_eq!(l.points[2], [80.0, 80.0]);
        assert!(l.points[3][1] > 80.0 && l.points[4][1] > 80.0);
        assert!(l.points[3][0] < 80.0 && l.points[4][0] > 80.0);
        assert!(l.roll_degrees().abs() < 1e-9);
        assert!((l.eye_distance() - 60.0).abs() < 1e-9);
    }

    #[test]
    fn laplacian_variance_is_zero_on_flat_and_high_on_a_checkerboard() {
        let flat = image::GrayImage::from_pixel(16, 16, image::Luma([90]));
        assert_eq!(laplacian_variance(&flat), 0.0);
        // Contrast does not count: a faint board measures as the strong one.
        let faint = image::GrayImage::from_fn(16, 16, |x, y| {
            image::Luma([if (x + y) % 2 == 0 { 100 } else { 140 }])
        });
        let strong = image::GrayImage::from_fn(16, 16, |x, y| {
            image::Luma([if (x + y) % 2 == 0 { 0 } else { 255 }])
        });
        assert!((laplacian_variance(&faint) - laplacian_variance(&strong)).abs() < 1e-6);
        let board = image::GrayImage::from_fn(16, 16, |x, y| {
            image::Luma([if (x + y) % 2 == 0 { 0 } else { 255 }])
        });
        assert!(laplacian_variance(&board) > 1000.0);
    }
}
