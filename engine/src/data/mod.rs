//! Panel data: rows are (timestamp, entity) pairs sorted by timestamp then entity, with f32
//! columnar features and targets. Loading = read the file, assign column roles, sort, check
//! duplicates, apply panel hygiene, drop constant features.

mod csv_reader;
mod parquet_reader;

/// Minimal self-cleaning temporary directory for tests (no extra dependency).
#[cfg(test)]
pub(crate) mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "fox-engine-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub mod hygiene;
pub mod inspect;
pub mod roles;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::error::{EngineError, Result};

/// Kind of a target, inferred from its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Continuous values: scored by rank IC.
    Regression,
    /// Only 0/1 values: scored by AUC.
    Binary,
}

/// A named f32 column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// One value per row; NaN means missing.
    pub values: Vec<f32>,
}

/// A candidate target column.
#[derive(Debug, Clone)]
pub struct TargetColumn {
    /// Column name.
    pub name: String,
    /// One value per row; NaN means missing.
    pub values: Vec<f32>,
    /// Regression or binary.
    pub kind: TargetKind,
    /// Label horizon in seconds: the label of a row at `t` covers `(t, t + horizon]`.
    pub horizon_secs: i64,
}

/// A cleaned panel, rows sorted by (timestamp, entity).
#[derive(Debug, Clone)]
pub struct Panel {
    /// The file it came from.
    pub source: PathBuf,
    /// Unix seconds per row, non-decreasing.
    pub ts: Vec<i64>,
    /// Entity id per row (index into `entity_names`).
    pub entity: Vec<u32>,
    /// Entity names, sorted.
    pub entity_names: Vec<String>,
    /// Feature columns.
    pub features: Vec<Column>,
    /// Target columns.
    pub targets: Vec<TargetColumn>,
    /// Bar interval in seconds (median gap between consecutive timestamps).
    pub bar_secs: i64,
}

/// What loading changed, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Data rows read.
    pub rows_read: usize,
    /// Rows kept after hygiene.
    pub rows_kept: usize,
    /// Timestamps kept.
    pub timestamps: usize,
    /// Entities kept.
    pub entities: usize,
    /// Hygiene counts.
    pub hygiene: hygiene::HygieneReport,
    /// Constant features dropped.
    pub constant_features_dropped: Vec<String>,
    /// Human-readable warnings.
    pub warnings: Vec<String>,
}

impl Panel {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.ts.len()
    }

    /// Row ranges sharing one timestamp, in time order.
    pub fn ts_groups(&self) -> Vec<Range<usize>> {
        groups_of(&self.ts)
    }

    /// Distinct timestamps, ascending.
    pub fn unique_ts(&self) -> Vec<i64> {
        let mut u = self.ts.clone();
        u.dedup();
        u
    }

    /// Index of a feature by name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|c| c.name == name)
    }

    /// Keeps only the rows whose `keep` flag is set (order preserved), in place: no column
    /// is copied.
    pub fn retain_rows(&mut self, keep: &[bool]) {
        fn retain<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
            let mut w = 0;
            for r in 0..v.len() {
                if keep[r] {
                    v[w] = v[r];
                    w += 1;
                }
            }
            v.truncate(w);
            v.shrink_to_fit();
        }
        retain(&mut self.ts, keep);
        retain(&mut self.entity, keep);
        for c in &mut self.features {
            retain(&mut c.values, keep);
        }
        for t in &mut self.targets {
            retain(&mut t.values, keep);
        }
    }
}

/// Ranges of equal consecutive values in a sorted slice.
pub fn groups_of(ts: &[i64]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=ts.len() {
        if i == ts.len() || ts[i] != ts[start] {
            if i > start {
                out.push(start..i);
            }
            start = i;
        }
    }
    out
}

/// Median positive gap between consecutive distinct timestamps (1 if there is none).
pub fn infer_bar_secs(unique_ts: &[i64]) -> i64 {
    let mut gaps: Vec<i64> = unique_ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return 1;
    }
    gaps.sort_unstable();
    gaps[gaps.len() / 2]
}

/// Which columns a reader keeps.
#[derive(Clone, Copy)]
pub(crate) enum Which<'a> {
    /// Roles from the experiment config (targets and features).
    Experiment,
    /// Exactly these features, no targets (prediction with a saved model).
    Features(&'a [String]),
}

impl Which<'_> {
    fn assign(
        self,
        header: &[String],
        path: &Path,
        cfg: &ExperimentConfig,
    ) -> Result<roles::Roles> {
        match self {
            Which::Experiment => {
                roles::assign(header, path, &cfg.data, &cfg.targets, &cfg.features)
            }
            Which::Features(names) => roles::assign_listed(header, path, &cfg.data, names),
        }
    }
}

fn read_raw(cfg: &ExperimentConfig, which: Which<'_>) -> Result<csv_reader::RawTable> {
    if cfg.data.is_parquet() {
        parquet_reader::read_parquet(&cfg.data.path, cfg, which)
    } else {
        csv_reader::read_csv(&cfg.data.path, cfg, which)
    }
}

/// Loads the rows of `data` with only the listed feature columns, for prediction: sorted by
/// (timestamp, entity), duplicates rejected, no hygiene filter (every row gets a prediction)
/// and no feature dropped. Missing columns are named.
pub fn load_features(data: &crate::config::DataSettings, features: &[String]) -> Result<Panel> {
    let cfg = ExperimentConfig::new(data.clone());
    let raw = read_raw(&cfg, Which::Features(features))?;
    let mut panel = raw.into_sorted_panel(&cfg.data.path)?;
    panel.bar_secs = infer_bar_secs(&panel.unique_ts());
    Ok(panel)
}

/// Loads, cleans and checks the panel described by `cfg.data`.
pub fn load_panel(cfg: &ExperimentConfig) -> Result<(Panel, LoadReport)> {
    let path: &Path = &cfg.data.path;
    let raw = read_raw(cfg, Which::Experiment)?;
    let mut report = LoadReport {
        rows_read: raw.ts.len(),
        ..Default::default()
    };
    let mut panel = raw.into_sorted_panel(path)?;
    panel.bar_secs = infer_bar_secs(&panel.unique_ts());
    let (keep, h) = hygiene::apply(&panel, &cfg.data, cfg.seed);
    report.hygiene = h;
    if keep.iter().any(|k| !k) {
        panel.retain_rows(&keep);
    }
    let mut kept = Vec::new();
    for col in std::mem::take(&mut panel.features) {
        if is_constant(&col.values) {
            let msg = format!("feature `{}` is constant after cleaning; dropped", col.name);
            tracing::warn!(feature = %col.name, "constant feature dropped");
            report.warnings.push(msg);
            report.constant_features_dropped.push(col.name);
        } else {
            kept.push(col);
        }
    }
    panel.features = kept;
    for t in &mut panel.targets {
        if !t.values.iter().any(|v| v.is_finite()) {
            return Err(EngineError::data(
                path,
                Some(&t.name),
                None,
                "target has no finite values after cleaning",
            ));
        }
        t.kind = if t
            .values
            .iter()
            .filter(|v| v.is_finite())
            .all(|v| *v == 0.0 || *v == 1.0)
        {
            TargetKind::Binary
        } else {
            TargetKind::Regression
        };
        t.horizon_secs = roles::horizon_secs(&t.name, &cfg.targets, panel.bar_secs);
    }
    if panel.features.is_empty() {
        return Err(EngineError::data(
            path,
            None,
            None,
            "no usable feature columns",
        ));
    }
    report.rows_kept = panel.n_rows();
    report.timestamps = panel.ts_groups().len();
    let mut ents: Vec<u32> = panel.entity.clone();
    ents.sort_unstable();
    ents.dedup();
    report.entities = ents.len();
    Ok((panel, report))
}

fn is_constant(values: &[f32]) -> bool {
    let mut finite = values.iter().filter(|v| v.is_finite());
    match finite.next() {
        None => true,
        Some(first) => finite.all(|v| v == first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_bar_interval() {
        let ts = [0, 0, 300, 300, 300, 600, 1200];
        assert_eq!(groups_of(&ts), vec![0..2, 2..5, 5..6, 6..7]);
        assert_eq!(infer_bar_secs(&[0, 300, 600, 1200]), 300);
    }

    #[test]
    fn constant_detection_ignores_missing() {
        assert!(is_constant(&[1.0, f32::NAN, 1.0]));
        assert!(is_constant(&[f32::NAN]));
        assert!(!is_constant(&[1.0, 2.0]));
    }
}
