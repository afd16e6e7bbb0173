//! Finding and reading the MRZ in a photo of a document.
//!
//! 1. A grey copy at most [`ANALYSIS_SIDE`] pixels a side is binarised against its local mean.
//! 2. Skew: the angle (±[`MAX_SKEW`]°) whose row profile of dark pixels has the largest
//!    variance, i.e. puts text lines flattest.
//! 3. The MRZ: rows of the straightened copy where dark pixels run densely across a long span
//!    form bands; the bands of similar length and left edge, stacked at text-line spacing,
//!    make groups; the group of 2 or 3 bands with the most text is the MRZ (the lowest wins
//!    ties).
//! 4. The MRZ strip is resampled from the full-resolution image, straightened and scaled so
//!    that characters are about [`CAP_PX`] pixels tall, binarised, and read by Tesseract
//!    (legacy engine, MRZ alphabet only); `idv_mrz::read_ocr` corrects lookalikes by field.
//! 5. A second recogniser, template matching against OCR-B glyphs cell by cell on the same
//!    strip, reads it too. A reading is confirmed when both agree (see `merge_lines`), every
//!    check digit passes, both dates exist and the state codes are real. Check digits alone are
//!    not enough: some misreads keep them passing (`S`/`8`, `B`/`1` weigh the same modulo 10,
//!    and names have none), and Tesseract's legacy model reads OCR-B's narrow `W` as `N`.
//! 6. When the reading is not confirmed, other Tesseract passes are tried (another
//!    binarisation, scale and page segmentation); the first confirmed one is kept, else the
//!    reading with the most passing check digits, reported as not confirmed.

use std::sync::Mutex;

use chrono::NaiveDate;
use image::{GrayImage, Luma, RgbImage};
use tesseract::{OcrEngineMode, PageSegMode, Tesseract};

use crate::Settings;
use crate::docreader::countries;

/// The longest side of the copy the MRZ is looked for in.
pub const ANALYSIS_SIDE: u32 = 1000;
/// The largest skew corrected, in degrees.
pub const MAX_SKEW: f32 = 8.0;
/// The character height the MRZ strip is scaled to before OCR, in pixels.
pub const CAP_PX: f32 = 34.0;

const WHITELIST: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// Where the MRZ was found: its corners in the input image (top-left, top-right,
/// bottom-right, bottom-left) and the document's skew.
#[derive(Debug, Clone, PartialEq)]
pub struct MrzBox {
    pub corners: [(f32, f32); 4],
    /// Degrees; positive is clockwise.
    pub angle: f32,
}

impl MrzBox {
    /// The axis-aligned box around the corners: left, top, right, bottom.
    pub fn bounds(&self) -> (i64, i64, i64, i64) {
        let xs = self.corners.map(|c| c.0);
        let ys = self.corners.map(|c| c.1);
        let min = |v: [f32; 4]| v.iter().copied().fold(f32::MAX, f32::min).floor() as i64;
        let max = |v: [f32; 4]| v.iter().copied().fold(f32::MIN, f32::max).ceil() as i64;
        (min(xs), min(ys), max(xs), max(ys))
    }
}

/// A reading of the MRZ.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The MRZ as `idv_mrz` parsed it, its check digits checked.
    pub mrz: idv_mrz::Mrz,
    /// Where it is in the image.
    pub position: MrzBox,
    /// The lines Tesseract returned, before correction.
    pub raw_lines: Vec<String>,
    /// Tesseract's mean confidence (0–100) for the kept pass.
    pub confidence: i32,
    /// Which pass gave the reading (1 = the first).
    pub pass: usize,
    /// Whether Tesseract and the OCR-B template matcher read exactly these lines, every check
    /// digit passing and the state codes real. Only a confirmed reading counts as verified: a
    /// check digit cannot catch every misread (`S`/`8`, `B`/`1` weigh alike, names have none).
    pub confirmed: bool,
    /// What the OCR-B template matcher read (before correction), when it could.
    pub template_lines: Option<Vec<String>>,
}

impl Reading {
    /// Confirmed by two passes, and every check digit passes.
    pub fn verified(&self) -> bool {
        self.confirmed && self.mrz.checks_valid()
    }
}

/// Why no MRZ could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing in the image looks like an MRZ.
    #[error("no MRZ found in the image")]
    NotFound,
    /// Text was found where the MRZ should be but it is not an MRZ of any format.
    #[error("the MRZ could not be read: {0}")]
    Unreadable(idv_mrz::MrzError, Vec<String>),
    /// Tesseract failed.
    #[error("OCR failed: {0}")]
    Ocr(String),
}

/// The MRZ reader: Tesseract instances (not thread-safe, one per worker), reused.
pub struct Ocr {
    datapath: String,
    pool: Mutex<Vec<Tesseract>>,
}

impl Ocr {
    /// Checks that `eng.traineddata` is in the models folder and starts one Tesseract.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let model = settings.model("eng.traineddata");
        if !model.is_file() {
            anyhow::bail!(
                "{} is missing: run scripts/install_checks.sh (or set IDV_CHECKS_MODELS to the folder holding the models)",
                model.display()
            );
        }
        let datapath = settings.models.to_string_lossy().into_owned();
        let first = new_tesseract(&datapath)?;
        Ok(Ocr {
            datapath,
            pool: Mutex::new(vec![first]),
        })
    }

    fn take(&self) -> Result<Tesseract, ReadError> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(t) => Ok(t),
            None => new_tesseract(&self.datapath).map_err(|e| ReadError::Ocr(e.to_string())),
        }
    }

    fn give_back(&self, t: Tesseract) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(t);
    }

    /// Text of a prepared grey or binary strip, one string per line.
    fn recognize(
        &self,
        strip: &GrayImage,
        mode: PageSegMode,
    ) -> Result<(Vec<String>, i32), ReadError> {
        let mut t = self.take()?;
        t.set_page_seg_mode(mode);
        let (w, h) = (strip.width() as i32, strip.height() as i32);
        let t = t
            .set_frame(strip.as_raw(), w, h, 1, w)
            .map_err(|e| ReadError::Ocr(e.to_string()))?
            .set_source_resolution(300);
        let mut t = t.recognize().map_err(|e| ReadError::Ocr(e.to_string()))?;
        let text = t.get_text().map_err(|e| ReadError::Ocr(e.to_string()))?;
        let confidence = t.mean_text_conf();
        self.give_back(t);
        let lines = text
            .lines()
            .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
            .filter(|l| !l.is_empty())
            .collect();
        Ok((lines, confidence))
    }

    /// Finds and reads the MRZ of the document in `image`; dates are resolved against `today`.
    pub fn read(&self, image: &RgbImage, today: NaiveDate) -> Result<Reading, ReadError> {
        let gray = image::imageops::grayscale(image);
        let found = locate(&gray).ok_or(ReadError::NotFound)?;
        let mut readings: Vec<Reading> = Vec::new();
        let mut last_error = None;
        // The template matcher's reading, made on the first pass's binarised strip.
        let mut template: Option<(Vec<String>, Option<idv_mrz::Mrz>)> = None;
        for (pass, how) in PASSES.iter().enumerate() {
            let strip = strip(&gray, &found, how.scale);
            let strip = if how.binarize {
                binarize(&strip)
            } else {
                strip
            };
            let (lines, confidence) = self.recognize(&strip, PageSegMode::PsmSingleBlock)?;
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let parsed = idv_mrz::read_ocr(&refs, today);
            if template.is_none() && how.binarize {
                let length = match &parsed {
                    Ok(m) => m.format.line_length(),
                    Err(_) if found.lines == 3 => 30,
                    Err(_) => 44,
                };
                if let Some(t) = ocrb::read(&strip, found.lines, length) {
                    let t_refs: Vec<&str> = t.iter().map(String::as_str).collect();
                    let mrz = idv_mrz::read_ocr(&t_refs, today).ok();
                    template = Some((t, mrz));
                }
            }
            match parsed {
                Ok(mrz) => {
                    // Both recognisers' lines merged and read again: confirmed when plausible.
                    // The lines as both read them (before any correction), else as
                    // `read_ocr` corrected them (when a line's length was repaired).
                    let merged = template.as_ref().and_then(|t| {
                        agreed_reading(&t.0, &lines, today)
                            .or_else(|| agreed_reading(&t.1.as_ref()?.lines, &mrz.lines, today))
                    });
                    let confirmed = merged.is_some();
                    let reading = Reading {
                        position: found.position(),
                        confirmed,
                        mrz: merged.unwrap_or(mrz),
                        raw_lines: lines,
                        confidence,
                        pass: pass + 1,
                        template_lines: template.as_ref().map(|t| t.0.clone()),
                    };
                    // Tesseract and the template matcher read the same plausible MRZ: kept.
                    if reading.confirmed {
                        return Ok(reading);
                    }
                    readings.push(reading);
                }
                Err(e) => last_error = Some((e, lines)),
            }
        }
        // No two passes agreed: the plausible reading if there is one, else the reading with
        // the most passing check digits; either way not confirmed.
        let score = |r: &Reading| {
            (
                plausible(&r.mrz),
                r.mrz.checks.iter().filter(|c| c.valid).count(),
            )
        };
        let mut best: Option<Reading> = None;
        for r in readings {
            if best.as_ref().is_none_or(|b| score(&r) > score(b)) {
                best = Some(r);
            }
        }
        match (best, last_error) {
            (Some(reading), _) => Ok(reading),
            (None, Some((e, lines))) => Err(ReadError::Unreadable(e, lines)),
            (None, None) => Err(ReadError::NotFound),
        }
    }
}

/// The lines both recognisers support, or `None` where they disagree. Equal characters stay;
/// where one read `O` and the other `0`, `o0` chooses (`Tesseract` or `Template`); a `W` of the
/// template matcher wins over Tesseract's `N`, `H` or `V` (Tesseract's legacy model misreads
/// OCR-B's narrow `W`). Among the characters a check digit covers that happens once at most:
/// such a single swap always changes a check digit (the values differ by 9, 15 or 1, never a
/// multiple of 10 at weights 7, 3, 1), while two could cancel out. In the name line and in the
/// state codes ([`outside_check_digits`]) no check digit is at stake, and every such `W` is the
/// template matcher's.
fn merge_lines(template: &[String], tesseract: &[String], o0: Choice) -> Option<Vec<String>> {
    if template.len() != tesseract.len() {
        return None;
    }
    let mut w_settled = 0;
    let mut out = Vec::with_capacity(template.len());
    for (row, (a, b)) in template.iter().zip(tesseract).enumerate() {
        if a.len() != b.len() {
            return None;
        }
        let mut line = String::with_capacity(a.len());
        for (col, (x, y)) in a.chars().zip(b.chars()).enumerate() {
            let c = match (x, y) {
                _ if x == y => x,
                ('O', '0') | ('0', 'O') => match o0 {
                    Choice::Tesseract => y,
                    Choice::Template => x,
                },
                ('W', 'N' | 'H' | 'V') => {
                    if !outside_check_digits(template.len(), a.len(), row, col) {
                        w_settled += 1;
                    }
                    'W'
                }
                _ => return None,
            };
            line.push(c);
        }
        out.push(line);
    }
    (w_settled <= 1).then_some(out)
}

/// Whether the character at `row`, `col` of an MRZ of `rows` lines of `length` characters is
/// outside every check digit (ICAO Doc 9303): the name line (the last of TD1's three, the first
/// of the two-line formats), the issuing state (columns 3–5 of the first line) and the
/// nationality (columns 16–18 of TD1's second line, 11–13 of the others'). The composite check
/// digit leaves the state codes out too.
fn outside_check_digits(rows: usize, length: usize, row: usize, col: usize) -> bool {
    let name_row = if rows == 3 { 2 } else { 0 };
    let nationality = if rows == 3 && length == 30 {
        15..18
    } else {
        10..13
    };
    row == name_row
        || (row == 0 && (2..5).contains(&col))
        || (row == 1 && nationality.contains(&col))
}

/// Which recogniser's `O` or `0` [`merge_lines`] keeps.
#[derive(Clone, Copy)]
enum Choice {
    Tesseract,
    Template,
}

/// The reading both recognisers support. The `O`/`0` disagreements are settled both ways and
/// each result corrected by field type (`read_ocr`): in digit and letter fields that makes them
/// equal; where they still differ (document number, optional data: letters and digits both
/// allowed) one difference is accepted, with Tesseract's choice, as a wrong choice fails its
/// check digit (`O` and `0` differ by 24), but two could cancel out and are not.
fn agreed_reading(
    template: &[String],
    tesseract: &[String],
    today: NaiveDate,
) -> Option<idv_mrz::Mrz> {
    let read = |lines: Vec<String>| {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        idv_mrz::read_ocr(&refs, today).ok()
    };
    let a = read(merge_lines(template, tesseract, Choice::Tesseract)?)?;
    let b = read(merge_lines(template, tesseract, Choice::Template)?)?;
    let differences: usize = a
        .lines
        .iter()
        .zip(&b.lines)
        .map(|(x, y)| {
            x.chars().zip(y.chars()).filter(|(p, q)| p != q).count() + x.len().abs_diff(y.len())
        })
        .sum::<usize>()
        + a.lines.len().abs_diff(b.lines.len());
    (differences <= 1).then_some(a).filter(plausible)
}

#[cfg(test)]
mod merge_tests {
    use super::{Choice, merge_lines};

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn disagreements_are_settled_only_where_safe() {
        let t = lines(&["AB0W", "1234"]);
        assert_eq!(
            merge_lines(&t, &lines(&["AB0W", "1234"]), Choice::Tesseract),
            Some(t.clone())
        );
        assert_eq!(
            merge_lines(&t, &lines(&["ABOW", "1234"]), Choice::Tesseract),
            Some(lines(&["ABOW", "1234"]))
        );
        assert_eq!(
            merge_lines(&t, &lines(&["ABOW", "1234"]), Choice::Template),
            Some(t.clone())
        );
        assert_eq!(
            merge_lines(&t, &lines(&["AB0N", "1234"]), Choice::Tesseract),
            Some(t.clone())
        );
        assert_eq!(
            merge_lines(
                &lines(&["AA", "WW"]),
                &lines(&["AA", "NN"]),
                Choice::Tesseract
            ),
            None
        );
        assert_eq!(
            merge_lines(&t, &lines(&["AB0W", "1284"]), Choice::Tesseract),
            None
        );
        assert_eq!(merge_lines(&t, &lines(&["AB0W"]), Choice::Tesseract), None);
        // A TD3 MRZ: Ws in the name line and the state codes are all the template's; two in
        // the check-digit fields are one too many.
        let td3 = lines(&[
            "P<SWENOWAK<<WILMA<<<<<<<<<<<<<<<<<<<<<<<<<<<",
            "WW12345670SWE8001014F3001012<<<<<<<<<<<<<<04",
        ]);
        let tess = lines(&[
            "P<SHENOHAK<<NILMA<<<<<<<<<<<<<<<<<<<<<<<<<<<",
            "WN12345670SNE8001014F3001012<<<<<<<<<<<<<<04",
        ]);
        assert_eq!(
            merge_lines(&td3, &tess, Choice::Tesseract),
            Some(td3.clone())
        );
        let tess = lines(&[
            "P<SHENOHAK<<NILMA<<<<<<<<<<<<<<<<<<<<<<<<<<<",
            "NN12345670SWE8001014F3001012<<<<<<<<<<<<<<04",
        ]);
        assert_eq!(merge_lines(&td3, &tess, Choice::Tesseract), None);
    }
}

/// Every check digit passes, both dates exist and the state codes are real ones.
fn plausible(mrz: &idv_mrz::Mrz) -> bool {
    mrz.checks_valid()
        && mrz.dates_valid()
        && countries::is_known(&mrz.issuing_state)
        && countries::is_known(&mrz.nationality)
}

fn new_tesseract(datapath: &str) -> anyhow::Result<Tesseract> {
    let t = Tesseract::new_with_oem(Some(datapath), Some("eng"), OcrEngineMode::TesseractOnly)
        .map_err(|e| {
            anyhow::anyhow!("Tesseract could not start with {datapath}/eng.traineddata: {e}")
        })?;
    let t = t
        .set_variable("tessedit_char_whitelist", WHITELIST)
        .and_then(|t| t.set_variable("debug_file", "/dev/null"))
        .map_err(|e| anyhow::anyhow!("Tesseract refused a setting: {e}"))?;
    Ok(t)
}

struct Pass {
    scale: f32,
    binarize: bool,
}

/// The passes tried in turn until every check digit passes.
const PASSES: [Pass; 3] = [
    Pass {
        scale: 1.0,
        binarize: true,
    },
    Pass {
        scale: 1.0,
        binarize: false,
    },
    Pass {
        scale: 0.8,
        binarize: false,
    },
];

/// The MRZ found in the analysis copy.
#[derive(Debug, Clone)]
struct Found {
    /// Rotation centre, full-resolution pixels.
    center: (f32, f32),
    /// Skew, radians (original = R(angle)·(straight − centre) + centre).
    angle: f32,
    /// The strip in straightened full-resolution coordinates: left, top, right, bottom.
    rect: (f32, f32, f32, f32),
    /// Text line height in full-resolution pixels.
    line_height: f32,
    /// How many MRZ lines.
    lines: usize,
}

impl Found {
    fn to_original(&self, u: f32, v: f32) -> (f32, f32) {
        let (s, c) = self.angle.sin_cos();
        let (du, dv) = (u - self.center.0, v - self.center.1);
        (
            self.center.0 + du * c - dv * s,
            self.center.1 + du * s + dv * c,
        )
    }

    fn position(&self) -> MrzBox {
        let (l, t, r, b) = self.rect;
        MrzBox {
            corners: [
                self.to_original(l, t),
                self.to_original(r, t),
                self.to_original(r, b),
                self.to_original(l, b),
            ],
            angle: self.angle.to_degrees(),
        }
    }
}

/// A grey copy no larger than [`ANALYSIS_SIDE`] and the factor it was shrunk by.
fn analysis_copy(gray: &GrayImage) -> (GrayImage, f32) {
    let (w, h) = gray.dimensions();
    let side = w.max(h);
    if side <= ANALYSIS_SIDE {
        return (gray.clone(), 1.0);
    }
    let s = ANALYSIS_SIDE as f32 / side as f32;
    let small = image::imageops::resize(
        gray,
        ((w as f32 * s).round() as u32).max(1),
        ((h as f32 * s).round() as u32).max(1),
        image::imageops::FilterType::Triangle,
    );
    (small, s)
}

/// Dark pixels (text) of `gray`: darker than their neighbourhood's mean by a margin.
fn dark_mask(gray: &GrayImage) -> GrayImage {
    let radius = (gray.width().max(gray.height()) / 60).max(4);
    imageproc::contrast::adaptive_threshold(gray, radius, 18)
}

/// The skew in radians whose row profile of `points` is sharpest.
fn estimate_skew(points: &[(f32, f32)], center: (f32, f32), height: u32) -> f32 {
    let score = |angle: f32| -> f64 {
        let (s, c) = angle.sin_cos();
        let n = height as usize * 2 + 2;
        let mut hist = vec![0u32; n];
        for &(x, y) in points {
            let v = -(x - center.0) * s + (y - center.1) * c + center.1 + height as f32 / 2.0;
            if v >= 0.0 && (v as usize) < n {
                hist[v as usize] += 1;
            }
        }
        let mean = points.len() as f64 / n as f64;
        hist.iter().map(|&k| (f64::from(k) - mean).powi(2)).sum()
    };
    let mut best = (0.0f32, f64::MIN);
    let mut a = -MAX_SKEW;
    while a <= MAX_SKEW + 1e-3 {
        let sc = score(a.to_radians());
        if sc > best.1 {
            best = (a, sc);
        }
        a += 0.5;
    }
    let coarse = best.0;
    let mut a = coarse - 0.4;
    while a <= coarse + 0.4 + 1e-3 {
        let sc = score(a.to_radians());
        if sc > best.1 {
            best = (a, sc);
        }
        a += 0.1;
    }
    best.0.to_radians()
}

/// A horizontal band of text-like rows in the straightened analysis copy.
#[derive(Debug, Clone, Copy)]
struct Band {
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
    dark: u32,
}

impl Band {
    fn height(&self) -> u32 {
        self.bottom - self.top + 1
    }
    fn len(&self) -> u32 {
        self.right - self.left
    }
}

/// Looks for the MRZ; `None` when nothing looks like one.
fn locate(gray: &GrayImage) -> Option<Found> {
    let (small, s) = analysis_copy(gray);
    let mask = dark_mask(&small);
    let (w, h) = mask.dimensions();
    let points: Vec<(f32, f32)> = mask
        .enumerate_pixels()
        .filter(|(_, _, p)| p[0] == 0)
        .map(|(x, y, _)| (x as f32, y as f32))
        .collect();
    if points.len() < 50 {
        return None;
    }
    let center = (w as f32 / 2.0, h as f32 / 2.0);
    let angle = estimate_skew(&points, center, h);
    // The straightened mask, nearest neighbour.
    let (sn, cs) = angle.sin_cos();
    let straight = GrayImage::from_fn(w, h, |u, v| {
        let (du, dv) = (u as f32 - center.0, v as f32 - center.1);
        let x = center.0 + du * cs - dv * sn;
        let y = center.1 + du * sn + dv * cs;
        if x >= 0.0 && y >= 0.0 && (x as u32) < w && (y as u32) < h {
            *mask.get_pixel(x as u32, y as u32)
        } else {
            Luma([255])
        }
    });
    let bands = find_bands(&straight);
    let group = choose_group(&bands)?;
    let first = group.first()?;
    let last = group.last()?;
    let inv = 1.0 / s;
    let line_h = group.iter().map(|b| b.height() as f32).sum::<f32>() / group.len() as f32 * inv;
    let left = group.iter().map(|b| b.left).min()? as f32 * inv;
    let right = group.iter().map(|b| b.right).max()? as f32 * inv + inv;
    let pad_x = line_h * 1.2;
    let pad_y = line_h * 0.8;
    Some(Found {
        center: (center.0 * inv, center.1 * inv),
        angle,
        rect: (
            left - pad_x,
            first.top as f32 * inv - pad_y,
            right + pad_x,
            (last.bottom + 1) as f32 * inv + pad_y,
        ),
        line_height: line_h,
        lines: group.len(),
    })
}

/// Rows of dense dark runs, grouped into bands.
fn find_bands(mask: &GrayImage) -> Vec<Band> {
    let (w, h) = mask.dimensions();
    let gap = (w / 35).max(3);
    let min_len = w / 5;
    // A column is dark in a row when it is dark there or in the two rows above or below
    // (thin strokes of neighbouring characters then join up).
    let dark = |x: u32, y: u32| {
        (y.saturating_sub(2)..=(y + 2).min(h - 1)).any(|yy| mask.get_pixel(x, yy)[0] == 0)
    };
    // For each row: its longest closed run (left, right, dark pixels in it) if text-like.
    let rows: Vec<Option<(u32, u32, u32)>> = (0..h)
        .map(|y| {
            let mut best: Option<(u32, u32, u32)> = None;
            let mut run: Option<(u32, u32, u32)> = None;
            for x in 0..w {
                if dark(x, y) {
                    run = match run {
                        Some((l, r, d)) if x - r <= gap => Some((l, x, d + 1)),
                        other => {
                            if let Some(done) = other
                                && best.is_none_or(|b| done.1 - done.0 > b.1 - b.0)
                            {
                                best = Some(done);
                            }
                            Some((x, x, 1))
                        }
                    };
                }
            }
            if let Some(done) = run
                && best.is_none_or(|b| done.1 - done.0 > b.1 - b.0)
            {
                best = Some(done);
            }
            best.filter(|&(l, r, d)| {
                r - l >= min_len
                    && d as f32 >= (r - l) as f32 * 0.08
                    && (d as f32) <= (r - l) as f32 * 0.9
            })
        })
        .collect();
    let mut bands: Vec<Band> = Vec::new();
    let mut current: Option<(Band, Vec<u32>, Vec<u32>)> = None;
    let mut misses = 0;
    for (y, row) in rows.iter().enumerate() {
        let y = y as u32;
        match (*row, current.as_mut()) {
            (Some((l, r, d)), Some((band, lefts, rights))) => {
                band.bottom = y;
                band.dark += d;
                lefts.push(l);
                rights.push(r);
                misses = 0;
            }
            (Some((l, r, d)), None) => {
                current = Some((
                    Band {
                        top: y,
                        bottom: y,
                        left: l,
                        right: r,
                        dark: d,
                    },
                    vec![l],
                    vec![r],
                ));
                misses = 0;
            }
            (None, Some(_)) => {
                misses += 1;
                if misses > 3
                    && let Some(done) = current.take()
                {
                    bands.push(finish_band(done));
                }
            }
            (None, None) => {}
        }
    }
    if let Some(done) = current.take() {
        bands.push(finish_band(done));
    }
    bands.retain(|b| b.height() >= 3);
    bands
}

fn finish_band((mut band, mut lefts, mut rights): (Band, Vec<u32>, Vec<u32>)) -> Band {
    lefts.sort_unstable();
    rights.sort_unstable();
    // Robust ends: most rows reach these.
    band.left = lefts[lefts.len() / 4];
    band.right = rights[rights.len() * 3 / 4];
    band
}

/// The MRZ among the bands: 2 or 3 stacked lines alike in length and left edge.
fn choose_group(bands: &[Band]) -> Option<Vec<Band>> {
    let mut groups: Vec<Vec<Band>> = Vec::new();
    for band in bands {
        let joins = groups.last().and_then(|g| g.last()).is_some_and(|prev| {
            let h = prev.height().max(band.height()) as f32;
            let gap = band.top as f32 - prev.bottom as f32;
            let len_ratio = band.len() as f32 / prev.len().max(1) as f32;
            let left_diff = (band.left as f32 - prev.left as f32).abs();
            gap < 2.6 * h
                && (0.7..1.43).contains(&len_ratio)
                && left_diff < 0.12 * prev.len() as f32
        });
        if joins {
            if let Some(g) = groups.last_mut() {
                g.push(*band);
            }
        } else {
            groups.push(vec![*band]);
        }
    }
    groups
        .into_iter()
        .filter(|g| g.len() >= 2)
        .map(|g| {
            if g.len() > 3 {
                g[g.len() - 3..].to_vec()
            } else {
                g
            }
        })
        .enumerate()
        .max_by_key(|(i, g)| (g.iter().map(|b| u64::from(b.dark)).sum::<u64>(), *i))
        .map(|(_, g)| g)
}

/// The MRZ strip, straightened from the full-resolution image and scaled so that characters
/// are about [`CAP_PX`]·`scale` pixels tall (bilinear).
fn strip(gray: &GrayImage, found: &Found, scale: f32) -> GrayImage {
    let k = (CAP_PX * scale / found.line_height.max(1.0)).clamp(0.2, 6.0);
    let (l, t, r, b) = found.rect;
    let out_w = (((r - l) * k).round() as u32).clamp(1, 6000);
    let out_h = (((b - t) * k).round() as u32).clamp(1, 1000);
    let (w, h) = gray.dimensions();
    let sample = |x: f32, y: f32| -> u8 {
        if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
            return 255;
        }
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |x: u32, y: u32| f32::from(gray.get_pixel(x, y)[0]);
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    };
    GrayImage::from_fn(out_w, out_h, |i, j| {
        let (x, y) = found.to_original(l + i as f32 / k, t + j as f32 / k);
        Luma([sample(x, y)])
    })
}

/// Black text on white: darker than the local mean by a margin, with the margin taken from
/// the strip's contrast.
fn binarize(strip: &GrayImage) -> GrayImage {
    let radius = (strip.height() / 2).clamp(8, 60);
    let level = imageproc::contrast::otsu_level(strip) as i32;
    let dark_mean = {
        let (sum, n) = strip
            .pixels()
            .filter(|p| i32::from(p[0]) < level)
            .fold((0i64, 0i64), |(s, n), p| (s + i64::from(p[0]), n + 1));
        if n == 0 { 0 } else { (sum / n) as i32 }
    };
    let delta = ((level - dark_mean) / 3).clamp(6, 40);
    imageproc::contrast::adaptive_threshold(strip, radius, delta)
}

/// Template matching against OCR-B, the MRZ's own typeface: a second recogniser, independent
/// of Tesseract, whose agreement confirms a reading.
mod ocrb {
    use std::sync::OnceLock;

    use image::{GrayImage, Rgb, RgbImage};

    /// Template size: one character cell (pitch × capital height).
    const TW: usize = 20;
    const TH: usize = 28;
    const CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

    struct Templates {
        chars: Vec<char>,
        cells: Vec<Vec<f32>>,
    }

    /// Darkness (0–1) of the box `(x0, y0)–(x1, y1)` of `img` (255 = paper) resampled to
    /// TW × TH, each output pixel the mean of its source area.
    fn resample(img: &GrayImage, x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<f32> {
        let (w, h) = img.dimensions();
        let mut out = vec![0f32; TW * TH];
        let sx = (x1 - x0) / TW as f32;
        let sy = (y1 - y0) / TH as f32;
        for j in 0..TH {
            for i in 0..TW {
                let (ax, ay) = (x0 + i as f32 * sx, y0 + j as f32 * sy);
                let (bx, by) = (ax + sx, ay + sy);
                let mut sum = 0f32;
                let mut n = 0f32;
                let mut y = ay.floor() as i64;
                while (y as f32) < by {
                    let mut x = ax.floor() as i64;
                    while (x as f32) < bx {
                        let v = if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                            f32::from(img.get_pixel(x as u32, y as u32)[0])
                        } else {
                            255.0
                        };
                        sum += 1.0 - v / 255.0;
                        n += 1.0;
                        x += 1;
                    }
                    y += 1;
                }
                out[j * TW + i] = if n > 0.0 { sum / n } else { 0.0 };
            }
        }
        out
    }

    fn templates() -> &'static Templates {
        static T: OnceLock<Templates> = OnceLock::new();
        T.get_or_init(|| {
            let cap = 112.0f32;
            let pitch = cap * (2.54 / 2.3);
            let mut chars = Vec::new();
            let mut cells = Vec::new();
            for c in CHARS.chars() {
                let mut img = RgbImage::from_pixel(
                    (pitch * 3.0) as u32,
                    (cap * 2.0) as u32,
                    Rgb([255, 255, 255]),
                );
                let (x, baseline) = (pitch, cap * 1.5);
                crate::synth::draw_text(
                    &mut img,
                    &c.to_string(),
                    x,
                    baseline,
                    cap,
                    Some(pitch),
                    [0, 0, 0],
                );
                let gray = image::imageops::grayscale(&img);
                // The cell: the character's ink centred in one pitch, capital height tall.
                let (mut left, mut right) = (u32::MAX, 0);
                for (px, _, p) in gray.enumerate_pixels() {
                    if p[0] < 128 {
                        left = left.min(px);
                        right = right.max(px);
                    }
                }
                let centre = (left + right) as f32 / 2.0;
                cells.push(resample(
                    &gray,
                    centre - pitch / 2.0,
                    baseline - cap,
                    centre + pitch / 2.0,
                    baseline,
                ));
                chars.push(c);
            }
            Templates { chars, cells }
        })
    }

    /// The best matching character of a cell, trying small shifts.
    fn classify(cell: &[f32]) -> char {
        let t = templates();
        let distance = |tpl: &[f32], dx: i32, dy: i32| -> f32 {
            let mut d = 0f32;
            for j in 0..TH as i32 {
                let sj = j + dy;
                for i in 0..TW as i32 {
                    let si = i + dx;
                    let v = if si >= 0 && sj >= 0 && (si as usize) < TW && (sj as usize) < TH {
                        cell[sj as usize * TW + si as usize]
                    } else {
                        0.0
                    };
                    let e = v - tpl[j as usize * TW + i as usize];
                    d += e * e;
                }
            }
            d
        };
        // Unshifted first; the closest few are then tried at small shifts.
        let mut order: Vec<(f32, usize)> = t
            .cells
            .iter()
            .enumerate()
            .map(|(k, tpl)| (distance(tpl, 0, 0), k))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut best = (f32::MAX, '<');
        for &(_, k) in order.iter().take(12) {
            for dx in -2i32..=2 {
                for dy in -1i32..=1 {
                    let d = distance(&t.cells[k], dx, dy);
                    if d < best.0 {
                        best = (d, t.chars[k]);
                    }
                }
            }
        }
        // `O` and `0` differ mostly in width (OCR-B's zero is narrower): settled by the width
        // of the ink, nearer to one template's or the other's.
        if matches!(best.1, 'O' | '0') {
            let width = ink_width(cell);
            let of = |c: char| {
                t.chars
                    .iter()
                    .position(|&x| x == c)
                    .map_or(0.0, |k| ink_width(&t.cells[k]))
            };
            let (o, zero) = (of('O'), of('0'));
            best.1 = if (width - o).abs() < (width - zero).abs() {
                'O'
            } else {
                '0'
            };
        }
        best.1
    }

    /// The width, in template columns, of the columns whose darkest pixel is over half dark.
    fn ink_width(cell: &[f32]) -> f32 {
        let dark: Vec<usize> = (0..TW)
            .filter(|&i| (0..TH).any(|j| cell[j * TW + i] > 0.5))
            .collect();
        match (dark.first(), dark.last()) {
            (Some(a), Some(b)) => (b - a + 1) as f32,
            _ => 0.0,
        }
    }

    /// Ink runs of `profile` above `min`: (start, end) pairs, end exclusive.
    fn runs(profile: &[u32], min: u32) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, &v) in profile.iter().enumerate() {
            match (v > min, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((s, profile.len()));
        }
        out
    }

    /// Reads `lines` MRZ lines of `length` characters from a binarised strip.
    pub fn read(strip: &GrayImage, lines: usize, length: usize) -> Option<Vec<String>> {
        let (w, h) = strip.dimensions();
        // Columns dark over most of the height are the document's edge or the table, not
        // text: blanked.
        let mut cleaned = strip.clone();
        for x in 0..w {
            let dark = (0..h).filter(|&y| strip.get_pixel(x, y)[0] < 128).count() as u32;
            if dark * 10 > h * 6 {
                for y in 0..h {
                    cleaned.put_pixel(x, y, image::Luma([255]));
                }
            }
        }
        let strip = &cleaned;
        let ink = |x: u32, y: u32| strip.get_pixel(x, y)[0] < 128;
        let rows: Vec<u32> = (0..h)
            .map(|y| (0..w).filter(|&x| ink(x, y)).count() as u32)
            .collect();
        let mut bands = runs(&rows, w / 40);
        if bands.len() < lines {
            return None;
        }
        // The `lines` bands with the most ink, top to bottom.
        let weight = |b: &(usize, usize)| rows[b.0..b.1].iter().map(|&v| u64::from(v)).sum::<u64>();
        bands.sort_by_key(|b| std::cmp::Reverse(weight(b)));
        bands.truncate(lines);
        bands.sort_by_key(|b| b.0);
        let mut out = Vec::with_capacity(lines);
        for &(top, bottom) in &bands {
            let (top, bottom) = (top as u32, bottom as u32);
            if bottom - top < 6 {
                return None;
            }
            let cols: Vec<u32> = (0..w)
                .map(|x| (top..bottom).filter(|&y| ink(x, y)).count() as u32)
                .collect();
            // Character blobs: at least a quarter of the line's height somewhere (specks and
            // stray marks at the ends are not characters).
            let tall = (bottom - top) / 4;
            let blobs: Vec<(usize, usize)> = runs(&cols, 0)
                .into_iter()
                .filter(|&(a, b)| {
                    b - a >= 2 && cols[a..b].iter().copied().max().unwrap_or(0) >= tall
                })
                .collect();
            // Drop marks at either end that stand apart from the run of characters, or are
            // much wider than a character.
            let mut widths: Vec<usize> = blobs.iter().map(|b| b.1 - b.0).collect();
            widths.sort_unstable();
            let max_w = widths.get(widths.len() / 2).copied().unwrap_or(0) * 2 + 2;
            let mut blobs: Vec<(usize, usize)> =
                blobs.into_iter().filter(|b| b.1 - b.0 <= max_w).collect();
            let centre = |b: &(usize, usize)| (b.0 + b.1) as f32 / 2.0;
            let mut gaps: Vec<f32> = blobs
                .windows(2)
                .map(|p| centre(&p[1]) - centre(&p[0]))
                .collect();
            gaps.sort_by(f32::total_cmp);
            let gap = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
            while blobs.len() > 2 && centre(&blobs[1]) - centre(&blobs[0]) > 2.5 * gap {
                blobs.remove(0);
            }
            while blobs.len() > 2
                && centre(&blobs[blobs.len() - 1]) - centre(&blobs[blobs.len() - 2]) > 2.5 * gap
            {
                blobs.pop();
            }
            let (first, last) = (*blobs.first()?, *blobs.last()?);
            let c0 = (first.0 + first.1) as f32 / 2.0;
            let c1 = (last.0 + last.1) as f32 / 2.0;
            let pitch = (c1 - c0) / (length - 1) as f32;
            if pitch < 4.0 {
                return None;
            }
            let mut line = String::with_capacity(length);
            for i in 0..length {
                let c = c0 + i as f32 * pitch;
                let cell = resample(
                    strip,
                    c - pitch / 2.0,
                    top as f32,
                    c + pitch / 2.0,
                    bottom as f32,
                );
                line.push(classify(&cell));
            }
            out.push(line);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_of_a_tilted_line_is_found() {
        let angle = 3.0f32.to_radians();
        let points: Vec<(f32, f32)> = (0..400)
            .map(|x| {
                let x = x as f32;
                (x, 100.0 + (x - 200.0) * angle.tan())
            })
            .collect();
        let found = estimate_skew(&points, (200.0, 100.0), 200).to_degrees();
        assert!((found - 3.0).abs() < 0.3, "{found}");
    }
}
