//! Browser tests: headless Chromium driven over WebDriver (plain JSON over HTTP, spoken here with
//! reqwest), with a phone viewport (360×640 CSS px at pixel ratio 2, an Android Chrome user agent),
//! a fake camera fed from a video file the test writes ([`fake_video`]), screenshots kept in the
//! test output folder and an accessibility check with axe-core.
//!
//! Needs `chromedriver` (`IDV_CHROMEDRIVER`, else `/usr/bin/chromedriver`) and Chromium, and for
//! [`Browser::axe_check`] axe-core's `axe.min.js` (`IDV_AXE_JS`, else `~/.cache/idv-test/npm`);
//! `bash scripts/test.sh` installs all three and sets both variables.
//!
//! Screenshots go to `<output>/screens/<test name>/<NN>-<name>.png`, where `<output>` is
//! `$IDV_TEST_OUTPUT`, else `test-output` in the cargo target folder, and NN counts the test's
//! screenshots in order; each axe check writes `<NN>-<name>.axe.json` beside its screenshot.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The key WebDriver uses for an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The phone the browser emulates.
pub const VIEWPORT_WIDTH: u32 = 360;
pub const VIEWPORT_HEIGHT: u32 = 640;
pub const PIXEL_RATIO: u32 = 2;
pub const USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

/// How a browser starts.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// A Y4M file (see [`fake_video`]) the fake camera plays in a loop; without it Chromium's
    /// built-in test pattern.
    pub camera: Option<PathBuf>,
    /// The folder name for this test's screenshots; without it the test's thread name (the
    /// test's path, `module::name`).
    pub test_name: Option<String>,
}

/// A WebDriver error answer, or a failure to reach the driver.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// The WebDriver error code (`no such element`, `javascript error`, ...), or `transport`.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// One Chromium session and the chromedriver that runs it; both end when it is dropped.
pub struct Browser {
    http: reqwest::Client,
    driver: Child,
    driver_port: u16,
    /// `http://127.0.0.1:<port>/session/<id>`
    session: String,
    session_id: String,
    test_name: String,
    screens: PathBuf,
    shots: AtomicUsize,
}

/// The chromedriver to run: `IDV_CHROMEDRIVER`, else `/usr/bin/chromedriver`; a test fails with
/// what to do when neither is there.
pub fn chromedriver_path() -> PathBuf {
    let hint = "the browser tests need Chromium and chromedriver: run `bash scripts/test.sh` \
                (it installs them) or `apt-get install chromium chromium-driver`";
    match std::env::var_os("IDV_CHROMEDRIVER").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "IDV_CHROMEDRIVER is {} but there is no such file; {hint}",
                path.display()
            );
            path
        }
        None => {
            let path = PathBuf::from("/usr/bin/chromedriver");
            assert!(
                path.is_file(),
                "no chromedriver (IDV_CHROMEDRIVER unset, no /usr/bin/chromedriver); {hint}"
            );
            path
        }
    }
}

/// axe-core's `axe.min.js`: `IDV_AXE_JS`, else where `scripts/test.sh` installs it
/// (`~/.cache/idv-test/npm`, under `$XDG_CACHE_HOME` when set); a test fails with what to do when
/// it is missing.
pub fn axe_js_path() -> PathBuf {
    let hint = "run `bash scripts/test.sh` (it installs axe-core from the npm registry and sets \
                IDV_AXE_JS) or `npm install --prefix DIR axe-core@4` and set \
                IDV_AXE_JS=DIR/node_modules/axe-core/axe.min.js";
    if let Some(path) = std::env::var_os("IDV_AXE_JS").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "IDV_AXE_JS is {} but there is no such file; {hint}",
            path.display()
        );
        return path;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    let path = cache
        .map(|c| c.join("idv-test/npm/node_modules/axe-core/axe.min.js"))
        .filter(|p| p.is_file());
    path.unwrap_or_else(|| {
        panic!("no axe-core (IDV_AXE_JS unset, none in ~/.cache/idv-test/npm); {hint}")
    })
}

/// The test output folder: `$IDV_TEST_OUTPUT`, else `test-output` in the cargo target folder
/// (found from the test binary's own path, `<target>/<profile>/deps/it-…`).
pub fn test_output_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IDV_TEST_OUTPUT") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    match exe.ancestors().nth(3) {
        Some(target) => target.join("test-output"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-output"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// This test's screenshot folder, emptied of an earlier run's files; a second browser in the same
/// test (same name) gets `<name>-2`, and so on, so that neither removes the other's.
fn claim_screens_dir(name: &str) -> PathBuf {
    static CLAIMED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    let mut folder = name.to_string();
    let mut n = 1;
    while claimed.contains(&folder) {
        n += 1;
        folder = format!("{name}-{n}");
    }
    claimed.push(folder.clone());
    let dir = test_output_dir().join("screens").join(folder);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts chromedriver on a free port and waits until it answers; a port taken between choosing
/// and binding it (by a parallel test) is retried with another.
async fn spawn_driver(path: &Path, http: &reqwest::Client) -> (Child, u16) {
    let mut attempt = 0;
    'attempts: loop {
        attempt += 1;
        let port = free_port();
        let mut driver = Command::new(path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("http://127.0.0.1:{port}/status"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                return (driver, port);
            }
            if let Ok(Some(status)) = driver.try_wait() {
                assert!(
                    attempt < 3,
                    "{} ended at start three times (last: {status})",
                    path.display()
                );
                continue 'attempts;
            }
            if Instant::now() >= deadline {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!(
                    "{} did not answer on port {port} within 20 s",
                    path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A file-system-safe folder name for a test (`browser::clicks` → `browser-clicks`).
fn folder_name(name: &str) -> String {
    name.replace("::", "-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Browser {
    /// A browser with the built-in fake camera pattern.
    pub async fn start() -> Browser {
        Self::start_with(BrowserOptions::default()).await
    }

    /// Starts chromedriver on a free port and opens a session (headless Chromium, the phone
    /// viewport, fake camera and microphone that need no permission prompt).
    pub async fn start_with(options: BrowserOptions) -> Browser {
        let driver_path = chromedriver_path();
        let test_name = options.test_name.clone().unwrap_or_else(|| {
            std::thread::current()
                .name()
                .filter(|n| *n != "main")
                .unwrap_or("unnamed")
                .to_string()
        });
        let screens = claim_screens_dir(&folder_name(&test_name));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let (driver, port) = spawn_driver(&driver_path, &http).await;
        let mut browser = Browser {
            http,
            driver,
            driver_port: port,
            session: String::new(),
            session_id: String::new(),
            test_name,
            screens,
            shots: AtomicUsize::new(0),
        };
        let base = format!("http://127.0.0.1:{port}");

        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-extensions".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            format!("--window-size={VIEWPORT_WIDTH},{VIEWPORT_HEIGHT}"),
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
        ];
        if let Some(video) = &options.camera {
            assert!(
                video.is_file(),
                "the fake camera's video {} does not exist",
                video.display()
            );
            args.push(format!(
                "--use-file-for-fake-video-capture={}",
                video.display()
            ));
        }
        let mut chrome_options = json!({
            "args": args,
            "mobileEmulation": {
                "deviceMetrics": {
                    "width": VIEWPORT_WIDTH,
                    "height": VIEWPORT_HEIGHT,
                    "pixelRatio": PIXEL_RATIO,
                    "mobile": true,
                    "touch": true,
                },
                "userAgent": USER_AGENT,
            },
        });
        // Debian's chromedriver finds /usr/bin/chromium itself; IDV_CHROMIUM names another.
        if let Some(binary) = std::env::var_os("IDV_CHROMIUM") {
            chrome_options["binary"] = json!(binary.to_string_lossy());
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": chrome_options,
                    "goog:loggingPrefs": {"browser": "ALL"},
                    "timeouts": {"script": 30_000, "pageLoad": 30_000, "implicit": 0},
                }
            }
        });
        let answer = browser
            .call(
                reqwest::Method::POST,
                format!("{base}/session"),
                Some(capabilities),
            )
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"));
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {answer}"))
            .to_string();
        browser.session = format!("{base}/session/{id}");
        browser.session_id = id;
        browser
    }

    /// The folder this test's screenshots and accessibility results go to.
    pub fn screens_dir(&self) -> &Path {
        &self.screens
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let transport = |e: reqwest::Error| WebDriverError {
            error: "transport".into(),
            message: format!("{method} {url}: {e}"),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body: Value = response.json().await.map_err(transport)?;
        let value = body.get("value").cloned().unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(WebDriverError {
                error: value["error"].as_str().unwrap_or("unknown error").into(),
                message: value["message"].as_str().unwrap_or_default().into(),
            })
        }
    }

    /// A session command (`path` after `/session/<id>`); errors are returned.
    pub async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        self.call(method, format!("{}{path}", self.session), body)
            .await
    }

    /// A session command; a WebDriver error fails the test.
    pub async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_command(method.clone(), path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {path} failed: {e}"),
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn title(&self) -> String {
        self.get("/title")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML as it is now.
    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await;
    }

    fn element(&self, value: &Value) -> Element<'_> {
        let id = value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {value}"))
            .to_string();
        Element { browser: self, id }
    }

    /// The first element matching the CSS selector, if any (no waiting).
    pub async fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let body = json!({"using": "css selector", "value": css});
        match self
            .try_command(reqwest::Method::POST, "/element", Some(body))
            .await
        {
            Ok(v) => Some(self.element(&v)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("finding {css:?} failed: {e}"),
        }
    }

    /// The first element matching the CSS selector; its absence fails the test.
    pub async fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!("no element matches {css:?} on {}", self.current_url().await),
        }
    }

    /// Every element matching the CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        found
            .as_array()
            .map(|a| a.iter().map(|v| self.element(v)).collect())
            .unwrap_or_default()
    }

    /// Polls until an element matches the CSS selector; after `timeout` the test fails (with a
    /// screenshot named `timeout`).
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot("timeout").await;
                panic!(
                    "no element matched {css:?} within {timeout:?} on {} (screenshot {})",
                    self.current_url().await,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls a JavaScript expression until it is truthy and returns its value; after `timeout`
    /// the test fails (with a screenshot named `timeout`).
    pub async fn wait_until(&self, expression: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let script = format!("return ({expression});");
        loop {
            let value = self.execute(&script, vec![]).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot("timeout").await;
                panic!(
                    "{expression} was still {value} after {timeout:?} on {} (screenshot {})",
                    self.current_url().await,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`, elements given with
    /// [`Element::json`]) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn try_execute(
        &self,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, WebDriverError> {
        self.try_command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs `script` asynchronously: its last argument is the callback it calls with the result
    /// (within the script timeout, 30 s).
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
        .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// The browser console's entries (`console.*` calls, uncaught errors, failed loads) since the
    /// last call: objects with `level` (`SEVERE` for errors, `WARNING`, `INFO`, ...), `message`,
    /// `source` and `timestamp`.
    pub async fn console_log(&self) -> Vec<Value> {
        let entries = self.post("/se/log", json!({"type": "browser"})).await;
        entries.as_array().cloned().unwrap_or_default()
    }

    /// The console's errors since the last read of the console (their messages).
    pub async fn console_errors(&self) -> Vec<String> {
        self.console_log()
            .await
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Takes a screenshot of the viewport and writes it to
    /// `<output>/screens/<test>/<NN>-<name>.png`; returns that path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let n = self.shots.fetch_add(1, Ordering::SeqCst) + 1;
        let png = self.screenshot_png().await;
        std::fs::create_dir_all(&self.screens).unwrap_or_else(|e| {
            panic!("cannot create {}: {e}", self.screens.display());
        });
        let path = self
            .screens
            .join(format!("{n:02}-{}.png", folder_name(name)));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// The viewport as PNG bytes (not written anywhere).
    pub async fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine;
        let data = self.get("/screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a screenshot in base64")
    }

    /// Runs axe-core on the page and returns its violations of impact serious or critical (the
    /// whole result is written beside a screenshot of the screen, `<NN>-<name>.axe.json`).
    pub async fn axe_violations(&self, screen_name: &str) -> Vec<Value> {
        let shot = self.screenshot(screen_name).await;
        let injected = self
            .execute("return typeof window.axe === 'object';", vec![])
            .await;
        if injected != Value::Bool(true) {
            let path = axe_js_path();
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            self.execute(&source, vec![]).await;
        }
        let result = self
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, {resultTypes: ['violations']})\
                   .then(r => done({ok: r}), e => done({error: String(e)}));",
                vec![],
            )
            .await;
        if let Some(error) = result.get("error") {
            panic!("axe-core failed on {screen_name}: {error}");
        }
        let result = result["ok"].clone();
        let json_path = shot.with_extension("axe.json");
        std::fs::write(&json_path, serde_json::to_vec_pretty(&result).unwrap())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", json_path.display()));
        result["violations"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The accessibility check of a screen: fails the test on any axe-core violation of impact
    /// serious or critical, naming each rule, its impact, the elements and axe's help.
    pub async fn axe_check(&self, screen_name: &str) {
        let violations = self.axe_violations(screen_name).await;
        if violations.is_empty() {
            return;
        }
        let mut report = format!(
            "{} serious or critical accessibility violation(s) on {screen_name} ({}), results in {}:",
            violations.len(),
            self.current_url().await,
            self.screens.display()
        );
        for v in &violations {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .map(|nodes| nodes.iter().map(|n| n["target"].to_string()).collect())
                .unwrap_or_default();
            report.push_str(&format!(
                "\n- {} ({}): {} [{}] {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or(""),
                targets.join(", "),
                v["helpUrl"].as_str().unwrap_or("")
            ));
        }
        panic!("{report}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session so that chromedriver closes Chromium and removes its profile folder;
        // a plain blocking request, since drop cannot wait on the runtime.
        if !self.session_id.is_empty() {
            let _ = delete_session(self.driver_port, &self.session_id);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn delete_session(port: u16, id: &str) -> std::io::Result<()> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // Reads the head and the body it announces: chromedriver may keep the connection open.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return Ok(());
            }
        }
    }
}

/// An element of the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    /// The element as a script argument for [`Browser::execute`].
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    pub async fn click(&self) {
        self.browser.post(&self.path("/click"), json!({})).await;
    }

    /// Types `text` into the element (after what it holds).
    pub async fn send_keys(&self, text: &str) {
        self.browser
            .post(&self.path("/value"), json!({ "text": text }))
            .await;
    }

    pub async fn clear(&self) {
        self.browser.post(&self.path("/clear"), json!({})).await;
    }

    /// The rendered text.
    pub async fn text(&self) -> String {
        let v = self.browser.get(&self.path("/text")).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// An HTML attribute as written in the page (for the current `value` of an input, use
    /// [`Element::property`]).
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let v = self
            .browser
            .get(&self.path(&format!("/attribute/{name}")))
            .await;
        v.as_str().map(str::to_string)
    }

    /// A DOM property (`value`, `checked`, ...).
    pub async fn property(&self, name: &str) -> Value {
        self.browser
            .get(&self.path(&format!("/property/{name}")))
            .await
    }

    pub async fn is_displayed(&self) -> bool {
        self.browser.get(&self.path("/displayed")).await == Value::Bool(true)
    }

    pub async fn is_enabled(&self) -> bool {
        self.browser.get(&self.path("/enabled")).await == Value::Bool(true)
    }

    /// Sets a file input's files (paths on this machine).
    pub async fn upload(&self, files: &[&Path]) {
        let text = files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        self.send_keys(&text).await;
    }
}

/// The number of frames [`fake_video`] writes; Chromium plays them in a loop.
pub const FAKE_VIDEO_FRAMES: usize = 4;

/// Writes a Y4M video (YUV4MPEG2, 4:2:0, 30 fps, `FAKE_VIDEO_FRAMES` identical frames) of the
/// picture `draw(x, y) -> [r, g, b]`, for `BrowserOptions::camera`. Colours are converted with
/// BT.601 in limited range, as Chromium reads I420. Width and height must be even.
pub fn fake_video(path: &Path, width: u32, height: u32, draw: impl Fn(u32, u32) -> [u8; 3]) {
    assert!(
        width.is_multiple_of(2) && height.is_multiple_of(2) && width > 0 && height > 0,
        "a 4:2:0 video needs an even width and height, not {width}x{height}"
    );
    let (w, h) = (width as usize, height as usize);
    let mut y_plane = vec![0u8; w * h];
    let mut u_sum = vec![0f32; (w / 2) * (h / 2)];
    let mut v_sum = vec![0f32; (w / 2) * (h / 2)];
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = draw(x as u32, y as u32).map(f32::from);
            y_plane[y * w + x] = (16.0 + 0.257 * r + 0.504 * g + 0.098 * b).round() as u8;
            let c = (y / 2) * (w / 2) + x / 2;
            u_sum[c] += 128.0 - 0.148 * r - 0.291 * g + 0.439 * b;
            v_sum[c] += 128.0 + 0.439 * r - 0.368 * g - 0.071 * b;
        }
    }
    let chroma = |sums: Vec<f32>| -> Vec<u8> {
        sums.into_iter()
            .map(|s| (s / 4.0).round().clamp(0.0, 255.0) as u8)
            .collect()
    };
    let (u_plane, v_plane) = (chroma(u_sum), chroma(v_sum));
    let mut out = Vec::with_capacity(64 + FAKE_VIDEO_FRAMES * (6 + w * h * 3 / 2));
    out.extend_from_slice(
        format!("YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n").as_bytes(),
    );
    for _ in 0..FAKE_VIDEO_FRAMES {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&y_plane);
        out.extend_from_slice(&u_plane);
        out.extend_from_slice(&v_plane);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The width and height in a PNG's header (`IHDR`), or `None` for bytes that are not a PNG.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((width, height))
}
