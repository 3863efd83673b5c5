//! The offline verification example in the docs is real code: it is the file
//! tests/api/support/verify_license_example.rs, compiled and run here against an issued key.

mod example {
    include!("support/verify_license_example.rs");
}

#[test]
fn the_docs_show_exactly_the_tested_example() {
    let doc = std::fs::read_to_string("content/docs/licensing-api.md").unwrap();
    let example = std::fs::read_to_string("tests/api/support/verify_license_example.rs").unwrap();
    let start = doc.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let end = start + doc[start..].find("```").unwrap();
    assert_eq!(
        &doc[start..end],
        example,
        "update the docs block from tests/api/support/verify_license_example.rs"
    );
}

#[test]
fn the_example_verifies_real_keys_and_rejects_altered_ones() {
    let signer = fox::license::Signer::new(fox::license::SigningKey::generate());
    let claims = fox::license::Claims {
        v: 1,
        lid: uuid::Uuid::new_v4(),
        tier: "desk".into(),
        seats: 5,
        iat: 1_700_000_000,
        exp: 2_000_000_000,
        ent: serde_json::json!({"concurrent_jobs": 8}),
    };
    let key = signer.issue(&claims);
    let public = signer.public_key().to_base64();
    let got = example::verify_license(&key, &public, 1_800_000_000).unwrap();
    assert_eq!(got["tier"], "desk");
    assert_eq!(got["seats"], 5);
    assert_eq!(
        example::verify_license(&key, &public, 2_000_000_001).unwrap_err(),
        "the license has expired"
    );
    let other = fox::license::Signer::new(fox::license::SigningKey::generate())
        .public_key()
        .to_base64();
    assert!(
        example::verify_license(&key, &other, 0)
            .unwrap_err()
            .contains("does not match")
    );
    let altered = key.replacen("FOX1-e", "FOX1-f", 1);
    assert!(example::verify_license(&altered, &public, 0).is_err());
}

#[test]
fn the_data_format_page_shows_the_shipped_engine_example() {
    let doc = std::fs::read_to_string("content/docs/data-format.md").unwrap();
    let example = std::fs::read_to_string("engine/examples/quick-demo.yaml").unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    assert_eq!(
        &doc[start..end],
        example,
        "copy engine/examples/quick-demo.yaml into the docs block"
    );
}
