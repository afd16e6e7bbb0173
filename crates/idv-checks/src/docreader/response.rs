//! The ProcessResponse built from what was read on each page.

use std::io::Cursor;

use base64::Engine as _;
use chrono::{Datelike, NaiveDate};
use idv_mrz::{CheckField, Format, Mrz};
use image::RgbImage;
use serde_json::{Value, json};

use super::countries;
use crate::Engine;
use crate::ocr::{ReadError, Reading};

/// Check results of the contract (`CheckResult`).
const ERROR: u8 = 0;
const OK: u8 = 1;
const NOT_DONE: u8 = 2;

/// Result container types used (`Result` enum of rt.yml).
const RT_VISUAL_GRAPHICS: u8 = 6;
const RT_DOCUMENT_TYPE: u8 = 9;
const RT_RAW_UNCROPPED_IMAGE: u8 = 16;
const RT_STATUS: u8 = 33;
const RT_TEXT: u8 = 36;
const RT_IMAGES: u8 = 37;
const RT_MRZ_POSITION: u8 = 61;

/// The portrait graphic field (GraphicFieldType).
const GF_PORTRAIT: u16 = 201;

/// What was read on one input image.
pub struct Page {
    pub light: i64,
    pub page_idx: i64,
    pub width: u32,
    pub height: u32,
    pub reading: Result<Reading, ReadError>,
    /// The portrait as JPEG and its box (left, top, right, bottom).
    pub portrait: Option<(Vec<u8>, [u32; 4])>,
    /// The input image, kept only when `returnUncroppedImage` asks for it.
    pub original: Option<RgbImage>,
}

impl Page {
    /// Reads the MRZ of `image` and crops the largest face on it; keeps the image itself when
    /// `keep` (for `returnUncroppedImage`).
    pub fn read(
        engine: &Engine,
        image: RgbImage,
        light: i64,
        page_idx: i64,
        today: NaiveDate,
        keep: bool,
    ) -> Page {
        let started = std::time::Instant::now();
        let reading = engine.ocr.read(&image, today);
        let read_ms = started.elapsed().as_millis();
        // The portrait is above the MRZ, on its left: looked for there first (a smaller
        // picture, a faster search), then on the whole image.
        let region = reading
            .as_ref()
            .ok()
            .and_then(|r| portrait_region(&r.position, image.width(), image.height()));
        let in_region = region.and_then(|(x, y, w, h)| {
            // At most PORTRAIT_SEARCH_WIDTH wide: the face stays well above the detector's
            // smallest size, and the search is quicker.
            let part = image::imageops::crop_imm(&image, x, y, w, h).to_image();
            let shrink = (PORTRAIT_SEARCH_WIDTH as f32 / w as f32).min(1.0);
            let part = if shrink < 1.0 {
                image::imageops::resize(
                    &part,
                    PORTRAIT_SEARCH_WIDTH,
                    ((h as f32 * shrink).round() as u32).max(1),
                    image::imageops::FilterType::Triangle,
                )
            } else {
                part
            };
            let grow = |v: u32| (v as f32 / shrink).round() as u32;
            engine
                .faces
                .detect(&part)
                .first()
                .map(|f| crate::face::FaceBox {
                    x: grow(f.x) + x,
                    y: grow(f.y) + y,
                    width: grow(f.width),
                    height: grow(f.height),
                })
        });
        let face = in_region.or_else(|| engine.faces.detect(&image).first().copied());
        let portrait = face.map(|f| crop_portrait(&image, &f));
        tracing::debug!(
            read_ms,
            face_ms = started.elapsed().as_millis() - read_ms,
            mrz = reading.as_ref().is_ok_and(Reading::verified),
            portrait = portrait.is_some(),
            "page read"
        );
        Page {
            light,
            page_idx,
            width: image.width(),
            height: image.height(),
            reading,
            portrait,
            original: keep.then_some(image),
        }
    }
}

/// The width the portrait's region is shrunk to before faces are looked for in it.
const PORTRAIT_SEARCH_WIDTH: u32 = 520;

/// Where the portrait of an ICAO document lies, from its MRZ: above it, over the left half
/// of its width (TD3: 0.55 MRZ widths up; TD1: 0.45), with a margin.
fn portrait_region(
    mrz: &crate::ocr::MrzBox,
    width: u32,
    height: u32,
) -> Option<(u32, u32, u32, u32)> {
    let [lt, rt, _, lb] = mrz.corners;
    let w = ((rt.0 - lt.0).powi(2) + (rt.1 - lt.1).powi(2)).sqrt();
    let left = (lt.0.min(lb.0) - 0.08 * w).max(0.0);
    let right = (lt.0 + 0.6 * w).min(width as f32);
    let top = (lt.1.min(rt.1) - 0.75 * w).max(0.0);
    let bottom = lt.1.max(rt.1).min(height as f32);
    (right - left >= 40.0 && bottom - top >= 40.0).then_some({
        (
            left as u32,
            top as u32,
            (right - left) as u32,
            (bottom - top) as u32,
        )
    })
}

/// The face with a margin (ICAO portrait proportions: head and shoulders), as JPEG.
fn crop_portrait(image: &RgbImage, face: &crate::face::FaceBox) -> (Vec<u8>, [u32; 4]) {
    let (w, h) = image.dimensions();
    let mx = face.width / 2;
    let left = face.x.saturating_sub(mx);
    let top = face.y.saturating_sub(face.height * 6 / 10);
    let right = (face.x + face.width + mx).min(w);
    let bottom = (face.y + face.height + face.height * 6 / 10).min(h);
    let crop = image::imageops::crop_imm(
        image,
        left,
        top,
        (right - left).max(1),
        (bottom - top).max(1),
    )
    .to_image();
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    crop.write_with_encoder(encoder)
        .expect("JPEG encoding to memory");
    (out.into_inner(), [left, top, right, bottom])
}

/// Who asked, for TransactionInfo.
pub struct Meta<'a> {
    pub transaction_id: &'a str,
    pub tag: Option<&'a str>,
    pub pass_back: Option<&'a Value>,
    pub elapsed_ms: u64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A result container: the common ResultItem fields around `body`.
fn container(result_type: u8, page: &Page, list_idx: usize, key: &str, body: Value) -> Value {
    let buf_length = serde_json::to_vec(&body).map_or(0, |v| v.len());
    json!({
        "result_type": result_type,
        "page_idx": page.page_idx,
        "light": page.light,
        "list_idx": list_idx,
        "buf_length": buf_length,
        key: body,
    })
}

/// `yyyy`, `yy`, `MM`, `M`, `dd`, `d` of a Document Reader date format.
fn format_date(d: NaiveDate, pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        match (c, n) {
            ('y', 4) => out.push_str(&format!("{:04}", d.year())),
            ('y', 2) => out.push_str(&format!("{:02}", d.year() % 100)),
            ('M', 2) => out.push_str(&format!("{:02}", d.month())),
            ('M', 1) => out.push_str(&d.month().to_string()),
            ('d', 2) => out.push_str(&format!("{:02}", d.day())),
            ('d', 1) => out.push_str(&d.day().to_string()),
            _ => out.extend(std::iter::repeat_n(c, n)),
        }
        i += n;
    }
    out
}

/// Whether the date pattern is one [`format_date`] writes.
fn usable_pattern(p: &str) -> bool {
    p.contains("yy")
        && p.contains('M')
        && p.contains('d')
        && p.chars().all(|c| "yMd/.- ".contains(c))
}

/// The DocumentType and DocumentFormat of an MRZ's document code and layout.
fn document_type(mrz: &Mrz) -> (u16, i8, &'static str) {
    let code = mrz.document_code.as_str();
    let format = match mrz.format {
        Format::Td1 => 0,
        Format::Td2 | Format::MrvB => 1,
        Format::Td3 | Format::MrvA => 2,
    };
    let (dtype, name) = match (code.chars().next(), code.chars().nth(1)) {
        (Some('V'), _) if mrz.format == Format::MrvB => (29, "Visa"),
        (Some('V'), _) => (30, "Visa"),
        (Some('P'), Some('D')) => (13, "Diplomatic Passport"),
        (Some('P'), Some('S')) => (14, "Service Passport"),
        (Some('P'), _) => (11, "Passport"),
        (Some('I' | 'A' | 'C'), Some('R')) => (215, "Residence Permit"),
        (Some('I' | 'A' | 'C'), _) => (12, "Identity Card"),
        _ => (0, "Document"),
    };
    (dtype, format, name)
}

struct Field {
    field_type: u16,
    name: &'static str,
    value: String,
    original: String,
    validity: u8,
}

fn field(field_type: u16, name: &'static str, value: impl Into<String>, validity: u8) -> Field {
    let value = value.into();
    Field {
        field_type,
        name,
        original: value.clone(),
        value,
        validity,
    }
}

/// Months from `today` to `expiry` (negative once expired).
fn months_left(today: NaiveDate, expiry: NaiveDate) -> i64 {
    let mut months = i64::from(expiry.year() - today.year()) * 12 + i64::from(expiry.month())
        - i64::from(today.month());
    if expiry.day() < today.day() {
        months -= 1;
    }
    months
}

/// The text fields of a reading (source MRZ).
fn text_fields(reading: &Reading, today: NaiveDate, date_format: &str) -> Vec<Field> {
    let mrz = &reading.mrz;
    let check = |f: CheckField| mrz.checks.iter().find(|c| c.field == f);
    // A field's validity: its check digit, only trusted when two passes read the same.
    let validity = |f: CheckField| match check(f) {
        Some(c) if c.valid && reading.confirmed => OK,
        Some(_) => ERROR,
        None => NOT_DONE,
    };
    let code_validity = |code: &str| if countries::is_known(code) { OK } else { ERROR };
    let mut out = vec![
        field(0, "Document Class Code", &mrz.document_code, NOT_DONE),
        field(
            1,
            "Issuing State Code",
            &mrz.issuing_state,
            code_validity(&mrz.issuing_state),
        ),
    ];
    if let Some(name) = countries::name(&mrz.issuing_state) {
        out.push(field(38, "Issuing State Name", name, OK));
    }
    out.push(field(
        2,
        "Document Number",
        &mrz.document_number,
        validity(CheckField::DocumentNumber),
    ));
    if let Some(c) = check(CheckField::DocumentNumber) {
        out.push(field(
            80,
            "Document Number Check Digit",
            c.expected.to_string(),
            validity(CheckField::DocumentNumber),
        ));
    }
    let date = |raw: &str, d: Option<NaiveDate>| -> (String, String) {
        (
            d.map_or_else(|| raw.to_string(), |d| format_date(d, date_format)),
            raw.to_string(),
        )
    };
    let (value, raw) = date(&mrz.expiry_date_raw, mrz.expiry_date);
    out.push(Field {
        original: raw,
        ..field(3, "Date of Expiry", value, validity(CheckField::ExpiryDate))
    });
    if let Some(c) = check(CheckField::ExpiryDate) {
        out.push(field(
            82,
            "Date of Expiry Check Digit",
            c.expected.to_string(),
            validity(CheckField::ExpiryDate),
        ));
    }
    if let Some(expiry) = mrz.expiry_date {
        out.push(field(
            364,
            "Months to expire",
            months_left(today, expiry).to_string(),
            NOT_DONE,
        ));
    }
    let (value, raw) = date(&mrz.birth_date_raw, mrz.birth_date);
    out.push(Field {
        original: raw,
        ..field(5, "Date of Birth", value, validity(CheckField::BirthDate))
    });
    if let Some(c) = check(CheckField::BirthDate) {
        out.push(field(
            81,
            "Date of Birth Check Digit",
            c.expected.to_string(),
            validity(CheckField::BirthDate),
        ));
    }
    if let Some(age) = mrz.age_on(today) {
        out.push(field(185, "Age", age.to_string(), NOT_DONE));
    }
    out.push(field(8, "Surname", &mrz.surname, NOT_DONE));
    out.push(field(9, "Given Names", &mrz.given_names, NOT_DONE));
    let full = [mrz.surname.as_str(), mrz.given_names.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    out.push(field(25, "Surname And Given Names", full, NOT_DONE));
    out.push(field(
        26,
        "Nationality Code",
        &mrz.nationality,
        code_validity(&mrz.nationality),
    ));
    if let Some(name) = countries::name(&mrz.nationality) {
        out.push(field(11, "Nationality", name, OK));
    }
    out.push(field(12, "Sex", mrz.sex.code().to_string(), NOT_DONE));
    match mrz.format {
        Format::Td3 => {
            if !mrz.optional_data.is_empty() {
                out.push(field(
                    7,
                    "Personal Number",
                    &mrz.optional_data,
                    validity(CheckField::OptionalData),
                ));
            }
            if let Some(c) = check(CheckField::OptionalData) {
                out.push(field(
                    83,
                    "Personal Number Check Digit",
                    c.expected.to_string(),
                    validity(CheckField::OptionalData),
                ));
            }
        }
        _ => {
            if !mrz.optional_data.is_empty() {
                out.push(field(36, "Optional Data", &mrz.optional_data, NOT_DONE));
            }
            if !mrz.optional_data_2.is_empty() {
                out.push(field(
                    292,
                    "Line 2 Optional Data",
                    &mrz.optional_data_2,
                    NOT_DONE,
                ));
            }
        }
    }
    if let Some(c) = check(CheckField::Composite) {
        out.push(field(
            84,
            "Final Check Digit",
            c.expected.to_string(),
            validity(CheckField::Composite),
        ));
    }
    let lines = mrz.lines.join("^");
    out.push(Field {
        original: reading.raw_lines.join("^"),
        ..field(
            51,
            "MRZ Strings",
            lines,
            if reading.verified() { OK } else { ERROR },
        )
    });
    out
}

/// Worst first: any 0 gives 0, else any 1 gives 1, else 2.
fn combine(values: impl IntoIterator<Item = u8>) -> u8 {
    let mut any_ok = false;
    for v in values {
        if v == ERROR {
            return ERROR;
        }
        any_ok |= v == OK;
    }
    if any_ok { OK } else { NOT_DONE }
}

fn text_container(
    page: &Page,
    reading: &Reading,
    today: NaiveDate,
    date_format: &str,
) -> (Value, u8) {
    let fields = text_fields(reading, today, date_format);
    let validity = combine(fields.iter().map(|f| f.validity));
    let probability = reading.confidence.clamp(0, 100);
    let list: Vec<Value> = fields
        .iter()
        .map(|f| {
            json!({
                "fieldType": f.field_type,
                "fieldName": f.name,
                "lcid": 0,
                "lcidName": "Latin",
                "status": f.validity,
                "validityStatus": f.validity,
                "comparisonStatus": NOT_DONE,
                "value": f.value,
                "valueList": [{
                    "source": "MRZ",
                    "value": f.value,
                    "originalValue": f.original,
                    "originalValidity": f.validity,
                    "pageIndex": page.page_idx,
                    "probability": probability,
                }],
                "validityList": [{"source": "MRZ", "status": f.validity}],
                "comparisonList": [],
            })
        })
        .collect();
    let text = json!({
        "status": validity,
        "validityStatus": validity,
        "comparisonStatus": NOT_DONE,
        "dateFormat": date_format,
        "fieldList": list,
        "availableSourceList": [{"source": "MRZ", "validityStatus": validity}],
    });
    (text, validity)
}

fn point(p: (f32, f32)) -> Value {
    json!({"x": p.0.round() as i64, "y": p.1.round() as i64})
}

/// Builds the ProcessResponse for the pages read.
pub fn build(pages: &[Page], params: &Value, today: NaiveDate, meta: Meta<'_>) -> Value {
    let date_format = params
        .get("dateFormat")
        .and_then(Value::as_str)
        .filter(|p| usable_pattern(p))
        .unwrap_or("yyyy-MM-dd")
        .to_string();
    let no_graphics = params
        .get("noGraphics")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let uncropped = params
        .get("returnUncroppedImage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let min_age = params
        .get("minimalHolderAge")
        .and_then(Value::as_i64)
        .filter(|&a| a > 0);
    let mut list: Vec<Value> = Vec::new();
    // The page whose MRZ was read: verified first, then any reading.
    let read_page = pages
        .iter()
        .find(|p| p.reading.as_ref().is_ok_and(Reading::verified))
        .or_else(|| pages.iter().find(|p| p.reading.is_ok()));
    let mut mrz_status = NOT_DONE;
    let mut text_status = NOT_DONE;
    let mut expiry_status = NOT_DONE;
    let mut doc_type_status = ERROR;
    let mut age: Option<u32> = None;
    if let Some(page) = read_page {
        let reading = page.reading.as_ref().expect("page with a reading");
        let mrz = &reading.mrz;
        mrz_status = if reading.verified() { OK } else { ERROR };
        let (dtype, dformat, dname) = document_type(mrz);
        doc_type_status = if dtype != 0 && reading.verified() {
            OK
        } else {
            ERROR
        };
        if reading.verified() {
            expiry_status = match mrz.expired_on(today) {
                Some(true) => ERROR,
                Some(false) => OK,
                None => ERROR,
            };
            age = mrz.age_on(today);
        }
        let country = countries::name(&mrz.issuing_state);
        let doc_name = match country {
            Some(c) => format!("{c} - {dname}"),
            None => dname.to_string(),
        };
        list.push(container(
            RT_DOCUMENT_TYPE,
            page,
            0,
            "OneCandidate",
            json!({
                "DocumentName": doc_name,
                "ID": 0,
                "P": if reading.verified() { 1.0 } else { 0.0 },
                "Rotated180": 0,
                "RFID_Presence": 0,
                "FDSIDList": {
                    "ICAOCode": mrz.issuing_state,
                    "Count": 0,
                    "List": [],
                    "dType": dtype,
                    "dFormat": dformat,
                    "dMRZ": true,
                    "dDescription": dname,
                    "dCountryName": country.unwrap_or(""),
                    "dStateCode": mrz.issuing_state,
                    "isDeprecated": false,
                },
                "NecessaryLights": 0,
                "CheckAuthenticity": 0,
                "UVExp": 0,
                "AuthenticityNecessaryLights": 0,
                "OVIExp": 0,
                "RotationAngle": reading.position.angle.round() as i64,
            }),
        ));
        let c = reading.position.corners;
        let (l, t, r, b) = reading.position.bounds();
        list.push(container(
            RT_MRZ_POSITION,
            page,
            0,
            "MrzPosition",
            json!({
                "docFormat": 1000,
                "Angle": reading.position.angle,
                "Width": r - l,
                "Height": b - t,
                "Center": {"x": (l + r) / 2, "y": (t + b) / 2},
                "LeftTop": point(c[0]),
                "RightTop": point(c[1]),
                "RightBottom": point(c[2]),
                "LeftBottom": point(c[3]),
                "Dpi": 0,
            }),
        ));
        let (text, validity) = text_container(page, reading, today, &date_format);
        text_status = validity;
        list.push(container(RT_TEXT, page, 0, "Text", text));
    }
    // The portrait: from the page whose MRZ was read, else the first page with a face.
    let portrait_page = read_page
        .filter(|p| p.portrait.is_some())
        .or_else(|| pages.iter().find(|p| p.portrait.is_some()));
    if let (false, Some(page)) = (no_graphics, portrait_page) {
        let (jpeg, [l, t, r, b]) = page.portrait.as_ref().expect("page with a portrait");
        let value = b64(jpeg);
        let rect = json!({"left": l, "top": t, "right": r, "bottom": b});
        list.push(container(
            RT_VISUAL_GRAPHICS,
            page,
            0,
            "DocGraphicsInfo",
            json!({
                "nFields": 1,
                "pArrayFields": [{
                    "FieldRect": rect,
                    "FieldType": GF_PORTRAIT,
                    "FieldName": "Portrait",
                    "image": {"image": value, "format": ".jpg"},
                }],
            }),
        ));
        list.push(container(
            RT_IMAGES,
            page,
            0,
            "Images",
            json!({
                "fieldCount": 1,
                "availableSourceCount": 1,
                "availableSourceList": [{"containerType": RT_VISUAL_GRAPHICS, "source": "VISUAL"}],
                "fieldList": [{
                    "fieldName": "Portrait",
                    "fieldType": GF_PORTRAIT,
                    "valueCount": 1,
                    "valueList": [{
                        "source": "VISUAL",
                        "value": value,
                        "pageIndex": page.page_idx,
                        "lightIndex": page.light,
                        "containerType": RT_VISUAL_GRAPHICS,
                        "fieldRect": rect,
                    }],
                }],
            }),
        ));
    }
    if uncropped {
        for (i, page) in pages.iter().enumerate() {
            if let Some(img) = &page.original {
                let mut out = Cursor::new(Vec::new());
                let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
                if img.write_with_encoder(encoder).is_ok() {
                    list.push(container(
                        RT_RAW_UNCROPPED_IMAGE,
                        page,
                        i,
                        "RawImageContainer",
                        json!({"image": b64(&out.into_inner()), "format": ".jpg"}),
                    ));
                }
            }
        }
    }
    let age_check = |years: u32| age.map_or(NOT_DONE, |a| if a >= years { OK } else { ERROR });
    let over_threshold = match min_age {
        Some(min) => age.map_or(NOT_DONE, |a| if i64::from(a) >= min { OK } else { ERROR }),
        None => NOT_DONE,
    };
    let optical =
        if mrz_status == OK && expiry_status == OK && text_status != ERROR && doc_type_status == OK
        {
            OK
        } else {
            ERROR
        };
    let overall = if over_threshold == ERROR {
        ERROR
    } else {
        optical
    };
    let status_page = read_page.or_else(|| pages.first());
    if let Some(page) = status_page {
        list.insert(
            0,
            container(
                RT_STATUS,
                page,
                0,
                "Status",
                json!({
                    "overallStatus": overall,
                    "optical": optical,
                    "portrait": NOT_DONE,
                    "rfid": NOT_DONE,
                    "stopList": NOT_DONE,
                    "detailsOptical": {
                        "overallStatus": optical,
                        "docType": doc_type_status,
                        "expiry": expiry_status,
                        "imageQA": NOT_DONE,
                        "mrz": mrz_status,
                        "pagesCount": pages.len(),
                        "security": NOT_DONE,
                        "text": text_status,
                    },
                    "age": over_threshold,
                    "detailsAge": {
                        "threshold": min_age.unwrap_or(0),
                        "overThreshold": over_threshold,
                        "over18": age_check(18),
                        "over21": age_check(21),
                        "over25": age_check(25),
                        "over65": age_check(65),
                    },
                    "mDL": NOT_DONE,
                }),
            ),
        );
    }
    let mut response = json!({
        "ChipPage": 0,
        "CoreLibResultCode": 0,
        "ProcessingFinished": 1,
        "ContainerList": {"Count": list.len(), "List": list},
        "TransactionInfo": {
            "TransactionID": meta.transaction_id,
            "Tag": meta.tag,
            "DateTime": super::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "SystemInfo": "idv-checks",
            "Version": env!("CARGO_PKG_VERSION"),
        },
        "morePagesAvailable": 0,
        "elapsedTime": meta.elapsed_ms,
    });
    if let Some(pass_back) = meta.pass_back {
        response["passBackObject"] = pass_back.clone();
    }
    response
}

/// Removes the base64 images from a stored response (`withImages=false`).
pub fn strip_images(value: &mut Value) {
    if let Some(list) = value
        .pointer_mut("/ContainerList/List")
        .and_then(Value::as_array_mut)
    {
        for item in list {
            if let Some(fields) = item
                .pointer_mut("/Images/fieldList")
                .and_then(Value::as_array_mut)
            {
                for f in fields {
                    if let Some(values) = f.get_mut("valueList").and_then(Value::as_array_mut) {
                        for v in values {
                            if let Some(obj) = v.as_object_mut() {
                                obj.remove("value");
                            }
                        }
                    }
                }
            }
            if let Some(fields) = item
                .pointer_mut("/DocGraphicsInfo/pArrayFields")
                .and_then(Value::as_array_mut)
            {
                for f in fields {
                    if let Some(obj) = f.get_mut("image").and_then(Value::as_object_mut) {
                        obj.remove("image");
                    }
                }
            }
            if let Some(obj) = item
                .get_mut("RawImageContainer")
                .and_then(Value::as_object_mut)
            {
                obj.remove("image");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_pattern() {
        let d = NaiveDate::from_ymd_opt(2031, 7, 9).unwrap();
        assert_eq!(format_date(d, "yyyy-MM-dd"), "2031-07-09");
        assert_eq!(format_date(d, "MM/dd/yyyy"), "07/09/2031");
        assert_eq!(format_date(d, "d.M.yy"), "9.7.31");
        assert!(usable_pattern("MM/dd/yyyy"));
        assert!(!usable_pattern("%Y"));
    }

    #[test]
    fn months_to_expiry() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(
            months_left(today, NaiveDate::from_ymd_opt(2027, 12, 6).unwrap()),
            12
        );
        assert_eq!(
            months_left(today, NaiveDate::from_ymd_opt(2027, 12, 5).unwrap()),
            11
        );
        assert_eq!(
            months_left(today, NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()),
            -3
        );
        assert_eq!(combine([OK, NOT_DONE]), OK);
        assert_eq!(combine([OK, ERROR]), ERROR);
        assert_eq!(combine([NOT_DONE]), NOT_DONE);
    }
}
