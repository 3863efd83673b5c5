//! Configuration: examples validate, every class of bad input gives its exact message,
//! overrides work, secrets stay hidden, schema and reference page match the code.

use fox::config::{self, Environment};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch project folder with `config/base.yaml` copied from the repository.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fox-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::copy("config/base.yaml", dir.join("config/base.yaml")).unwrap();
    dir
}

fn fox(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fox"));
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FOX")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn validate_local(yaml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = scratch();
    std::fs::write(dir.join("config/local.yaml"), yaml).unwrap();
    let out = fox(&dir, &["config", "validate"], env);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn type_errors_name_the_file_key_and_value() {
    let (code, err) = validate_local("server:\n  port: abc\n", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "config/local.yaml: server.port: expected an integer between 1 and 65535, got \"abc\""
        ),
        "{err}"
    );
}

#[test]
fn unknown_keys_suggest_the_closest_one() {
    let (code, err) = validate_local("sever:\n  port: 8080\nlog:\n  formt: json\n", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("config/local.yaml: unknown key \"sever\" (did you mean \"server\"?)"),
        "{err}"
    );
    assert!(
        err.contains("config/local.yaml: log: unknown key \"formt\" (did you mean \"format\"?)"),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let (code, err) = validate_local(
        "server:\n  port: 0\n  host: [1]\nlog:\n  format: xml\nemail:\n  max_attempts: -1\n",
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("(4 problems)"), "{err}");
    assert!(err.contains("server.port: expected an integer between 1 and 65535, got 0"));
    assert!(err.contains("server.host: expected a string, got a list"));
    assert!(err.contains("log.format: expected one of \"pretty\", \"json\", \"llm\", got \"xml\""));
    assert!(err.contains("email.max_attempts: expected an integer between 1 and 100, got -1"));
}

#[test]
fn semantic_checks_name_the_bad_field() {
    let yaml = "server:\n  public_url: not a url\nemail:\n  sales_to: nobody\npricing:\n  tiers:\n    - {id: pro, name: Pro, price_cents: 0, interval: month, purchase: checkout, stripe_price_id: price_1}\n    - {id: pro, name: Pro 2, interval: custom, purchase: contact_sales}\n";
    let (code, err) = validate_local(yaml, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("config/local.yaml: server.public_url: expected an absolute http(s) URL, got \"not a url\""), "{err}");
    assert!(
        err.contains("config/local.yaml: email.sales_to: expected an email address"),
        "{err}"
    );
    assert!(err.contains("config/local.yaml: pricing.tiers[0].price_cents: a checkout tier's price must be positive, got 0"), "{err}");
    assert!(
        err.contains("config/local.yaml: pricing.tiers[1].id: duplicate tier id \"pro\""),
        "{err}"
    );
}

#[test]
fn production_needs_real_secrets_smtp_and_https() {
    let dir = scratch();
    std::fs::write(
        dir.join("config/production.yaml"),
        "email:\n  transport: file\n",
    )
    .unwrap();
    let out = fox(
        &dir,
        &["config", "validate"],
        &[
            ("FOX_ENV", "production"),
            ("FOX__STRIPE__SECRET_KEY", "sk_live_CHANGE-ME"),
            ("FOX__STRIPE__WEBHOOK_SECRET", "whsec_real0123"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "config/production.yaml: email.transport: production email must go through SMTP"
        ),
        "{err}"
    );
    assert!(
        err.contains("security.session_key: must be set in production"),
        "{err}"
    );
    assert!(
        err.contains("server.public_url: must use https in production"),
        "{err}"
    );
    assert!(
        err.contains("env FOX__STRIPE__SECRET_KEY: stripe.secret_key: is a template placeholder"),
        "{err}"
    );
    assert!(
        !err.contains("CHANGE-ME"),
        "the secret itself is never printed: {err}"
    );
}

#[test]
fn environment_variables_override_files() {
    let dir = scratch();
    std::fs::write(dir.join("config/local.yaml"), "server:\n  port: 8081\n").unwrap();
    let out = fox(
        &dir,
        &["config", "show"],
        &[("FOX__SERVER__PORT", "9000"), ("FOX__LOG__FORMAT", "json")],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains("port: 9000"), "{shown}");
    assert!(shown.contains("format: json"), "{shown}");

    let out = fox(
        &dir,
        &["config", "validate"],
        &[("FOX__SERVER__PORT", "abc")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("env FOX__SERVER__PORT: server.port: expected an integer between 1 and 65535, got \"abc\""), "{err}");
}

/// A real key in the format `fox license keygen` prints (tests only).
const SIGNING_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

#[test]
fn show_redacts_every_secret() {
    let dir = scratch();
    std::fs::write(dir.join("config/local.yaml"), "").unwrap();
    let secrets = [
        ("FOX__DATABASE__PASSWORD", "db-pass-1234567"),
        (
            "FOX__SECURITY__SESSION_KEY",
            "session-key-abcdefghijklmnopqrstuvwxyz012345",
        ),
        ("FOX__EMAIL__SMTP__PASSWORD", "smtp-pass-7654321"),
        (
            "FOX__STRIPE__SECRET_KEY",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        ("FOX__STRIPE__WEBHOOK_SECRET", "whsec_abcdef123456"),
        ("FOX__LICENSE__SIGNING_KEY", SIGNING_KEY),
    ];
    let out = fox(&dir, &["config", "show"], &secrets);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (_, v) in secrets {
        assert!(!shown.contains(v), "secret {v} leaked: {shown}");
    }
    assert_eq!(
        shown.matches("[redacted]").count(),
        secrets.len(),
        "{shown}"
    );
}

#[test]
fn example_templates_validate() {
    let local = config::load_layers(
        &[
            "config/base.yaml".into(),
            "config/examples/local-development.yaml".into(),
        ],
        &Environment::local(),
        Vec::new(),
    );
    assert!(local.is_ok(), "{}", local.unwrap_err());
    let secrets = vec![
        (
            "FOX__DATABASE__PASSWORD".to_string(),
            "Zq8vN3k1pR7t".to_string(),
        ),
        (
            "FOX__SECURITY__SESSION_KEY".to_string(),
            "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c".to_string(),
        ),
        (
            "FOX__EMAIL__SMTP__PASSWORD".to_string(),
            "mailer-Pw-41".to_string(),
        ),
        (
            "FOX__LICENSE__SIGNING_KEY".to_string(),
            SIGNING_KEY.to_string(),
        ),
    ];
    let prod = config::load_layers(
        &[
            "config/base.yaml".into(),
            "config/examples/production.yaml".into(),
        ],
        &Environment::production(),
        secrets,
    );
    assert!(prod.is_ok(), "{}", prod.unwrap_err());
    let s = prod.unwrap().settings;
    assert!(
        s.server.trusted_proxies == ["10.0.0.0/8"] && s.server.public_url.starts_with("https://")
    );

    // Without the secrets from the environment, production must not start.
    let bare = config::load_layers(
        &[
            "config/base.yaml".into(),
            "config/examples/production.yaml".into(),
        ],
        &Environment::production(),
        Vec::new(),
    );
    assert!(
        bare.unwrap_err()
            .problems
            .iter()
            .any(|p| p.contains("security.session_key"))
    );
}

#[test]
fn init_writes_templates_that_validate_and_refuses_to_overwrite() {
    let dir = std::env::temp_dir().join(format!("fox-init-{}", uuid::Uuid::new_v4().simple()));
    let out = fox(
        Path::new("."),
        &["config", "init", dir.to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["base.yaml", "local.yaml", "production.yaml"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    assert!(config::load(&dir, &Environment::local(), Vec::new()).is_ok());
    let again = fox(
        Path::new("."),
        &["config", "init", dir.to_str().unwrap()],
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists; use --force"));
}

#[test]
fn committed_schema_matches_the_code() {
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("config/schema.json").unwrap()).unwrap();
    assert_eq!(
        committed,
        config::schema(),
        "config/schema.json is stale: run `fox config schema > config/schema.json`"
    );
}

#[test]
fn reference_page_matches_the_schema() {
    let committed = std::fs::read_to_string("content/docs/configuration.md").unwrap();
    assert_eq!(
        committed,
        config::reference::markdown(&config::schema()),
        "content/docs/configuration.md is stale: run `fox config reference > content/docs/configuration.md`"
    );
}

#[test]
fn every_schema_field_has_a_description() {
    fn walk(node: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
            for (k, v) in props {
                let has = v
                    .get("description")
                    .and_then(|d| d.as_str())
                    .is_some_and(|d| !d.is_empty());
                if !has {
                    missing.push(format!("{path}.{k}"));
                }
            }
        }
    }
    let schema = config::schema();
    let mut missing = Vec::new();
    walk(&schema, "", &mut missing);
    for (name, def) in schema["$defs"].as_object().unwrap() {
        walk(def, name, &mut missing);
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn serve_refuses_an_invalid_config_with_the_same_messages() {
    let dir = scratch();
    std::fs::write(dir.join("config/local.yaml"), "server:\n  port: abc\n").unwrap();
    let out = fox(&dir, &["serve"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "config/local.yaml: server.port: expected an integer between 1 and 65535, got \"abc\""
    ));
}

#[test]
fn a_signing_key_that_is_not_a_key_is_refused() {
    let (code, err) = validate_local("", &[("FOX__LICENSE__SIGNING_KEY", "not-base64-key")]);
    assert_eq!(code, 2);
    assert!(err.contains("env FOX__LICENSE__SIGNING_KEY: license.signing_key: is not a key made by `fox license keygen`"), "{err}");
    assert!(
        !err.contains("not-base64-key"),
        "the value is not echoed: {err}"
    );
}

#[test]
fn one_key_of_a_nested_setting_can_be_overridden_alone() {
    let dir = scratch();
    std::fs::write(
        dir.join("config/local.yaml"),
        "rate_limit:\n  login:\n    max_requests: 3\n",
    )
    .unwrap();
    let out = fox(
        &dir,
        &["config", "show"],
        &[("FOX__RATE_LIMIT__LICENSE_API_PER_IP__MAX_REQUESTS", "1000")],
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("login:\n    max_requests: 3\n    window_secs: 900"),
        "{shown}"
    );
    assert!(
        shown.contains("license_api_per_ip:\n    max_requests: 1000\n    window_secs: 60"),
        "{shown}"
    );
}
