//! The browser harness itself (`support/browser.rs`): typing, clicking and reading a page, the
//! phone viewport in screenshots, the accessibility check failing on a bad page and passing a
//! clean one, and the fake camera showing the picture the test drew. Each test serves its own
//! pages from 127.0.0.1 (a secure context, so the camera is allowed).

use crate::support::browser::{Browser, BrowserOptions, fake_video, png_size};
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use futures::FutureExt;
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

/// Serves each `(path, html)` on 127.0.0.1 for the test's life; returns the base URL.
async fn serve(pages: &[(&'static str, &'static str)]) -> String {
    let mut router = Router::new();
    for (path, html) in pages {
        let html = *html;
        router = router.route(path, get(move || async move { Html(html) }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

const FORM: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Form</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<label for="name">Name</label> <input id="name" name="name" value="draft">
<button id="go" type="button">Greet</button>
<p id="out" data-state="empty"></p>
<ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
<script>
document.getElementById('go').addEventListener('click', () => {
  const out = document.getElementById('out');
  out.textContent = 'Hello, ' + document.getElementById('name').value + '!';
  out.dataset.state = 'greeted';
  console.info('greeted');
  console.error('greeting logged as an error');
  setTimeout(() => {
    const late = document.createElement('p');
    late.id = 'late';
    late.textContent = 'arrived later';
    document.body.appendChild(late);
  }, 300);
});
</script>
</main></body></html>"#;

#[tokio::test]
async fn types_clicks_reads_and_takes_phone_sized_screenshots() {
    let base = serve(&[("/form", FORM)]).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/form")).await;
    assert_eq!(browser.current_url().await, format!("{base}/form"));
    assert_eq!(browser.title().await, "Form");

    // The phone: 360 CSS px wide at pixel ratio 2, an Android user agent, touch.
    let screen = browser
        .execute(
            "return {w: window.innerWidth, h: window.innerHeight, dpr: window.devicePixelRatio, \
             ua: navigator.userAgent, touch: navigator.maxTouchPoints};",
            vec![],
        )
        .await;
    assert_eq!(screen["w"], 360, "{screen}");
    assert_eq!(screen["dpr"], 2, "{screen}");
    assert!(
        screen["ua"].as_str().unwrap().contains("Android"),
        "{screen}"
    );
    assert!(screen["touch"].as_u64().unwrap() > 0, "{screen}");

    let input = browser.find("#name").await;
    assert_eq!(input.property("value").await, "draft");
    input.clear().await;
    input.send_keys("Ada Lovelace").await;
    assert_eq!(input.property("value").await, "Ada Lovelace");
    assert_eq!(input.attribute("name").await.as_deref(), Some("name"));
    assert_eq!(input.attribute("placeholder").await, None);
    browser.find("#go").await.click().await;
    let out = browser.find("#out").await;
    assert_eq!(out.text().await, "Hello, Ada Lovelace!");
    assert_eq!(
        out.attribute("data-state").await.as_deref(),
        Some("greeted")
    );

    // The console: what the page logged, errors apart.
    let log = browser.console_log().await;
    assert!(
        log.iter()
            .any(|e| e["level"] == "INFO" && e["message"].as_str().unwrap().contains("greeted")),
        "{log:?}"
    );
    browser
        .execute("console.error('again'); return null;", vec![])
        .await;
    let errors = browser.console_errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("again"), "{errors:?}");
    assert!(browser.console_errors().await.is_empty());

    // Polling: the element the click adds after 300 ms; a missing one is None, not a failure.
    assert!(browser.try_find("#nothing-here").await.is_none());
    let late = browser.wait_for("#late", Duration::from_secs(5)).await;
    assert_eq!(late.text().await, "arrived later");

    let items = browser.find_all("li.item").await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[2].text().await, "three");
    // Elements pass into scripts and back.
    let tag = browser
        .execute(
            "return arguments[0].tagName + ':' + arguments[1];",
            vec![items[0].json(), json!(7)],
        )
        .await;
    assert_eq!(tag, "LI:7");
    let later = browser
        .execute_async(
            "const done = arguments[arguments.length - 1]; setTimeout(() => done(arguments[0] * 2), 20);",
            vec![json!(21)],
        )
        .await;
    assert_eq!(later, 42);

    // Screenshots: PNGs of the phone's screen in device pixels, numbered in order.
    let first = browser.screenshot("greeted").await;
    let second = browser.screenshot("again").await;
    assert!(first.ends_with("01-greeted.png"), "{}", first.display());
    assert!(second.ends_with("02-again.png"), "{}", second.display());
    assert_eq!(first.parent(), Some(browser.screens_dir()));
    assert!(
        browser
            .screens_dir()
            .ends_with("browser-types_clicks_reads_and_takes_phone_sized_screenshots"),
        "{}",
        browser.screens_dir().display()
    );
    let png = std::fs::read(&first).unwrap();
    assert_eq!(png_size(&png), Some((720, 1280)), "{}", first.display());
}

/// A picture button with no accessible name (critical: button-name) and grey text on a grey
/// background (serious: color-contrast).
const INACCESSIBLE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bad</title></head>
<body><main>
<h1>Upload</h1>
<button id="icon"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></button>
<p style="color:#bbb;background:#ccc">Take a photo of your document</p>
</main></body></html>"#;

const ACCESSIBLE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Good</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>Upload</h1>
<button id="icon"><img alt="Take a photo" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></button>
<p style="color:#222;background:#fff">Take a photo of your document</p>
<label for="n">Name</label> <input id="n">
</main></body></html>"#;

#[tokio::test]
async fn accessibility_check_fails_on_serious_violations_and_passes_a_clean_page() {
    let base = serve(&[("/bad", INACCESSIBLE), ("/good", ACCESSIBLE)]).await;
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/bad")).await;
    let violations = browser.axe_violations("bad").await;
    let ids: Vec<&str> = violations.iter().filter_map(|v| v["id"].as_str()).collect();
    assert!(ids.contains(&"button-name"), "{ids:?}");
    assert!(ids.contains(&"color-contrast"), "{ids:?}");
    // The full result sits beside the screenshot.
    let result: Value = serde_json::from_slice(
        &std::fs::read(browser.screens_dir().join("01-bad.axe.json")).unwrap(),
    )
    .unwrap();
    assert!(
        result["violations"].as_array().unwrap().len() >= 2,
        "{result}"
    );
    assert!(browser.screens_dir().join("01-bad.png").is_file());

    let failed = AssertUnwindSafe(browser.axe_check("bad again"))
        .catch_unwind()
        .await
        .expect_err("axe_check must fail on a page with serious violations");
    let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    for part in [
        "button-name (critical)",
        "color-contrast (serious)",
        "#icon",
        "https://",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }

    browser.goto(&format!("{base}/good")).await;
    browser.axe_check("good").await;
    assert!(browser.axe_violations("good again").await.is_empty());
}

/// Draws the camera's current frame on a canvas and answers the mean colour of its left and
/// right halves, and the frame's size.
const CAMERA: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Camera</title></head>
<body><main><video id="v" playsinline muted></video><canvas id="c"></canvas>
<script>
window.grab = async function () {
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  const video = document.getElementById('v');
  video.srcObject = stream;
  await video.play();
  await new Promise(r => video.requestVideoFrameCallback(() => r()));
  const w = video.videoWidth, h = video.videoHeight;
  const canvas = document.getElementById('c');
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(video, 0, 0);
  const data = ctx.getImageData(0, 0, w, h).data;
  const mean = (x0, x1) => {
    const s = [0, 0, 0]; let n = 0;
    for (let y = 0; y < h; y++) for (let x = x0; x < x1; x++) {
      const i = (y * w + x) * 4; s[0] += data[i]; s[1] += data[i + 1]; s[2] += data[i + 2]; n++;
    }
    return s.map(v => Math.round(v / n));
  };
  stream.getTracks().forEach(t => t.stop());
  // Away from the middle, where the halves' colours blend in the 4:2:0 chroma.
  return {width: w, height: h, left: mean(0, w / 2 - 8), right: mean(w / 2 + 8, w)};
};
</script></main></body></html>"#;

#[tokio::test]
async fn fake_camera_shows_the_picture_drawn_by_the_test() {
    let base = serve(&[("/camera", CAMERA)]).await;
    let red = [200u8, 30, 40];
    let blue = [30u8, 60, 200];
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("camera.y4m");
    fake_video(&video, 640, 480, |x, _| if x < 320 { red } else { blue });
    let browser = Browser::start_with(BrowserOptions {
        camera: Some(video),
        ..Default::default()
    })
    .await;
    browser.goto(&format!("{base}/camera")).await;
    let frame = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.grab().then(done, e => done({error: String(e)}));",
            vec![],
        )
        .await;
    assert!(frame.get("error").is_none(), "{frame}");
    assert_eq!(
        (frame["width"].clone(), frame["height"].clone()),
        (json!(640), json!(480))
    );
    for (half, want) in [("left", red), ("right", blue)] {
        let got: Vec<i64> = frame[half]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        for (channel, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - i64::from(w)).abs() <= 12,
                "{half} half channel {channel}: {g}, want {w} ± 12 ({frame})"
            );
        }
    }
    browser.screenshot("camera").await;
}
