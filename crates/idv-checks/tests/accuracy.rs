//! MRZ reading accuracy on a synthetic set: TD3 passports and TD1 cards in OCR-B with a real
//! face as the portrait, clean and degraded (rotation on a table, blur, noise, uneven light,
//! low-quality JPEG, all together). At least 95 % must be read with every check verified, and
//! no document may be reported verified with wrong data. Needs the models
//! (scripts/install_checks.sh).

use std::path::PathBuf;
use std::time::Instant;

use idv_checks::Settings;
use idv_checks::ocr::Ocr;
use idv_checks::synth;

const DOCUMENTS: usize = 42;

#[test]
fn synthetic_documents_are_read_without_false_passes() {
    let models = std::env::var_os("IDV_CHECKS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(idv_checks::default_models_dir);
    let settings = Settings::new(models.clone());
    let ocr = Ocr::load(&settings).expect("eng.traineddata in the models folder");
    let face = image::open(models.join("faces").join("biden.jpg"))
        .expect("faces/biden.jpg")
        .into_rgb8();
    let today = idv_checks::docreader::now().date_naive();

    let (mut verified, mut wrong, mut unread) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut read_ms = Vec::new();
    for i in 0..DOCUMENTS {
        let (sample, img) = synth::sample(i, &face);
        // As uploaded: JPEG at quality 90 (the degradations include a lower quality too).
        let jpeg = synth::to_jpeg(&img, 90);
        let img = idv_checks::picture::decode(&jpeg, settings.max_pixels).unwrap();
        let started = Instant::now();
        let result = ocr.read(&img, today);
        read_ms.push(started.elapsed().as_millis());
        match result {
            Ok(r) if r.verified() => {
                if r.mrz.lines == sample.mrz {
                    verified += 1;
                } else {
                    wrong += 1;
                    failures.push(format!(
                        "{} {}: WRONG {:?} expected {:?}",
                        sample.file,
                        sample.degradation.name(),
                        r.mrz.lines,
                        sample.mrz
                    ));
                }
            }
            Ok(r) => {
                unread += 1;
                failures.push(format!(
                    "{} {}: not verified {:?}",
                    sample.file,
                    sample.degradation.name(),
                    r.raw_lines
                ));
            }
            Err(e) => {
                unread += 1;
                failures.push(format!(
                    "{} {}: {e}",
                    sample.file,
                    sample.degradation.name()
                ));
            }
        }
    }
    read_ms.sort_unstable();
    let rate = verified as f64 / DOCUMENTS as f64 * 100.0;
    println!(
        "MRZ accuracy: {verified}/{DOCUMENTS} verified and correct ({rate:.1} %), {wrong} verified with wrong data, {unread} not verified; read time p50 {} ms, max {} ms",
        read_ms[read_ms.len() / 2],
        read_ms[read_ms.len() - 1]
    );
    for f in &failures {
        println!("  {f}");
    }
    assert_eq!(wrong, 0, "documents reported verified with wrong data");
    assert!(rate >= 95.0, "only {rate:.1} % read and verified");
}

#[test]
fn documents_photographed_nearer_or_further_are_read() {
    let models = std::env::var_os("IDV_CHECKS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(idv_checks::default_models_dir);
    let settings = Settings::new(models.clone());
    let ocr = Ocr::load(&settings).expect("eng.traineddata in the models folder");
    let face = image::open(models.join("faces").join("obama2.jpg"))
        .expect("faces/obama2.jpg")
        .into_rgb8();
    let today = idv_checks::docreader::now().date_naive();
    let mut read = 0;
    let mut total = 0;
    for (k, scale) in [0.6f32, 0.8, 2.5].into_iter().enumerate() {
        for spec in [
            synth::Spec::passport(900 + k as u64),
            synth::Spec::id_card(950 + k as u64),
        ] {
            let how = synth::Degradation::All(vec![
                synth::Degradation::Rotate(-1.5),
                synth::Degradation::Scale(scale),
            ]);
            let img = synth::degrade(&synth::render(&spec, &face), &how, 3);
            let result = ocr.read(&img, today);
            total += 1;
            match result {
                Ok(r) if r.verified() => {
                    assert_eq!(
                        r.mrz.lines,
                        spec.mrz_lines(),
                        "verified with wrong data at scale {scale}"
                    );
                    read += 1;
                }
                Ok(r) => println!("scale {scale}: not verified {:?}", r.raw_lines),
                Err(e) => println!("scale {scale}: {e}"),
            }
        }
    }
    println!("read {read}/{total} at scales 0.6, 0.8, 2.5");
    assert!(read >= total - 1, "only {read}/{total} read");
}
