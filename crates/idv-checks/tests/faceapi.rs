//! The face checks: detection, embeddings and the Face API routes over real HTTP.

use std::path::PathBuf;
use std::time::Instant;

use idv_checks::Settings;
use idv_checks::face::{self, Faces};

fn models() -> PathBuf {
    std::env::var_os("IDV_CHECKS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(idv_checks::default_models_dir)
}

fn photo(name: &str) -> image::RgbImage {
    image::open(models().join("faces").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_rgb8()
}

#[test]
fn detect_timing_probe() {
    let faces = Faces::load(&Settings::new(models())).unwrap();
    for name in ["obama.jpg", "obama2.jpg", "biden.jpg"] {
        let img = photo(name);
        let t = Instant::now();
        let boxes = faces.detect(&img);
        let dt = t.elapsed();
        let t = Instant::now();
        let described = faces.describe(&img, &boxes);
        println!(
            "{name} {}x{} {boxes:?} detect {dt:?} describe {:?} {:?}",
            img.width(),
            img.height(),
            t.elapsed(),
            described.first().map(|f| f.landmarks)
        );
        let q = face::presentation_quality(&img, boxes[0], boxes.len());
        println!("{q:?}");
    }
}
