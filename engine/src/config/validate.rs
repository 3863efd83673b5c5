//! Semantic validation of a typed config: ranges, regexes and durations, every problem
//! reported with its path.

use super::{ConfigIssue, ExperimentConfig, Span};

struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.to_owned(),
            message: message.into(),
        });
    }
    fn regexes(&mut self, path: &str, patterns: &[String]) {
        for (i, p) in patterns.iter().enumerate() {
            if let Err(e) = regex::Regex::new(p) {
                self.push(
                    &format!("{path}[{i}]"),
                    format!(
                        "invalid regex: {}",
                        e.to_string().lines().last().unwrap_or("")
                    ),
                );
            }
        }
    }
    fn fraction(&mut self, path: &str, v: f64, lo_open: bool) {
        let ok = if lo_open {
            v > 0.0 && v <= 1.0
        } else {
            (0.0..=1.0).contains(&v)
        };
        if !ok {
            self.push(
                path,
                format!(
                    "must be a fraction in {}0, 1], got {v}",
                    if lo_open { "(" } else { "[" }
                ),
            );
        }
    }
    fn positive(&mut self, path: &str, v: f64) {
        if !(v > 0.0 && v.is_finite()) {
            self.push(path, format!("must be > 0, got {v}"));
        }
    }
    fn span(&mut self, path: &str, span: &Span) {
        if let Span::Duration(s) = span
            && crate::timefmt::parse_duration(s).is_none()
        {
            self.push(
                path,
                format!("`{s}` is not a duration (e.g. `75m`, `2h`, `1d`) nor a bar count"),
            );
        }
    }
}

/// Lists every semantic problem of `cfg`.
pub(super) fn check(cfg: &ExperimentConfig) -> Vec<ConfigIssue> {
    let mut v = Issues(Vec::new());
    if cfg.data.path.as_os_str().is_empty() {
        v.push("data.path", "must not be empty");
    }
    if cfg.data.min_cs == 0 {
        v.push("data.min_cs", "must be at least 1");
    }
    if cfg.data.max_cs_samples == Some(0) {
        v.push("data.max_cs_samples", "must be at least 1 when set");
    }
    if cfg.data.max_rows_per_entity == Some(0) {
        v.push("data.max_rows_per_entity", "must be at least 1 when set");
    }
    if cfg.data.timestamp_col == cfg.data.entity_col {
        v.push("data.entity_col", "must differ from data.timestamp_col");
    }
    let t = &cfg.targets;
    v.regexes("targets.include", &t.include);
    v.regexes("targets.exclude", &t.exclude);
    if t.list.is_empty() && t.include.is_empty() {
        v.push(
            "targets",
            "give either `list` or at least one `include` pattern",
        );
    }
    for (name, span) in &t.horizons {
        v.span(&format!("targets.horizons.{name}"), span);
    }
    v.span("targets.default_horizon", &t.default_horizon);
    if t.top_n == 0 {
        v.push("targets.top_n", "must be at least 1");
    }
    v.fraction("targets.suspicious_ic", t.suspicious_ic, true);
    if !(t.suspicious_auc > 0.5 && t.suspicious_auc <= 1.0) {
        v.push(
            "targets.suspicious_auc",
            format!("must be in (0.5, 1], got {}", t.suspicious_auc),
        );
    }
    let f = &cfg.features;
    v.regexes("features.include", &f.include);
    v.regexes("features.exclude", &f.exclude);
    if f.top_m == 0 {
        v.push("features.top_m", "must be at least 1");
    }
    if f.stability_k == 0 {
        v.push("features.stability_k", "must be at least 1");
    }
    let w = &f.weights;
    for (k, x) in [
        ("gbdt_gain", w.gbdt_gain),
        ("linear_coef", w.linear_coef),
        ("permutation", w.permutation),
    ] {
        if !(x >= 0.0 && x.is_finite()) {
            v.push(
                &format!("features.weights.{k}"),
                format!("must be ≥ 0, got {x}"),
            );
        }
    }
    if w.gbdt_gain + w.linear_coef + w.permutation <= 0.0 {
        v.push("features.weights", "at least one weight must be > 0");
    }
    if cfg.cv.n_splits < 2 {
        v.push(
            "cv.n_splits",
            format!("must be at least 2, got {}", cfg.cv.n_splits),
        );
    }
    if let Some(p) = &cfg.cv.purge {
        v.span("cv.purge", p);
    }
    if let Some(e) = &cfg.cv.embargo {
        v.span("cv.embargo", e);
    }
    let l = &cfg.leakage;
    v.regexes("leakage.name_patterns", &l.name_patterns);
    v.fraction("leakage.near_copy_corr", l.near_copy_corr, true);
    v.fraction("leakage.binary_match", l.binary_match, true);
    v.fraction("leakage.lookahead_min_ic", l.lookahead_min_ic, true);
    v.positive("leakage.lookahead_ratio", l.lookahead_ratio);
    v.fraction("leakage.dominance_share", l.dominance_share, true);
    v.fraction(
        "leakage.dominance_share_with_ratio",
        l.dominance_share_with_ratio,
        true,
    );
    v.positive("leakage.dominance_ratio", l.dominance_ratio);
    v.fraction("leakage.confirm_abs_drop", l.confirm_abs_drop, true);
    v.fraction("leakage.confirm_rel_drop", l.confirm_rel_drop, true);
    let g = &cfg.models.gbdt;
    if g.n_trees == 0 {
        v.push("models.gbdt.n_trees", "must be at least 1");
    }
    if g.num_leaves < 2 {
        v.push("models.gbdt.num_leaves", "must be at least 2");
    }
    v.positive("models.gbdt.learning_rate", g.learning_rate);
    if g.min_data_in_leaf == 0 {
        v.push("models.gbdt.min_data_in_leaf", "must be at least 1");
    }
    if !(g.lambda_l2 >= 0.0 && g.lambda_l2.is_finite()) {
        v.push(
            "models.gbdt.lambda_l2",
            format!("must be ≥ 0, got {}", g.lambda_l2),
        );
    }
    v.fraction("models.gbdt.feature_fraction", g.feature_fraction, true);
    if !(0.05..=0.5).contains(&g.validation_fraction) {
        v.push(
            "models.gbdt.validation_fraction",
            format!(
                "must be between 0.05 and 0.5, got {}",
                g.validation_fraction
            ),
        );
    }
    v.fraction("models.gbdt.bagging_fraction", g.bagging_fraction, true);
    if !(2..=255).contains(&g.max_bins) {
        v.push(
            "models.gbdt.max_bins",
            format!("must be in 2..=255, got {}", g.max_bins),
        );
    }
    if !(cfg.models.linear.alpha >= 0.0 && cfg.models.linear.alpha.is_finite()) {
        v.push(
            "models.linear.alpha",
            format!("must be ≥ 0, got {}", cfg.models.linear.alpha),
        );
    }
    if cfg.models.linear.max_iter == 0 {
        v.push("models.linear.max_iter", "must be at least 1");
    }
    if cfg.output.dir.as_os_str().is_empty() {
        v.push("output.dir", "must not be empty");
    }
    v.0
}
