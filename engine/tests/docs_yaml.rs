//! Every experiment example in the website's docs (`content/docs/*.md`, fenced `yaml` blocks
//! with a `data:` section) is a valid experiment config: users copy them.

use fox_engine::config::ExperimentConfig;

#[test]
fn experiment_examples_in_the_docs_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../content/docs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("```yaml\n") {
            let body = &rest[start + 8..];
            let end = body.find("```").expect("closed code block");
            let yaml = &body[..end];
            if yaml.lines().any(|l| l.starts_with("data:")) {
                if let Err(e) = ExperimentConfig::from_yaml_str(yaml) {
                    panic!(
                        "{}: example does not validate:\n{e}\n---\n{yaml}",
                        path.display()
                    );
                }
                checked += 1;
            }
            rest = &body[end + 3..];
        }
    }
    assert!(checked >= 2, "found only {checked} experiment examples");
}
