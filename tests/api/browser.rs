//! Headless Chromium walks home → pricing → request access → submit → confirmation, and
//! saves a screenshot of each page under target/screenshots/.

use crate::helpers::*;
use fantoccini::{ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_chromedriver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/test.sh installs Debian's chromium-driver)");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            return (Driver(child), url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on {url}");
}

/// Scrolls an element to the middle of the viewport (clear of the sticky header), clicks it.
async fn click(c: &fantoccini::Client, css: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    let arg = serde_json::to_value(&el).unwrap();
    c.execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg])
        .await
        .unwrap();
    el.click().await.unwrap();
}

fn screenshots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A headless Chromium session driven through chromedriver.
async fn browser() -> (Driver, fantoccini::Client, PathBuf) {
    let (driver, driver_url) = start_chromedriver().await;
    let profile =
        std::env::temp_dir().join(format!("fox-chrome-{}", uuid::Uuid::new_v4().simple()));
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000", "--force-prefers-reduced-motion",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let caps = caps.as_object().unwrap().clone().into_iter().collect();
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a browser session");
    (driver, c, profile)
}

async fn screenshot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(screenshots_dir().join(name), png).unwrap();
}

async fn fill(c: &fantoccini::Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn visitor_requests_access_in_a_real_browser() {
    let app = spawn_app().await;
    let (_driver, c, profile) = browser().await;

    c.goto(&app.url("/")).await.unwrap();
    assert!(c.title().await.unwrap().contains("Fox ML Infrastructure"));
    screenshot(&c, "01-home.png").await;

    c.find(Locator::Css("header a[href='/pricing']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_url(&url::Url::parse(&app.url("/pricing")).unwrap())
        .await
        .unwrap();
    let pricing = c.source().await.unwrap();
    assert!(pricing.contains("Desk") && pricing.contains("Enterprise"));
    screenshot(&c, "02-pricing.png").await;

    click(&c, "a[href='/request-access?tier=desk']").await;
    c.wait()
        .for_element(Locator::Css("form[action='/request-access']"))
        .await
        .unwrap();
    screenshot(&c, "03-request-access.png").await;

    // Submitting with a bad email shows the error next to the field, keeping the input.
    fill(&c, "input[name='name']", "Grace Hopper").await;
    fill(&c, "input[name='email']", "grace-at-navy").await;
    fill(&c, "input[name='company']", "Compiler Capital").await;
    fill(&c, "input[name='role']", "Head of research").await;
    fill(
        &c,
        "textarea[name='use_case']",
        "Target ranking on 5-minute bars",
    )
    .await;
    c.find(Locator::Css("select[name='team_size']"))
        .await
        .unwrap()
        .select_by_value("6-20")
        .await
        .unwrap();
    click(&c, "form[action='/request-access'] button[type='submit']").await;
    c.wait()
        .for_element(Locator::Id("email-error"))
        .await
        .unwrap();
    let value = c
        .find(Locator::Css("input[name='company']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("Compiler Capital"));
    screenshot(&c, "04-request-access-error.png").await;

    fill(&c, "input[name='email']", "grace@compiler.example").await;
    click(&c, "form[action='/request-access'] button[type='submit']").await;
    c.wait()
        .for_element(Locator::XPath("//*[contains(text(), 'Grace')]"))
        .await
        .unwrap();
    let done = c.source().await.unwrap();
    assert!(done.contains("Thanks, Grace"), "confirmation page");
    screenshot(&c, "05-confirmation.png").await;
    c.close().await.unwrap();

    let stored: (String, String) = sqlx::query_as("SELECT company, tier FROM leads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, ("Compiler Capital".into(), "desk".into()));
    for f in [
        "01-home.png",
        "02-pricing.png",
        "03-request-access.png",
        "04-request-access-error.png",
        "05-confirmation.png",
    ] {
        assert!(
            screenshots_dir().join(f).metadata().unwrap().len() > 10_000,
            "{f} has content"
        );
    }
    let _ = std::fs::remove_dir_all(profile);
}

#[tokio::test]
async fn buyer_checks_out_gets_a_key_sets_a_password_and_sees_the_license() {
    // The fake Stripe redirects to our success URL, so the app must know its own address.
    let port = free_port();
    let (app, fake) = spawn_app_with_stripe(move |s| {
        s.server.port = port;
        s.server.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let (_driver, c, profile) = browser().await;

    c.goto(&app.url("/pricing")).await.unwrap();
    screenshot(&c, "10-pricing-checkout.png").await;
    click(&c, "form[action='/checkout/desk'] button[type='submit']").await;
    c.wait().for_element(Locator::Id("pay")).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&fake.base),
        "on the (fake) hosted checkout page"
    );
    screenshot(&c, "11-hosted-checkout.png").await;
    fill(&c, "#email", "grace@compiler.example").await;
    click(&c, "#pay").await;

    c.wait()
        .for_element(Locator::Id("license-key"))
        .await
        .unwrap();
    let key = c
        .find(Locator::Id("license-key"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("FOX1-"), "the success page shows the key");
    screenshot(&c, "12-checkout-success.png").await;

    click(&c, "#set-password-link").await;
    c.wait()
        .for_element(Locator::Id("password_confirm"))
        .await
        .unwrap();
    fill(&c, "#password", "correct horse battery staple").await;
    fill(&c, "#password_confirm", "correct horse battery staple").await;
    screenshot(&c, "13-set-password.png").await;
    click(&c, "form button[type='submit']").await;

    c.wait()
        .for_url(&url::Url::parse(&app.url("/account")).unwrap())
        .await
        .unwrap();
    let license_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let dashboard = c.source().await.unwrap();
    assert!(
        dashboard.contains(&license_id.to_string())
            || dashboard.contains(&license_id.to_string()[..8]),
        "the dashboard lists the license"
    );
    assert!(dashboard.contains("Desk"));
    screenshot(&c, "14-dashboard.png").await;
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(profile);
}

/// Waits (up to `secs`) until `css`'s text is `text`.
async fn wait_for_text(c: &fantoccini::Client, css: &str, text: &str, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut seen = String::new();
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            seen = el.text().await.unwrap_or_default().trim().to_string();
            // The badge is upper-cased by the style sheet; WebDriver reads the rendered text.
            if seen.eq_ignore_ascii_case(text) {
                return;
            }
        }
        if std::time::Instant::now() >= deadline {
            let page = c.source().await.unwrap_or_default();
            panic!("{css} never read {text:?} (last: {seen:?}); the page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_researcher_uploads_runs_watches_reads_compares_and_downloads_in_a_browser() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;
    let (_driver, c, profile) = browser().await;

    c.goto(&app.url("/account/login")).await.unwrap();
    fill(&c, "input[name='email']", "ada@analytical.example").await;
    fill(&c, "input[name='password']", PASSWORD).await;
    click(&c, "form[action='/account/login'] button[type='submit']").await;
    c.wait()
        .for_element(Locator::Css("nav.research-links"))
        .await
        .unwrap();
    screenshot(&c, "20-account.png").await;

    // Upload the generator's panel: the script sends it with a progress bar, then the list.
    let csv = std::env::temp_dir().join(format!("panel-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(&csv, panel_csv(30, 150, 1)).unwrap();
    click(&c, "nav.research-links a[href='/account/datasets']").await;
    c.wait()
        .for_element(Locator::Id("upload-form"))
        .await
        .unwrap();
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(&csv.display().to_string())
        .await
        .unwrap();
    click(&c, "#upload-form button[type='submit']").await;
    c.wait()
        .for_element(Locator::Id("datasets-table"))
        .await
        .unwrap();
    let list = c.source().await.unwrap();
    assert!(
        list.contains("Dataset uploaded.")
            && list.contains(csv.file_name().unwrap().to_str().unwrap())
    );
    screenshot(&c, "21-datasets.png").await;

    // A new job from the quick template, submitted as it is.
    click(&c, "#datasets-table a.button").await;
    c.wait().for_element(Locator::Id("job-form")).await.unwrap();
    let yaml = c
        .find(Locator::Id("yaml"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(yaml.contains("name: quick-demo"));
    screenshot(&c, "22-new-job.png").await;
    click(&c, "#submit-job").await;
    c.wait().for_element(Locator::Id("job-live")).await.unwrap();
    screenshot(&c, "23-job-live.png").await;
    // The page follows the job live and shows the results once it succeeded.
    wait_for_text(&c, "#job-state", "succeeded", 120).await;
    c.wait()
        .for_element(Locator::Id("chart-ranking"))
        .await
        .unwrap();
    let results = c.source().await.unwrap();
    for id in ["chart-folds", "chart-importance-0", "chart-models"] {
        assert!(results.contains(id), "{id}");
    }
    screenshot(&c, "24-job-results.png").await;
    let first = c
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/account/jobs/")
        .to_string();

    // A second run, then the comparison with the first.
    click(&c, "form[action$='/retry'] button").await;
    c.wait().for_element(Locator::Id("job-live")).await.unwrap();
    wait_for_text(&c, "#job-state", "succeeded", 120).await;
    c.wait().for_element(Locator::Id("with")).await.unwrap();
    c.find(Locator::Id("with"))
        .await
        .unwrap()
        .select_by_value(&first)
        .await
        .unwrap();
    click(&c, "form[action$='/compare'] button").await;
    c.wait()
        .for_element(Locator::Id("drift-table"))
        .await
        .unwrap();
    assert!(c.source().await.unwrap().contains("STABLE"));
    screenshot(&c, "25-compare.png").await;

    // Downloads: the archive link, fetched with the browser's session.
    c.back().await.unwrap();
    c.wait()
        .for_element(Locator::Id("download-archive"))
        .await
        .unwrap();
    let href = c
        .find(Locator::Id("download-archive"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookies = c
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|k| format!("{}={}", k.name(), k.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let res = reqwest::Client::new()
        .get(app.url(&href))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.bytes().await.unwrap().starts_with(&[0x1f, 0x8b]),
        "a gzip archive"
    );
    c.close().await.unwrap();
    for f in ["21-datasets.png", "24-job-results.png", "25-compare.png"] {
        assert!(
            screenshots_dir().join(f).metadata().unwrap().len() > 10_000,
            "{f}"
        );
    }
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_dir_all(profile);
}
