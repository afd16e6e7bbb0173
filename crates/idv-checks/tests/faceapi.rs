//! The face checks and the Face API routes (`POST /api/match`, `POST /api/detect`), over real
//! HTTP against an engine started in this process with the installed models.

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine as _;
use idv_checks::face::{self, Faces};
use idv_checks::{Engine, Settings};
use image::RgbImage;
use serde_json::{Value, json};

fn models() -> PathBuf {
    std::env::var_os("IDV_CHECKS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(idv_checks::default_models_dir)
}

fn photo(name: &str) -> RgbImage {
    image::open(models().join("faces").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_rgb8()
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64_photo(name: &str) -> String {
    b64(&std::fs::read(models().join("faces").join(name)).unwrap())
}

/// The engine, started once for every test on its own thread and runtime.
fn engine() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let engine =
                    Engine::load(Settings::new(models())).expect("the engine loads its models");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                idv_checks::serve(listener, engine, std::future::pending())
                    .await
                    .unwrap();
            });
        });
        rx.recv().expect("the engine started")
    })
}

/// POSTs `body` (raw text) to `path`; the status and the JSON answer.
async fn post_raw(path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", engine()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON {text:?}: {e}"));
    (status, value)
}

async fn post(path: &str, body: &Value) -> (u16, Value) {
    post_raw(path, body.to_string()).await
}

async fn match_two(first: String, second: String) -> Value {
    let (status, v) = post(
        "/api/match?logRequest=false",
        &json!({"images": [
            {"index": 0, "data": first, "type": 1},
            {"index": 1, "data": second, "type": 3}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn detect(image: String) -> Value {
    let (status, v) = post("/api/detect", &json!({"image": image, "tag": "t1"})).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Two pictures side by side (the second scaled to the first's height), on a grey canvas.
fn side_by_side(a: &RgbImage, b: &RgbImage) -> RgbImage {
    let h = a.height();
    let bw = (b.width() as f64 * h as f64 / b.height() as f64).round() as u32;
    let b = image::imageops::resize(b, bw, h, image::imageops::FilterType::Triangle);
    let mut out = RgbImage::from_pixel(a.width() + bw, h, image::Rgb([128, 128, 128]));
    image::imageops::replace(&mut out, a, 0, 0);
    image::imageops::replace(&mut out, &b, a.width() as i64, 0);
    out
}

/// A document-like picture: a light 1011 × 638 card (ID-1 at 300 dpi) with `face` shrunk to a
/// portrait `portrait_height` pixels tall on its left.
fn document_with(face: &RgbImage, portrait_height: u32) -> RgbImage {
    let mut card = RgbImage::from_pixel(1011, 638, image::Rgb([225, 230, 235]));
    let w = (face.width() as f64 * portrait_height as f64 / face.height() as f64).round() as u32;
    let portrait = image::imageops::resize(
        face,
        w,
        portrait_height,
        image::imageops::FilterType::Lanczos3,
    );
    image::imageops::replace(&mut card, &portrait, 60, 160);
    for x in 400..950 {
        for y in [200, 260, 320, 380] {
            card.put_pixel(x, y, image::Rgb([40, 40, 40]));
        }
    }
    card
}

/// A PNG's first bytes with a header declaring `w` × `h` pixels and no pixel data.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(w.to_be_bytes());
    chunk.extend(h.to_be_bytes());
    chunk.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&chunk);
    png.extend(crc32(&chunk).to_be_bytes());
    // A first data chunk (decoders read up to it for the header) and the end.
    for (kind, data) in [
        (
            &b"IDAT"[..],
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01][..],
        ),
        (&b"IEND"[..], &[][..]),
    ] {
        let mut chunk = kind.to_vec();
        chunk.extend(data);
        png.extend((data.len() as u32).to_be_bytes());
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

fn quality(detection: &Value) -> &Value {
    &detection["presentationQuality"]
}

#[test]
fn similarity_mapping_is_monotonic_with_0_6_at_0_8() {
    assert!((face::similarity(0.0) - 1.0).abs() < 1e-12);
    assert!((face::similarity(0.6) - 0.8).abs() < 1e-12);
    assert_eq!(face::similarity(1.0), 0.0);
    assert_eq!(face::similarity(2.5), 0.0);
    assert_eq!(face::similarity(f64::NAN), 0.0);
    assert!(face::similarity(0.59) > 0.8 && face::similarity(0.61) < 0.8);
    let mut last = face::similarity(0.0);
    for i in 1..=150 {
        let d = i as f64 / 100.0;
        let s = face::similarity(d);
        assert!((0.0..=1.0).contains(&s));
        if d <= 1.0 {
            assert!(s < last, "not decreasing at d = {d}");
        } else {
            assert_eq!(s, 0.0);
        }
        last = s;
    }
}

#[test]
fn a_document_portrait_is_found() {
    let faces = Faces::load(&Settings::new(models())).unwrap();
    let obama = photo("obama.jpg");
    for height in [300, 220, 150] {
        let card = document_with(&obama, height);
        let found = faces.detect(&card);
        println!("portrait {height} px tall: {found:?}");
        assert_eq!(found.len(), 1, "portrait {height} px tall: {found:?}");
        let b = found[0];
        assert!(
            b.x >= 60
                && b.x + b.width <= 60 + height
                && b.y >= 160
                && b.y + b.height <= 160 + height,
            "{b:?}"
        );
    }
    assert!(
        faces
            .detect(&RgbImage::from_pixel(
                1011,
                638,
                image::Rgb([225, 230, 235])
            ))
            .is_empty()
    );
}

#[tokio::test]
async fn the_same_person_matches_and_another_does_not() {
    let same = match_two(b64_photo("obama.jpg"), b64_photo("obama2.jpg")).await;
    let other = match_two(b64_photo("obama.jpg"), b64_photo("biden.jpg")).await;
    for v in [&same, &other] {
        assert_eq!(v["code"], 0, "{v}");
        let detections = v["detections"].as_array().unwrap();
        assert_eq!(detections.len(), 2);
        for (i, d) in detections.iter().enumerate() {
            assert_eq!(d["imageIndex"], i);
            assert_eq!(d["status"], 0);
            let faces = d["faces"].as_array().unwrap();
            assert_eq!(faces.len(), 1, "{d}");
            assert_eq!(faces[0]["faceIndex"], 0);
            assert_eq!(faces[0]["roi"].as_array().unwrap().len(), 4);
            assert_eq!(faces[0]["landmarks"].as_array().unwrap().len(), 5);
            assert!(faces[0]["rotationAngle"].is_number());
            assert!(faces[0].get("crop").is_none());
        }
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{v}");
        let r = &results[0];
        assert_eq!(
            (r["firstIndex"].clone(), r["secondIndex"].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(
            (r["firstFaceIndex"].clone(), r["secondFaceIndex"].clone()),
            (json!(0), json!(0))
        );
        assert_eq!(
            (r["first"].clone(), r["second"].clone()),
            (json!(1), json!(3))
        );
        let score = r["score"].as_f64().unwrap();
        let similarity = r["similarity"].as_f64().unwrap();
        assert!((face::similarity(score) - similarity).abs() < 1e-9);
        assert!(v["elapsedTime"].as_f64().unwrap() > 0.0);
        assert!(v["metadata"].is_object());
    }
    let (d_same, s_same) = (
        same["results"][0]["score"].as_f64().unwrap(),
        same["results"][0]["similarity"].as_f64().unwrap(),
    );
    let (d_other, s_other) = (
        other["results"][0]["score"].as_f64().unwrap(),
        other["results"][0]["similarity"].as_f64().unwrap(),
    );
    println!("obama/obama2: distance {d_same:.3}, similarity {s_same:.3}");
    println!("obama/biden: distance {d_other:.3}, similarity {s_other:.3}");
    assert!(s_same >= 0.8, "{same}");
    assert!(s_other < 0.8, "{other}");
}

#[tokio::test]
async fn a_document_portrait_matches_the_selfie() {
    let card = document_with(&photo("obama.jpg"), 220);
    let v = match_two(b64(&jpeg(&card)), b64_photo("obama2.jpg")).await;
    let r = &v["results"][0];
    println!(
        "document portrait 220 px / obama2: distance {}, similarity {}",
        r["score"], r["similarity"]
    );
    assert!(r["similarity"].as_f64().unwrap() >= 0.8, "{v}");
}

#[tokio::test]
async fn match_returns_aligned_crops_when_asked() {
    let (status, v) = post(
        "/api/match",
        &json!({"images": [{"data": b64_photo("obama.jpg")}, {"data": b64_photo("obama2.jpg")}],
                "outputImageParams": {"crop": {"type": 3, "size": [200, 200]}}}),
    )
    .await;
    assert_eq!(status, 200);
    for d in v["detections"].as_array().unwrap() {
        let crop = d["faces"][0]["crop"].as_str().expect("a crop");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(crop)
            .unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (200, 200));
    }
    // Without indexes and types, indexes count from 0 and no types are echoed.
    let r = &v["results"][0];
    assert_eq!(
        (r["firstIndex"].clone(), r["secondIndex"].clone()),
        (json!(0), json!(1))
    );
    assert!(r.get("first").is_none() && r.get("second").is_none());
}

#[tokio::test]
async fn detect_finds_one_face_that_passes_presentation_quality() {
    let v = detect(b64_photo("obama.jpg")).await;
    assert_eq!(v["code"], 0, "{v}");
    let detections = v["results"]["detections"].as_array().unwrap();
    assert_eq!(detections.len(), 1, "{v}");
    let d = &detections[0];
    assert_eq!(d["roi"].as_array().unwrap().len(), 4);
    let landmarks = d["landmarks"].as_array().unwrap();
    assert_eq!(landmarks.len(), 5);
    assert!(
        landmarks[0][0].as_i64().unwrap() < landmarks[1][0].as_i64().unwrap(),
        "left eye first"
    );
    let q = quality(d);
    assert_eq!(q["passed"], true, "{q}");
    assert_eq!(q["failed"], json!([]));
    for name in [
        "faceCount",
        "faceRatio",
        "facePixels",
        "sharpness",
        "luminance",
        "darkClipped",
        "brightClipped",
    ] {
        assert_eq!(q[name]["passed"], true, "{name}: {q}");
        assert!(q[name]["value"].is_number());
        assert_eq!(q[name]["range"].as_array().unwrap().len(), 2);
    }
    assert!(q["note"].as_str().unwrap().contains("not liveness"));
    assert!(v["results"]["elapsedTime"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn blurred_and_dark_faces_fail_their_quality_checks() {
    let obama = photo("obama.jpg");
    let blurred = image::imageops::blur(&obama, 3.0);
    let v = detect(b64(&jpeg(&blurred))).await;
    let q = quality(&v["results"]["detections"][0]);
    println!("blurred: {q}");
    assert_eq!(q["passed"], false, "{v}");
    assert_eq!(q["sharpness"]["passed"], false);
    assert_eq!(q["luminance"]["passed"], true);
    assert_eq!(q["faceCount"]["passed"], true);
    assert!(
        q["failed"]
            .as_array()
            .unwrap()
            .contains(&json!("sharpness"))
    );

    let mut dark = obama.clone();
    dark.pixels_mut()
        .for_each(|p| p.0 = p.0.map(|c| (f64::from(c) * 0.25) as u8));
    let v = detect(b64(&jpeg(&dark))).await;
    let q = quality(&v["results"]["detections"][0]);
    println!("dark: {q}");
    assert_eq!(q["passed"], false, "{v}");
    assert_eq!(q["luminance"]["passed"], false);
    assert_eq!(q["sharpness"]["passed"], true);
    assert_eq!(q["faceCount"]["passed"], true);

    let mut bright = obama;
    bright
        .pixels_mut()
        .for_each(|p| p.0 = p.0.map(|c| (f64::from(c) * 2.2).min(255.0) as u8));
    let v = detect(b64(&jpeg(&bright))).await;
    let q = quality(&v["results"]["detections"][0]);
    println!("overexposed: {q}");
    assert_eq!(q["passed"], false, "{v}");
    assert_eq!(q["brightClipped"]["passed"], false);
}

#[tokio::test]
async fn two_faces_are_both_listed_and_fail_the_single_face_check() {
    let pair = side_by_side(&photo("obama.jpg"), &photo("biden.jpg"));
    let v = detect(b64(&jpeg(&pair))).await;
    let detections = v["results"]["detections"].as_array().unwrap();
    assert_eq!(detections.len(), 2, "{v}");
    for d in detections {
        let q = quality(d);
        assert_eq!(q["faceCount"]["value"], 2.0);
        assert_eq!(q["faceCount"]["passed"], false);
        assert_eq!(q["passed"], false);
        assert!(
            q["failed"]
                .as_array()
                .unwrap()
                .contains(&json!("faceCount"))
        );
    }
    // Only the central face when asked.
    let (_, v) = post(
        "/api/detect",
        &json!({"image": b64(&jpeg(&pair)), "processParam": {"onlyCentralFace": true}}),
    )
    .await;
    assert_eq!(
        v["results"]["detections"].as_array().unwrap().len(),
        1,
        "{v}"
    );

    // Matching with detectAll compares each face of the pair with the other image's face.
    let (status, v) = post(
        "/api/match",
        &json!({"images": [{"index": 0, "data": b64(&jpeg(&pair)), "detectAll": true}, {"index": 1, "data": b64_photo("obama2.jpg")}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v["detections"][0]["faces"].as_array().unwrap().len(),
        2,
        "{v}"
    );
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{v}");
    let similar: Vec<f64> = results
        .iter()
        .map(|r| r["similarity"].as_f64().unwrap())
        .collect();
    assert_eq!(similar.iter().filter(|s| **s >= 0.8).count(), 1, "{v}");
    // Without it, one face per image and one result.
    let v = match_two(b64(&jpeg(&pair)), b64_photo("obama2.jpg")).await;
    assert_eq!(v["detections"][0]["faces"].as_array().unwrap().len(), 1);
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_images_are_answered_with_their_result_codes() {
    let good = b64_photo("obama2.jpg");
    let blank = b64(&jpeg(&RgbImage::from_pixel(
        400,
        300,
        image::Rgb([200, 200, 200]),
    )));
    let cases = [
        ("not an image", b64(b"just some text, not a picture"), 6),
        ("not base64", "%%%not base64%%%".to_string(), 6),
        ("empty", String::new(), 1),
        ("huge", b64(&png_header(30_000, 30_000)), 6),
        ("no face", blank.clone(), 2),
    ];
    for (what, data, code) in cases {
        let v = match_two(data.clone(), good.clone()).await;
        println!("match, {what}: {}", v["detections"][0]);
        assert_eq!(v["code"], code, "match, {what}: {v}");
        assert_eq!(v["detections"][0]["status"], code, "{what}");
        assert!(v["detections"][0]["msg"].is_string(), "{what}");
        assert_eq!(v["detections"][1]["status"], 0, "{what}");
        assert_eq!(v["results"], json!([]), "{what}");
        assert!(v["msg"].is_string());

        let v = detect(data).await;
        assert_eq!(v["code"], code, "detect, {what}: {v}");
        assert_eq!(v["results"]["detections"], json!([]));
        assert!(v["msg"].is_string());
    }
    let v = match_two(good.clone(), String::new()).await;
    assert_eq!(v["code"], 1);
    let (_, v) = post(
        "/api/match",
        &json!({"images": [{"index": 0}, {"index": 1, "data": good}]}),
    )
    .await;
    assert_eq!(
        v["detections"][0]["status"], 1,
        "a missing data is an empty image: {v}"
    );
    let v = detect(b64(&png_header(30_000, 30_000))).await;
    assert!(
        v["msg"].as_str().unwrap().contains("30000 × 30000"),
        "refused from its header: {v}"
    );

    // The engine still answers.
    let v = match_two(b64_photo("obama.jpg"), b64_photo("obama2.jpg")).await;
    assert_eq!(v["code"], 0);
}

#[tokio::test]
async fn unreadable_requests_are_answered_with_400() {
    let good = b64_photo("obama.jpg");
    let (status, v) = post("/api/match", &json!({"images": [{"data": good}]})).await;
    assert_eq!(status, 400);
    assert_eq!(v["code"], 224, "{v}");
    assert_eq!(v["type"], "FACER_LESS_THAN_TWO_IMAGES_IN_REQUEST");
    assert_eq!(v["statusCode"], 400);
    assert!(v["msg"].is_string());

    let (status, v) = post("/api/match", &json!({})).await;
    assert_eq!((status, v["code"].clone()), (400, json!(224)));

    let (status, v) = post(
        "/api/match",
        &json!({"images": [{"index": 3, "data": good}, {"index": 3, "data": good}]}),
    )
    .await;
    assert_eq!((status, v["code"].clone()), (400, json!(203)), "{v}");

    for path in ["/api/match", "/api/detect"] {
        let (status, v) = post_raw(path, "this is not JSON").await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(v["code"], 203, "{path}: {v}");
        assert_eq!(v["type"], "FACER_COMMAND_PARAMS_READ_ERROR");
        let (status, v) = post_raw(path, r#"{"images": 5, "image": 5}"#).await;
        assert_eq!(
            (status, v["code"].clone()),
            (400, json!(203)),
            "{path}: {v}"
        );
    }

    let too_big = format!(r#"{{"image": "{}"}}"#, "A".repeat(41 * 1024 * 1024));
    let (status, v) = post_raw("/api/detect", too_big).await;
    assert_eq!(status, 413);
    assert_eq!(v["code"], 203, "{v}");

    let v = detect(good).await;
    assert_eq!(v["code"], 0, "the engine still answers");
}
