//! Synthetic identity documents with a known MRZ, deterministic from a seed, for the tests and
//! benchmarks: a TD3 passport data page or a TD1 identity card drawn at 300 dpi with a light
//! security-print background, printed fields, the portrait in its ICAO place and the MRZ in
//! OCR-B at the ICAO pitch; then degraded (rotation on a table, blur, noise, uneven light, JPEG).

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use chrono::{Datelike, NaiveDate};
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use imageproc::geometric_transformations::{Border, Interpolation, rotate_about_center};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The OCR-B font Debian's `fonts-ocr-b` installs.
pub const OCRB_FONT: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";

/// Pixels per millimetre at 300 dpi.
const PX_PER_MM: f32 = 300.0 / 25.4;

/// The document's size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// Passport data page, 125 × 88 mm, two MRZ lines of 44.
    Td3,
    /// Identity card, 85.6 × 54 mm, three MRZ lines of 30.
    Td1,
}

/// A check digit of the MRZ that [`Spec::tamper`] makes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckDigit {
    DocumentNumber,
    BirthDate,
    ExpiryDate,
    Composite,
}

/// Everything printed on a synthetic document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    pub kind: Kind,
    /// `P` for a passport, `ID`, `I`, `AC`, `IR`… for cards.
    pub document_code: String,
    pub issuing_state: String,
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    pub birth_date: NaiveDate,
    /// `M`, `F` or `<`.
    pub sex: char,
    pub expiry_date: NaiveDate,
    /// TD3: the personal number (14 at most); TD1: line 1's optional data (15 at most).
    pub optional_data: String,
    /// TD1 only: line 2's optional data (11 at most).
    pub optional_data_2: String,
    /// A check digit printed wrong on purpose.
    pub tamper: Option<CheckDigit>,
}

const SURNAMES: &[&str] = &[
    "MUSTERMANN",
    "ERIKSSON",
    "DUPONT",
    "ROSSI",
    "GARCIA",
    "NOWAK",
    "SMITH",
    "JANSEN",
    "PETERS",
    "OCONNOR",
    "MARTIN",
    "BERNARD",
    "KOWALSKI",
    "LINDQVIST",
    "ANDERSEN",
    "FISCHER",
    "MOREAU",
    "ESPOSITO",
    "VAN DER BERG",
    "MACDONALD",
    "SCHNEIDER",
    "LEFEBVRE",
    "NIELSEN",
    "KARLSSON",
];
const GIVEN: &[&str] = &[
    "ANNA", "ERIKA", "JOHN", "MARIA", "PETER", "LUCAS", "SOFIA", "EMMA", "OLIVER", "NOAH", "HANNA",
    "JAN", "PAUL", "CLARA", "MATEO", "ELENA", "LEON", "IDA", "OSCAR", "MIA", "JONAS",
];
const STATES: &[&str] = &[
    "UTO", "D", "FRA", "NLD", "ITA", "ESP", "POL", "SWE", "GBR", "CAN",
];

impl Spec {
    fn random(kind: Kind, seed: u64) -> Spec {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_D0C5);
        let pick =
            |rng: &mut StdRng, list: &[&str]| list[rng.random_range(0..list.len())].to_string();
        let state = pick(&mut rng, STATES);
        let nationality = if rng.random_bool(0.85) {
            state.clone()
        } else {
            pick(&mut rng, STATES)
        };
        let mut given = pick(&mut rng, GIVEN);
        if rng.random_bool(0.4) {
            given.push(' ');
            given.push_str(&pick(&mut rng, GIVEN));
        }
        let letters = b"ABCDEFGHJKLMNPRSTUVWXYZ";
        let alnum = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
        let mut number = String::new();
        for i in 0..9 {
            let set: &[u8] = if i < 2 {
                letters
            } else if i < 4 {
                alnum
            } else {
                b"0123456789"
            };
            number.push(set[rng.random_range(0..set.len())] as char);
        }
        let birth = NaiveDate::from_ymd_opt(
            rng.random_range(1950..=2006),
            rng.random_range(1..=12),
            rng.random_range(1..=28),
        )
        .expect("valid date");
        let expiry = NaiveDate::from_ymd_opt(
            rng.random_range(2029..=2036),
            rng.random_range(1..=12),
            rng.random_range(1..=28),
        )
        .expect("valid date");
        let sex = match rng.random_range(0..10) {
            0..=4 => 'F',
            5..=8 => 'M',
            _ => '<',
        };
        let digits = |rng: &mut StdRng, n: usize| {
            (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect::<String>()
        };
        let (code, optional_data, optional_data_2) = match kind {
            Kind::Td3 => (
                "P".to_string(),
                if rng.random_bool(0.5) {
                    digits(&mut rng, 10)
                } else {
                    String::new()
                },
                String::new(),
            ),
            Kind::Td1 => (
                ["ID", "I", "IR", "AC"][rng.random_range(0..4)].to_string(),
                if rng.random_bool(0.5) {
                    digits(&mut rng, 8)
                } else {
                    String::new()
                },
                if rng.random_bool(0.3) {
                    digits(&mut rng, 6)
                } else {
                    String::new()
                },
            ),
        };
        Spec {
            kind,
            document_code: code,
            issuing_state: state,
            surname: pick(&mut rng, SURNAMES),
            given_names: given,
            document_number: number,
            nationality,
            birth_date: birth,
            sex,
            expiry_date: expiry,
            optional_data,
            optional_data_2,
            tamper: None,
        }
    }

    /// A passport data page (TD3) with random holder data from `seed`.
    pub fn passport(seed: u64) -> Spec {
        Spec::random(Kind::Td3, seed)
    }

    /// An identity card (TD1) with random holder data from `seed`.
    pub fn id_card(seed: u64) -> Spec {
        Spec::random(Kind::Td1, seed)
    }

    /// The same document, expired on `expiry`.
    pub fn expired_on(mut self, expiry: NaiveDate) -> Spec {
        self.expiry_date = expiry;
        self
    }

    /// The same document with one check digit printed wrong.
    pub fn tampered(mut self, digit: CheckDigit) -> Spec {
        self.tamper = Some(digit);
        self
    }

    /// The MRZ lines, with correct check digits except the one [`Spec::tamper`] names.
    pub fn mrz_lines(&self) -> Vec<String> {
        let field = |s: &str, n: usize| mrz_field(s, n);
        let yymmdd = |d: NaiveDate| format!("{:02}{:02}{:02}", d.year() % 100, d.month(), d.day());
        let bad = |which: CheckDigit, c: char| -> char {
            if self.tamper == Some(which) {
                let d = c.to_digit(10).unwrap_or(0);
                char::from_digit((d + 1) % 10, 10).expect("digit")
            } else {
                c
            }
        };
        let names = format!(
            "{}<<{}",
            mrz_text(&self.surname),
            mrz_text(&self.given_names)
        );
        let number = field(&self.document_number, 9);
        let number_cd = bad(CheckDigit::DocumentNumber, check_digit(&number));
        let birth = yymmdd(self.birth_date);
        let birth_cd = bad(CheckDigit::BirthDate, check_digit(&birth));
        let expiry = yymmdd(self.expiry_date);
        let expiry_cd = bad(CheckDigit::ExpiryDate, check_digit(&expiry));
        let sex = self.sex.to_string();
        match self.kind {
            Kind::Td3 => {
                let line1 = field(
                    &format!(
                        "{}<{}{}",
                        field(&self.document_code, 1),
                        field(&self.issuing_state, 3),
                        names
                    ),
                    44,
                );
                let optional = field(&self.optional_data, 14);
                let optional_cd = if optional.chars().all(|c| c == '<') {
                    '<'
                } else {
                    check_digit(&optional)
                };
                let mut line2 = format!(
                    "{number}{number_cd}{}{birth}{birth_cd}{sex}{expiry}{expiry_cd}{optional}{optional_cd}",
                    field(&self.nationality, 3)
                );
                let composite: String = line2[0..10].to_string() + &line2[13..20] + &line2[21..43];
                line2.push(bad(CheckDigit::Composite, check_digit(&composite)));
                vec![line1, line2]
            }
            Kind::Td1 => {
                let line1 = format!(
                    "{}{}{number}{number_cd}{}",
                    field(&self.document_code, 2),
                    field(&self.issuing_state, 3),
                    field(&self.optional_data, 15)
                );
                let mut line2 = format!(
                    "{birth}{birth_cd}{sex}{expiry}{expiry_cd}{}{}",
                    field(&self.nationality, 3),
                    field(&self.optional_data_2, 11)
                );
                let composite: String =
                    line1[5..30].to_string() + &line2[0..7] + &line2[8..15] + &line2[18..29];
                line2.push(bad(CheckDigit::Composite, check_digit(&composite)));
                vec![line1, line2, field(&names, 30)]
            }
        }
    }
}

/// Text as the MRZ writes it: upper case, spaces and hyphens as `<`, other signs dropped.
fn mrz_text(s: &str) -> String {
    s.to_uppercase()
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' | '0'..='9' | '<' => Some(c),
            ' ' | '-' => Some('<'),
            _ => None,
        })
        .collect()
}

/// `s` in MRZ characters, cut or padded with `<` to `n`.
fn mrz_field(s: &str, n: usize) -> String {
    let mut out: String = mrz_text(s).chars().take(n).collect();
    while out.len() < n {
        out.push('<');
    }
    out
}

/// The ICAO 9303 check digit of an MRZ field (every character is an MRZ character here).
fn check_digit(s: &str) -> char {
    idv_mrz::check_digit(s).expect("MRZ characters only")
}

/// The OCR-B font, loaded once.
fn font() -> &'static FontVec {
    static FONT: OnceLock<FontVec> = OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = std::fs::read(OCRB_FONT).unwrap_or_else(|e| {
            panic!("{OCRB_FONT}: {e} (install the fonts-ocr-b package: scripts/install_checks.sh)")
        });
        FontVec::try_from_vec(bytes).expect("OCR-B is a valid OpenType font")
    })
}

/// The font scale whose capitals are `cap_px` pixels tall.
fn scale_for_cap(cap_px: f32) -> PxScale {
    let f = font();
    let probe = PxScale::from(100.0);
    let glyph = f.glyph_id('H').with_scale(probe);
    let height = f
        .outline_glyph(glyph)
        .map_or(70.0, |g| g.px_bounds().height());
    PxScale::from(100.0 * cap_px / height)
}

/// Draws `text` with its baseline at `y`, each character `pitch` pixels from the last when
/// given, else at the font's own advance.
pub(crate) fn draw_text(
    img: &mut RgbImage,
    text: &str,
    x: f32,
    y: f32,
    cap_px: f32,
    pitch: Option<f32>,
    color: [u8; 3],
) {
    let f = font();
    let scale = scale_for_cap(cap_px);
    let scaled = f.as_scaled(scale);
    let mut pen = x;
    for c in text.chars() {
        let id = f.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, y));
        if let Some(outline) = f.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let px = b.min.x as i64 + i64::from(gx);
                let py = b.min.y as i64 + i64::from(gy);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    let cov = cov.clamp(0.0, 1.0);
                    for (channel, ink) in p.0.iter_mut().zip(color) {
                        *channel = (f32::from(*channel) * (1.0 - cov) + f32::from(ink) * cov) as u8;
                    }
                }
            });
        }
        pen += pitch.unwrap_or_else(|| scaled.h_advance(id));
    }
}

fn mm(v: f32) -> f32 {
    v * PX_PER_MM
}

/// A light guilloche-like background: tinted paper with two families of fine wavy lines
/// crossing each other, and a faint rosette.
fn background(width: u32, height: u32, tint: [f32; 3], seed: u64) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let spacing: f32 = rng.random_range(14.0..22.0);
    let amp: f32 = rng.random_range(6.0..14.0);
    let freq: f32 = rng.random_range(0.008..0.016);
    let (cx, cy) = (
        width as f32 * rng.random_range(0.55..0.85),
        height as f32 * rng.random_range(0.25..0.6),
    );
    let line_ink = [0.93f32, 0.95, 0.92];
    RgbImage::from_fn(width, height, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        // Distance to the nearest line of each family, in pixels.
        let near = |phase: f32| {
            let f = phase.rem_euclid(spacing);
            f.min(spacing - f)
        };
        let a = near(yf + amp * (xf * freq).sin());
        let b = near(yf - amp * (xf * freq * 1.3 + 1.7).sin() + spacing / 2.0);
        let (dx, dy) = (xf - cx, yf - cy);
        let r = (dx * dx + dy * dy).sqrt();
        let rosette = near(r + 10.0 * (6.0 * dy.atan2(dx)).sin()) * 1.5;
        let d = a.min(b).min(rosette);
        // Thin lines (about 1.5 px), a few per cent darker than the paper.
        let shade = if d < 0.75 {
            1.0
        } else if d < 1.5 {
            0.5
        } else {
            0.0
        };
        let mut px = [0u8; 3];
        for ((out, paper), ink) in px.iter_mut().zip(tint).zip(line_ink) {
            *out = (paper * (1.0 - shade * (1.0 - ink))).clamp(0.0, 255.0) as u8;
        }
        Rgb(px)
    })
}

/// Pastes `portrait` scaled to fill the box (centred crop), at `(x, y)`.
fn paste_portrait(img: &mut RgbImage, portrait: &RgbImage, x: u32, y: u32, w: u32, h: u32) {
    let (pw, ph) = portrait.dimensions();
    let (pw, ph) = (pw.max(1) as f32, ph.max(1) as f32);
    let scale = (w as f32 / pw).max(h as f32 / ph);
    let resized = image::imageops::resize(
        portrait,
        (pw * scale).ceil() as u32,
        (ph * scale).ceil() as u32,
        image::imageops::FilterType::Triangle,
    );
    let ox = (resized.width().saturating_sub(w)) / 2;
    let oy = (resized.height().saturating_sub(h)) / 2;
    for j in 0..h {
        for i in 0..w {
            if x + i < img.width()
                && y + j < img.height()
                && ox + i < resized.width()
                && oy + j < resized.height()
            {
                img.put_pixel(x + i, y + j, *resized.get_pixel(ox + i, oy + j));
            }
        }
    }
}

fn visual_date(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    format!(
        "{:02} {} {}",
        d.day(),
        MONTHS[d.month0() as usize],
        d.year()
    )
}

/// Draws the document of `spec` at 300 dpi with `portrait` in the photo box.
pub fn render(spec: &Spec, portrait: &RgbImage) -> RgbImage {
    let (w_mm, h_mm) = match spec.kind {
        Kind::Td3 => (125.0, 88.0),
        Kind::Td1 => (85.6, 54.0),
    };
    let (w, h) = (mm(w_mm).round() as u32, mm(h_mm).round() as u32);
    let seed = spec
        .document_number
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let tint = match seed % 3 {
        0 => [236.0, 240.0, 250.0],
        1 => [246.0, 238.0, 228.0],
        _ => [234.0, 246.0, 236.0],
    };
    let mut img = background(w, h, tint, seed);
    let ink = [30, 30, 40];
    let label = [90, 90, 120];
    let (title, photo, fields_x, text_cap, mrz_top, mrz_x, mrz_pitch) = match spec.kind {
        // Photo box 35 × 45 mm; MRZ zone in the bottom 23 mm.
        Kind::Td3 => (
            "PASSPORT",
            (mm(5.0), mm(14.0), mm(32.0), mm(42.0)),
            mm(42.0),
            mm(2.2),
            mm(72.0),
            mm(6.0),
            mm(4.6),
        ),
        Kind::Td1 => (
            "IDENTITY CARD",
            (mm(3.5), mm(7.5), mm(22.0), mm(28.0)),
            mm(29.0),
            mm(1.8),
            mm(39.0),
            mm(4.7),
            mm(4.3),
        ),
    };
    draw_text(
        &mut img,
        &format!("{title}  {}", spec.issuing_state),
        mm(4.0),
        mm(5.5),
        mm(2.6),
        None,
        [60, 40, 90],
    );
    paste_portrait(
        &mut img,
        portrait,
        photo.0 as u32,
        photo.1 as u32,
        photo.2 as u32,
        photo.3 as u32,
    );
    let rows: Vec<(&str, String)> = vec![
        (
            "Type / Code / No.",
            format!(
                "{}  {}  {}",
                spec.document_code, spec.issuing_state, spec.document_number
            ),
        ),
        ("Surname", spec.surname.clone()),
        ("Given names", spec.given_names.clone()),
        ("Nationality", spec.nationality.clone()),
        (
            "Date of birth / Sex",
            format!("{}   {}", visual_date(spec.birth_date), spec.sex),
        ),
        ("Date of expiry", visual_date(spec.expiry_date)),
    ];
    let row_h = match spec.kind {
        Kind::Td3 => mm(8.5),
        Kind::Td1 => mm(5.0),
    };
    let mut y = photo.1 + text_cap * 0.9;
    for (name, value) in rows {
        draw_text(&mut img, name, fields_x, y, text_cap * 0.55, None, label);
        draw_text(
            &mut img,
            &value,
            fields_x,
            y + text_cap * 1.5,
            text_cap,
            None,
            ink,
        );
        y += row_h;
    }
    // MRZ: OCR-B at 10 characters an inch, capitals 2.3 mm tall.
    let pitch = 25.4 / 10.0 * PX_PER_MM;
    let cap = mm(2.3);
    for (i, line) in spec.mrz_lines().iter().enumerate() {
        let baseline = mrz_top + cap + i as f32 * mrz_pitch;
        draw_text(
            &mut img,
            line,
            mrz_x,
            baseline,
            cap,
            Some(pitch),
            [10, 10, 15],
        );
    }
    img
}

/// A way to make a clean rendering look like a photo of the document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Degradation {
    /// Unchanged.
    None,
    /// Rotated by this many degrees (clockwise), on a larger table-like background.
    Rotate(f32),
    /// Gaussian blur of this sigma, in pixels.
    Blur(f32),
    /// Gaussian noise of this standard deviation, in grey levels.
    Noise(f32),
    /// Light falling off from one corner to the opposite one, down to this fraction (0–1).
    UnevenLight(f32),
    /// Re-encoded as JPEG at this quality.
    Jpeg(u8),
    /// Resized by this factor (a photo taken closer or further away).
    Scale(f32),
    /// Each in turn.
    All(Vec<Degradation>),
}

impl Degradation {
    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            Degradation::None => "clean".into(),
            Degradation::Rotate(a) => format!("rotate{a:+.1}"),
            Degradation::Blur(s) => format!("blur{s:.1}"),
            Degradation::Noise(s) => format!("noise{s:.0}"),
            Degradation::UnevenLight(f) => format!("light{f:.2}"),
            Degradation::Jpeg(q) => format!("jpeg{q}"),
            Degradation::Scale(f) => format!("scale{f:.2}"),
            Degradation::All(list) => list
                .iter()
                .map(Degradation::name)
                .collect::<Vec<_>>()
                .join("+"),
        }
    }

    /// The set the accuracy test and the benchmark use, for document `i` of a series.
    pub fn for_index(i: usize) -> Degradation {
        let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        match i % 7 {
            0 => Degradation::None,
            1 => Degradation::Rotate(sign * (1.0 + (i % 5) as f32)),
            2 => Degradation::Blur(1.2),
            3 => Degradation::Noise(12.0),
            4 => Degradation::UnevenLight(0.55),
            5 => Degradation::Jpeg(35),
            _ => Degradation::All(vec![
                Degradation::Rotate(sign * 2.5),
                Degradation::UnevenLight(0.7),
                Degradation::Blur(0.8),
                Degradation::Noise(6.0),
                Degradation::Jpeg(50),
            ]),
        }
    }
}

/// `img` degraded as `how` says; random parts (noise, background) follow `seed`.
pub fn degrade(img: &RgbImage, how: &Degradation, seed: u64) -> RgbImage {
    match how {
        Degradation::None => img.clone(),
        Degradation::Rotate(deg) => on_table(img, *deg, seed),
        Degradation::Blur(sigma) => imageproc::filter::gaussian_blur_f32(img, sigma.max(0.1)),
        Degradation::Noise(sd) => imageproc::noise::gaussian_noise(img, 0.0, f64::from(*sd), seed),
        Degradation::UnevenLight(low) => {
            let (w, h) = img.dimensions();
            let diag = ((w * w + h * h) as f32).sqrt();
            let flip = seed.is_multiple_of(2);
            let mut out = img.clone();
            for (x, y, p) in out.enumerate_pixels_mut() {
                let xf = if flip { x as f32 } else { (w - x) as f32 };
                let t = ((xf * xf + (y * y) as f32).sqrt() / diag).clamp(0.0, 1.0);
                let factor = 1.0 - (1.0 - low) * t;
                for c in p.0.iter_mut() {
                    *c = (f32::from(*c) * factor) as u8;
                }
            }
            out
        }
        Degradation::Jpeg(q) => {
            let bytes = to_jpeg(img, *q);
            image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)
                .expect("own JPEG decodes")
                .into_rgb8()
        }
        Degradation::Scale(f) => {
            let (w, h) = img.dimensions();
            let size = |v: u32| ((v as f32 * f.max(0.01)).round() as u32).max(1);
            image::imageops::resize(img, size(w), size(h), image::imageops::FilterType::Triangle)
        }
        Degradation::All(list) => {
            let mut out = img.clone();
            for (k, d) in list.iter().enumerate() {
                out = degrade(&out, d, seed.wrapping_add(k as u64));
            }
            out
        }
    }
}

/// `img` rotated by `deg` degrees on a larger, darker, textured background.
fn on_table(img: &RgbImage, deg: f32, seed: u64) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cw, ch) = (w + w / 4, h + h * 2 / 5);
    let mut canvas = RgbaImage::new(cw, ch);
    let (ox, oy) = ((cw - w) / 2, (ch - h) / 2);
    for (x, y, p) in img.enumerate_pixels() {
        canvas.put_pixel(ox + x, oy + y, Rgba([p[0], p[1], p[2], 255]));
    }
    let rotated = rotate_about_center(
        &canvas,
        deg.to_radians(),
        Interpolation::Bilinear,
        Border::Constant(Rgba([0, 0, 0, 0])),
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let base = [
        rng.random_range(90..140) as f32,
        rng.random_range(70..110) as f32,
        rng.random_range(50..80) as f32,
    ];
    let table = RgbImage::from_fn(cw, ch, |x, y| {
        let grain = (y as f32 * 0.05 + (x as f32 * 0.003).sin() * 6.0).sin() * 12.0;
        Rgb([
            (base[0] + grain).clamp(0.0, 255.0) as u8,
            (base[1] + grain).clamp(0.0, 255.0) as u8,
            (base[2] + grain * 0.6).clamp(0.0, 255.0) as u8,
        ])
    });
    RgbImage::from_fn(cw, ch, |x, y| {
        let d = rotated.get_pixel(x, y);
        let t = table.get_pixel(x, y);
        let a = f32::from(d[3]) / 255.0;
        let mix = |k: usize| (f32::from(d[k]) * a + f32::from(t[k]) * (1.0 - a)) as u8;
        Rgb([mix(0), mix(1), mix(2)])
    })
}

/// `img` as JPEG bytes at `quality` (1–100).
pub fn to_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    img.write_with_encoder(encoder)
        .expect("JPEG encoding to memory");
    out.into_inner()
}

/// One document of a generated set, as `expected.json` lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub file: String,
    pub spec: Spec,
    pub degradation: Degradation,
    pub mrz: Vec<String>,
}

/// The `i`-th document of a set: TD3 and TD1 in turn, degraded as [`Degradation::for_index`].
pub fn sample(i: usize, portrait: &RgbImage) -> (Sample, RgbImage) {
    let seed = i as u64 * 7919 + 17;
    let spec = if i.is_multiple_of(2) {
        Spec::passport(seed)
    } else {
        Spec::id_card(seed)
    };
    let degradation = Degradation::for_index(i / 2 + i % 2 * 3);
    let img = degrade(&render(&spec, portrait), &degradation, seed);
    let sample = Sample {
        file: format!("doc{i:04}.jpg"),
        mrz: spec.mrz_lines(),
        spec,
        degradation,
    };
    (sample, img)
}

/// Writes `count` documents into `dir` as JPEG (quality 90), or PNG when `png`, and
/// `expected.json` listing them.
pub fn write_set(
    dir: &Path,
    count: usize,
    portrait: &RgbImage,
    png: bool,
) -> anyhow::Result<Vec<Sample>> {
    std::fs::create_dir_all(dir)?;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let (mut sample, img) = sample(i, portrait);
        if png {
            sample.file = sample.file.replace(".jpg", ".png");
            img.save_with_format(dir.join(&sample.file), ImageFormat::Png)?;
        } else {
            std::fs::write(dir.join(&sample.file), to_jpeg(&img, 90))?;
        }
        samples.push(sample);
    }
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_vec_pretty(&samples)?,
    )?;
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_icao_examples() {
        // ICAO 9303 part 4 specimen: L898902C3, 740812, 120415.
        assert_eq!(check_digit("L898902C3"), '6');
        assert_eq!(check_digit("740812"), '2');
        assert_eq!(check_digit("120415"), '9');
    }

    #[test]
    fn mrz_lines_have_icao_lengths() {
        for seed in 0..20 {
            let p = Spec::passport(seed).mrz_lines();
            assert_eq!(p.len(), 2);
            assert!(p.iter().all(|l| l.len() == 44), "{p:?}");
            let c = Spec::id_card(seed).mrz_lines();
            assert_eq!(c.len(), 3);
            assert!(c.iter().all(|l| l.len() == 30), "{c:?}");
        }
        assert_eq!(Spec::passport(3), Spec::passport(3));
        let spec = Spec::passport(1);
        let good = spec.mrz_lines();
        let bad = spec.tampered(CheckDigit::BirthDate).mrz_lines();
        assert_ne!(good[1][19..20], bad[1][19..20]);
        assert_eq!(good[1][..19], bad[1][..19]);
    }
}
