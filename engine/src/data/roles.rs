//! Column roles: which header columns are the timestamp, the entity, targets and features,
//! from explicit lists or include/exclude regexes; and each target's horizon.

use std::path::Path;

use regex::Regex;

use crate::config::{DataSettings, FeatureSettings, TargetSettings};
use crate::error::{EngineError, Result};

/// Column indices by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// Timestamp column index.
    pub ts: usize,
    /// Entity column index.
    pub entity: usize,
    /// Target column indices, in header order.
    pub targets: Vec<usize>,
    /// Feature column indices, in header order.
    pub features: Vec<usize>,
}

fn compile(patterns: &[String]) -> Vec<Regex> {
    // Patterns were validated with the config; an invalid one simply matches nothing.
    patterns.iter().filter_map(|p| Regex::new(p).ok()).collect()
}

fn find(header: &[String], name: &str, file: &Path, what: &str) -> Result<usize> {
    header.iter().position(|h| h == name).ok_or_else(|| {
        EngineError::data(
            file,
            Some(name),
            None,
            format!("{what} column is missing (header: {})", header.join(", ")),
        )
    })
}

/// Assigns roles to the header's columns.
pub fn assign(
    header: &[String],
    file: &Path,
    data: &DataSettings,
    t: &TargetSettings,
    f: &FeatureSettings,
) -> Result<Roles> {
    let ts = find(header, &data.timestamp_col, file, "timestamp")?;
    let entity = find(header, &data.entity_col, file, "entity")?;
    let reserved = |i: usize| i == ts || i == entity;
    let targets: Vec<usize> = if t.list.is_empty() {
        let (inc, exc) = (compile(&t.include), compile(&t.exclude));
        (0..header.len())
            .filter(|&i| {
                !reserved(i)
                    && inc.iter().any(|r| r.is_match(&header[i]))
                    && !exc.iter().any(|r| r.is_match(&header[i]))
            })
            .collect()
    } else {
        t.list
            .iter()
            .map(|n| find(header, n, file, "listed target"))
            .collect::<Result<_>>()?
    };
    if targets.is_empty() {
        return Err(EngineError::data(
            file,
            None,
            None,
            "no column matches the target patterns",
        ));
    }
    let features: Vec<usize> = if f.list.is_empty() {
        let (inc, exc) = (compile(&f.include), compile(&f.exclude));
        (0..header.len())
            .filter(|&i| {
                !reserved(i)
                    && !targets.contains(&i)
                    && (inc.is_empty() || inc.iter().any(|r| r.is_match(&header[i])))
                    && !exc.iter().any(|r| r.is_match(&header[i]))
            })
            .collect()
    } else {
        f.list
            .iter()
            .map(|n| find(header, n, file, "listed feature"))
            .collect::<Result<_>>()?
    };
    if let Some(&i) = features.iter().find(|i| targets.contains(i)) {
        return Err(EngineError::data(
            file,
            Some(&header[i]),
            None,
            "column is listed both as a target and as a feature",
        ));
    }
    Ok(Roles {
        ts,
        entity,
        targets,
        features,
    })
}

/// Roles for reading exactly the `features` listed (in that order), and no target.
pub fn assign_listed(
    header: &[String],
    file: &Path,
    data: &DataSettings,
    features: &[String],
) -> Result<Roles> {
    Ok(Roles {
        ts: find(header, &data.timestamp_col, file, "timestamp")?,
        entity: find(header, &data.entity_col, file, "entity")?,
        targets: Vec::new(),
        features: features
            .iter()
            .map(|n| find(header, n, file, "model feature"))
            .collect::<Result<_>>()?,
    })
}

/// A target's horizon in seconds: config override, else read from its name, else the default.
pub fn horizon_secs(name: &str, t: &TargetSettings, bar_secs: i64) -> i64 {
    let from_cfg = t.horizons.get(name).and_then(|s| s.seconds(bar_secs));
    let h = from_cfg
        .or_else(|| crate::timefmt::horizon_from_name(name))
        .or_else(|| t.default_horizon.seconds(bar_secs))
        .unwrap_or(bar_secs);
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Span, TargetSettings};

    fn header() -> Vec<String> {
        [
            "ts",
            "symbol",
            "ret_1",
            "vol_5",
            "fwd_ret_15m",
            "y_up_15m",
            "meta_id",
        ]
        .map(String::from)
        .to_vec()
    }

    fn data() -> DataSettings {
        serde_json::from_value(serde_json::json!({"path": "p.csv"})).unwrap()
    }

    #[test]
    fn default_patterns_split_targets_and_features() {
        let r = assign(
            &header(),
            Path::new("p.csv"),
            &data(),
            &TargetSettings::default(),
            &FeatureSettings::default(),
        )
        .unwrap();
        assert_eq!((r.ts, r.entity), (0, 1));
        assert_eq!(r.targets, vec![4, 5]);
        assert_eq!(r.features, vec![2, 3, 6]);
    }

    #[test]
    fn exclude_patterns_and_lists() {
        let f = FeatureSettings {
            exclude: vec!["^meta_".into()],
            ..Default::default()
        };
        let t = TargetSettings {
            list: vec!["y_up_15m".into()],
            ..Default::default()
        };
        let r = assign(&header(), Path::new("p.csv"), &data(), &t, &f).unwrap();
        assert_eq!(r.targets, vec![5]);
        assert_eq!(r.features, vec![2, 3, 4]);
    }

    #[test]
    fn missing_entity_column_is_named() {
        let d = DataSettings {
            entity_col: "ticker".into(),
            ..data()
        };
        let e = assign(
            &header(),
            Path::new("p.csv"),
            &d,
            &TargetSettings::default(),
            &FeatureSettings::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("column `ticker`"), "{e}");
        assert!(e.to_string().contains("entity column is missing"), "{e}");
    }

    #[test]
    fn horizon_sources_in_order() {
        let mut t = TargetSettings::default();
        assert_eq!(horizon_secs("fwd_ret_15m", &t, 300), 900);
        assert_eq!(horizon_secs("y_up", &t, 300), 300);
        t.horizons.insert("fwd_ret_15m".into(), Span::Bars(12));
        assert_eq!(horizon_secs("fwd_ret_15m", &t, 300), 3600);
    }
}
