//! Headless Chromium walks home → pricing → request access → submit → confirmation, and
//! saves a screenshot of each page under target/screenshots/.

mod common;
use common::*;
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

#[tokio::test]
async fn visitor_requests_access_in_a_real_browser() {
    let app = spawn_app().await;
    let (_driver, driver_url) = start_chromedriver().await;
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
    let shots = screenshots_dir();
    let shot = |name: &'static str| {
        let c = c.clone();
        let path = shots.join(name);
        async move {
            let png = c.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
            std::fs::write(path, png).unwrap();
        }
    };

    c.goto(&app.url("/")).await.unwrap();
    assert!(c.title().await.unwrap().contains("Fox ML Infrastructure"));
    shot("01-home.png").await;

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
    shot("02-pricing.png").await;

    click(&c, "a[href='/request-access?tier=desk']").await;
    c.wait()
        .for_element(Locator::Css("form[action='/request-access']"))
        .await
        .unwrap();
    shot("03-request-access.png").await;

    // Submitting with a bad email shows the error next to the field, keeping the input.
    let fill = |css: &'static str, text: &'static str| {
        let c = c.clone();
        async move {
            let el = c.find(Locator::Css(css)).await.unwrap();
            el.clear().await.unwrap();
            el.send_keys(text).await.unwrap();
        }
    };
    fill("input[name='name']", "Grace Hopper").await;
    fill("input[name='email']", "grace-at-navy").await;
    fill("input[name='company']", "Compiler Capital").await;
    fill("input[name='role']", "Head of research").await;
    fill(
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
    shot("04-request-access-error.png").await;

    fill("input[name='email']", "grace@compiler.example").await;
    click(&c, "form[action='/request-access'] button[type='submit']").await;
    c.wait()
        .for_element(Locator::XPath("//*[contains(text(), 'Grace')]"))
        .await
        .unwrap();
    let done = c.source().await.unwrap();
    assert!(done.contains("Thanks, Grace"), "confirmation page");
    shot("05-confirmation.png").await;
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
            shots.join(f).metadata().unwrap().len() > 10_000,
            "{f} has content"
        );
    }
    let _ = std::fs::remove_dir_all(profile);
}
