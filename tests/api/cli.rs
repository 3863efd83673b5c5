//! The `fox user` and `fox license` commands, run as the real binary on a fresh database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn fox(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fox"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FOX")) {
        c.env_remove(k);
    }
    c.env("FOX__DATABASE__NAME", db)
        .env("FOX__LOG__FORMAT", "llm");
    c
}

fn run(mut cmd: Command, args: &[&str], stdin: &str) -> Output {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn fresh_db() -> String {
    format!("fox_test_{}", uuid::Uuid::new_v4().simple())
}

async fn pool(db: &str) -> sqlx::PgPool {
    let mut s = crate::helpers::base_settings();
    s.database.name = db.to_string();
    fox::db::migrate(&s.database).await.unwrap()
}

/// `signing_key: …` / `public_key: …` from keygen's output.
fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[test]
fn every_command_has_help() {
    for args in [
        &["user", "create", "--help"][..],
        &["license", "keygen", "--help"],
        &["license", "issue", "--help"],
        &["license", "list", "--help"],
        &["license", "revoke", "--help"],
    ] {
        let o = run(fox("unused"), args, "");
        assert!(o.status.success(), "{args:?}");
        assert!(text(&o).0.contains("Usage: fox"), "{args:?}");
    }
    let (out, _) = text(&run(fox("unused"), &["license", "issue", "--help"], ""));
    assert!(out.contains("--tier") && out.contains("--days"));
}

#[test]
fn keygen_prints_a_signing_key_and_its_public_key() {
    let o = run(fox("unused"), &["license", "keygen"], "");
    assert!(o.status.success());
    let (out, _) = text(&o);
    let key = fox::license::SigningKey::from_base64(field(&out, "signing_key")).unwrap();
    assert_eq!(key.public_key().to_base64(), field(&out, "public_key"));
    let again = text(&run(fox("unused"), &["license", "keygen"], "")).0;
    assert_ne!(field(&again, "signing_key"), field(&out, "signing_key"));
}

#[tokio::test]
async fn user_create_takes_the_password_from_stdin() {
    let db = fresh_db();
    let o = run(
        fox(&db),
        &[
            "user",
            "create",
            "--role",
            "admin",
            "--email",
            "Root@FoxML.example",
            "--password-stdin",
        ],
        "correct horse battery staple\n",
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.starts_with("created admin user "), "{out}");
    assert!(
        !err.contains("correct horse") && !err.contains("root@foxml.example"),
        "no secrets or addresses in logs: {err}"
    );

    let pool = pool(&db).await;
    let (role, hash, customer): (String, String, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT role, password_hash, customer_id FROM users WHERE email = 'root@foxml.example'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(role, "admin");
    assert_eq!(customer, None);
    assert!(
        fox::auth::password::verify("correct horse battery staple".into(), Some(hash))
            .await
            .unwrap()
    );
    let actor: String =
        sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'user.create'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(actor, "cli");

    // A customer gets a customer record.
    let o = run(
        fox(&db),
        &[
            "user",
            "create",
            "--role",
            "customer",
            "--email",
            "ada@analytical.example",
            "--company",
            "Analytical",
        ],
        "another long passphrase\n",
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let company: String = sqlx::query_scalar("SELECT c.company FROM customers c JOIN users u ON u.customer_id = c.id WHERE u.email = 'ada@analytical.example'").fetch_one(&pool).await.unwrap();
    assert_eq!(company, "Analytical");

    // Bad input: each error names the problem and exits non-zero.
    for (args, stdin, needle) in [
        (
            vec!["--role", "sales", "--email", "sam@foxml.example"],
            "short\n",
            "password: Use at least 12 characters.",
        ),
        (
            vec!["--role", "sales", "--email", "not-an-email"],
            "correct horse battery staple\n",
            "--email",
        ),
        (
            vec!["--role", "admin", "--email", "root@foxml.example"],
            "correct horse battery staple\n",
            "already exists",
        ),
        (
            vec!["--role", "wizard", "--email", "x@foxml.example"],
            "correct horse battery staple\n",
            "wizard",
        ),
    ] {
        let mut all = vec!["user", "create"];
        all.extend(args);
        let o = run(fox(&db), &all, stdin);
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{all:?}");
        assert!(err.contains(needle), "{all:?}: {err}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn license_issue_list_and_revoke() {
    let db = fresh_db();
    let keygen = text(&run(fox("unused"), &["license", "keygen"], "")).0;
    let signing = field(&keygen, "signing_key").to_string();
    let public = fox::license::PublicKey::from_base64(field(&keygen, "public_key")).unwrap();
    let with_key = || {
        let mut c = fox(&db);
        c.env("FOX__LICENSE__SIGNING_KEY", &signing);
        c
    };

    // Outside local development, without a signing key nothing unverifiable is issued.
    let staging_dir = std::env::temp_dir().join(format!("fox-config-{db}"));
    std::fs::create_dir_all(&staging_dir).unwrap();
    std::fs::copy("config/base.yaml", staging_dir.join("base.yaml")).unwrap();
    std::fs::write(staging_dir.join("staging.yaml"), "{}\n").unwrap();
    let mut staging = fox(&db);
    staging
        .env("FOX_ENV", "staging")
        .env("FOX_CONFIG_DIR", &staging_dir);
    let o = run(
        staging,
        &[
            "license",
            "issue",
            "--email",
            "cfo@enterprise.example",
            "--tier",
            "desk",
        ],
        "",
    );
    assert!(!o.status.success());
    assert!(text(&o).1.contains("fox license keygen"));

    // An unknown tier lists the known ones.
    let o = run(
        with_key(),
        &[
            "license",
            "issue",
            "--email",
            "cfo@enterprise.example",
            "--tier",
            "platinum",
        ],
        "",
    );
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains(
            "unknown tier \"platinum\"; known tiers: evaluation, researcher, desk, enterprise"
        ),
        "{}",
        text(&o).1
    );
    let o = run(
        with_key(),
        &[
            "license",
            "issue",
            "--email",
            "cfo@enterprise.example",
            "--tier",
            "desk",
            "--days",
            "0",
        ],
        "",
    );
    assert!(!o.status.success());
    assert!(text(&o).1.contains("--days"));

    let o = run(
        with_key(),
        &[
            "license",
            "issue",
            "--email",
            "cfo@enterprise.example",
            "--tier",
            "desk",
            "--days",
            "45",
            "--company",
            "Enterprise",
        ],
        "",
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let id: uuid::Uuid = field(&out, "license_id").parse().unwrap();
    let key = field(&out, "key");
    let claims = public
        .verify(key)
        .expect("the printed key verifies with the public key");
    assert_eq!(
        (claims.lid, claims.tier.as_str(), claims.seats),
        (id, "desk", 5)
    );
    assert!(!err.contains(key), "the key is not logged");

    let pool = pool(&db).await;
    let (source, days): (String, f64) =
        sqlx::query_as("SELECT source, EXTRACT(EPOCH FROM expires_at - now())::float8 / 86400 FROM licenses WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!(source, "cli");
    assert!((44.9..45.1).contains(&days));
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'license_key' AND to_address = 'cfo@enterprise.example'").fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 1);

    let o = run(fox(&db), &["license", "list"], "");
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.starts_with("ID ")
            && out.contains(&id.to_string())
            && out.contains("cfo@enterprise.example")
            && out.contains("ACTIVE"),
        "{out}"
    );

    let o = run(
        fox(&db),
        &[
            "license",
            "revoke",
            &id.to_string(),
            "--reason",
            "Contract ended",
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(text(&o).0.trim(), format!("revoked license {id}"));
    let status: String = sqlx::query_scalar("SELECT status FROM licenses WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "REVOKED");
    let actions: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, action FROM audit_log ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            ("cli".to_string(), "license.issue".to_string()),
            ("cli".to_string(), "license.revoke".to_string())
        ]
    );
    let status_mail: i64 =
        sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'license_status'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status_mail, 1);

    for (arg, needle) in [
        (id.to_string(), "revocation is final"),
        ("nonsense".to_string(), "not a license id"),
        (uuid::Uuid::now_v7().to_string(), "no license with id"),
    ] {
        let o = run(fox(&db), &["license", "revoke", &arg], "");
        assert!(!o.status.success());
        assert!(text(&o).1.contains(needle), "{arg}: {}", text(&o).1);
    }
}

#[tokio::test]
async fn local_development_signs_with_one_generated_key_across_runs() {
    let db = fresh_db();
    // In local development the CLI signs with the generated local key the local server uses
    // (created once in security.local_keys_dir), so its keys verify after restarts too.
    let keys = std::env::temp_dir().join(format!("fox-keys-{db}"));
    let local = || {
        let mut c = fox(&db);
        c.env("FOX__SECURITY__LOCAL_KEYS_DIR", &keys);
        c
    };
    let issue_local = |email: &str| {
        let o = run(
            local(),
            &["license", "issue", "--email", email, "--tier", "desk"],
            "",
        );
        assert!(o.status.success(), "{}", text(&o).1);
        field(&text(&o).0, "key").to_string()
    };
    let first = issue_local("local-one@enterprise.example");
    let second = issue_local("local-two@enterprise.example");
    let local_key = fox::license::SigningKey::from_base64(
        std::fs::read_to_string(keys.join("license-signing.key"))
            .unwrap()
            .trim(),
    )
    .unwrap()
    .public_key();
    assert!(local_key.verify(&first).is_ok() && local_key.verify(&second).is_ok());
    // The server of the same local setup publishes that key.
    let app = crate::helpers::spawn_app_with(|s| {
        s.security.local_keys_dir = keys.display().to_string();
        s.license.signing_key = None;
    })
    .await;
    let published: serde_json::Value = app
        .get("/.well-known/fox-license-key")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(published["public_key"], local_key.to_base64());
}
