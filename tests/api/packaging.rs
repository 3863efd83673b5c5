//! No Docker engine runs here, so the image and compose files are checked by reading them:
//! what they copy exists, the runtime is non-root with a health check, compose parses.

#[test]
fn dockerfile_is_multi_stage_non_root_offline_with_healthcheck() {
    let d = std::fs::read_to_string("Dockerfile").unwrap();
    assert_eq!(
        d.matches("\nFROM ").count() + usize::from(d.starts_with("FROM ")),
        2,
        "build and runtime stages"
    );
    assert!(
        d.contains("ENV SQLX_OFFLINE=true"),
        "builds without a database"
    );
    assert!(d.contains("--locked"));
    assert!(d.contains("\nUSER fox\n"), "runs as a non-root user");
    assert!(d.contains("HEALTHCHECK") && d.contains("/healthz"));
    assert!(d.contains("STOPSIGNAL SIGTERM"));
    for line in d
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let src = line.split_whitespace().nth(1).unwrap();
        if src != "." {
            assert!(
                std::path::Path::new(src).exists(),
                "Dockerfile copies {src}, which must exist"
            );
        }
    }
    let ignore = std::fs::read_to_string(".dockerignore").unwrap();
    assert!(
        ignore.lines().any(|l| l == "target"),
        "the build context leaves out target/"
    );
}

#[test]
fn compose_file_parses_and_wires_app_to_db() {
    let c: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string("docker-compose.yml").unwrap()).unwrap();
    let app = &c["services"]["app"];
    let worker = &c["services"]["worker"];
    assert_eq!(
        worker["command"][0], "worker",
        "a worker service that scales"
    );
    assert!(
        worker.get("container_name").is_none() && worker.get("ports").is_none(),
        "--scale worker=3 needs neither a fixed name nor a host port"
    );
    assert_eq!(worker["environment"]["FOX__DATABASE__HOST"], "db");
    // The server and the workers share the object store.
    let vols = |s: &serde_json::Value| -> Vec<String> {
        s["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(vols(app).contains(&"storage:/app/var/storage".to_string()));
    assert!(vols(worker).contains(&"storage:/app/var/storage".to_string()));
    assert_eq!(app["environment"]["FOX__WORKER__EMBEDDED_SLOTS"], "0");
    assert_eq!(app["environment"]["FOX_ENV"], "production");
    assert_eq!(app["environment"]["FOX__DATABASE__HOST"], "db");
    assert_eq!(app["depends_on"]["db"]["condition"], "service_healthy");
    assert!(c["services"]["db"]["healthcheck"].is_object());
    // Every FOX__ key the compose file sets must exist in the configuration schema.
    let schema = fox::config::schema();
    for key in app["environment"]
        .as_object()
        .unwrap()
        .keys()
        .chain(worker["environment"].as_object().unwrap().keys())
        .filter(|k| k.starts_with("FOX__"))
    {
        let mut node = &schema;
        for seg in key["FOX__".len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
        {
            let props = match node.get("$ref").and_then(|r| r.as_str()) {
                Some(r) => &schema["$defs"][r.trim_start_matches("#/$defs/")]["properties"],
                None => &node["properties"],
            };
            node = &props[seg.as_str()];
            assert!(!node.is_null(), "{key} is not a configuration key");
        }
    }
}
