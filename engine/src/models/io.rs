//! The saved-model format: a directory holding `model.json` (the model) and `model_meta.json`
//! (features, metrics, hyperparameters, SHA-256 of `model.json`). Loading verifies the
//! checksum and the feature list; prediction takes raw feature values by name.
//!
//! `model.json`: `{"format": "fox-engine-model", "version": 1, "features": [...],
//! "model": {"family": "gbdt", "objective": "l2"|"logloss", "init": f, "n_features": k,
//! "trees": [{"nodes": [{"type": "split", "feature": i, "threshold": x, "bin": b, "left": l,
//! "right": r, "gain": g} | {"type": "leaf", "value": v}, ...]}]}` or
//! `{"family": "linear", "kind": "ridge"|"logistic", "means", "scales", "coef", "intercept"}`.
//! A split sends a row left when the value is missing or `≤ threshold`. Outputs are raw scores:
//! the regression prediction, or log-odds for binary targets.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::gbdt::Gbdt;
use super::linear::LinearModel;
use crate::data::Panel;
use crate::error::{EngineError, Result};
use crate::files::{sha256_hex, to_json, write_atomic};

/// Format identifier in `model.json`.
pub const FORMAT: &str = "fox-engine-model";

/// The model itself, tagged by family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum ModelBody {
    /// Gradient-boosted trees.
    Gbdt(Gbdt),
    /// Ridge or logistic regression.
    Linear(LinearModel),
}

/// Contents of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Feature names, in the order the model reads them.
    pub features: Vec<String>,
    /// The model.
    pub model: ModelBody,
}

/// Contents of `model_meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Target the model predicts.
    pub target: String,
    /// `gbdt`, `ridge` or `logistic`.
    pub family: String,
    /// Feature names (same as in `model.json`).
    pub features: Vec<String>,
    /// Hyperparameters used.
    pub hyperparameters: serde_json::Value,
    /// Out-of-sample CV metrics of this configuration.
    pub metrics: serde_json::Value,
    /// SHA-256 of the input data file.
    pub data_sha256: String,
    /// SHA-256 of each model file, by file name.
    pub sha256: BTreeMap<String, String>,
    /// Engine version that wrote it.
    pub engine_version: String,
}

impl SavedModel {
    /// Wraps a model body with its feature names.
    pub fn new(features: Vec<String>, model: ModelBody) -> Self {
        Self {
            format: FORMAT.into(),
            version: 1,
            features,
            model,
        }
    }

    /// Raw score for one row of values in `self.features` order.
    pub fn predict_row(&self, x: &[f32]) -> f64 {
        match &self.model {
            ModelBody::Gbdt(g) => g.predict_row(x),
            ModelBody::Linear(l) => l.predict_row(x),
        }
    }

    /// Raw scores for every row of a panel, reading features by name.
    pub fn predict_panel(&self, panel: &Panel) -> Result<Vec<f64>> {
        let cols: Vec<&[f32]> = self
            .features
            .iter()
            .map(|f| {
                panel
                    .feature_index(f)
                    .map(|i| panel.features[i].values.as_slice())
                    .ok_or_else(|| {
                        EngineError::data(
                            &panel.source,
                            Some(f),
                            None,
                            "the model needs this feature but the data lacks it",
                        )
                    })
            })
            .collect::<Result<_>>()?;
        let mut x = vec![0f32; cols.len()];
        Ok((0..panel.n_rows())
            .map(|r| {
                for (v, c) in x.iter_mut().zip(&cols) {
                    *v = c[r];
                }
                self.predict_row(&x)
            })
            .collect())
    }
}

/// Writes `model.json` and `model_meta.json` into `dir`; fills `meta.sha256`.
pub fn save(dir: &Path, model: &SavedModel, mut meta: ModelMeta) -> Result<ModelMeta> {
    let text = to_json(model);
    write_atomic(&dir.join("model.json"), text.as_bytes())?;
    meta.sha256 = BTreeMap::from([("model.json".to_string(), sha256_hex(text.as_bytes()))]);
    meta.features = model.features.clone();
    write_atomic(&dir.join("model_meta.json"), to_json(&meta).as_bytes())?;
    Ok(meta)
}

/// Loads a model directory, verifying the checksum and the feature list.
pub fn load(dir: &Path) -> Result<(SavedModel, ModelMeta)> {
    let read =
        |name: &str| std::fs::read(dir.join(name)).map_err(|e| EngineError::io(dir.join(name), e));
    let meta: ModelMeta = serde_json::from_slice(&read("model_meta.json")?)
        .map_err(|e| EngineError::Model(format!("model_meta.json: {e}")))?;
    let bytes = read("model.json")?;
    if meta.sha256.get("model.json") != Some(&sha256_hex(&bytes)) {
        return Err(EngineError::Model(format!(
            "{}: model.json does not match the checksum in model_meta.json",
            dir.display()
        )));
    }
    let model: SavedModel = serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::Model(format!("model.json: {e}")))?;
    if model.format != FORMAT || model.version != 1 {
        return Err(EngineError::Model(format!(
            "unsupported model format {} v{}",
            model.format, model.version
        )));
    }
    if model.features != meta.features {
        return Err(EngineError::Model(
            "feature lists of model.json and model_meta.json differ".into(),
        ));
    }
    Ok((model, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::binning::BinnedMatrix;
    use crate::models::gbdt::Objective;
    use crate::synth::{SynthParams, generate};

    #[test]
    fn save_load_predict_round_trip_and_tamper_detection() {
        let panel = generate(&SynthParams {
            n_entities: 10,
            n_timestamps: 50,
            n_noise: 2,
            leaks: false,
            ..Default::default()
        });
        let bm = BinnedMatrix::build(&panel.features, 255);
        let feats: Vec<usize> = (0..panel.features.len()).collect();
        let rows: Vec<u32> = (0..panel.n_rows() as u32).collect();
        let p = crate::config::GbdtSettings {
            n_trees: 10,
            num_leaves: 7,
            ..Default::default()
        };
        let g = Gbdt::train(
            &bm,
            &feats,
            &rows,
            &panel.targets[0].values,
            &p,
            Objective::L2,
            1,
        );
        let expected = g.predict_binned(&bm, &feats, &rows);
        let names = panel.features.iter().map(|c| c.name.clone()).collect();
        let model = SavedModel::new(names, ModelBody::Gbdt(g));
        let dir = std::env::temp_dir().join(format!("fox-model-{}", std::process::id()));
        let meta = ModelMeta {
            target: "fwd_ret_15m".into(),
            family: "gbdt".into(),
            features: vec![],
            hyperparameters: serde_json::to_value(&p).unwrap(),
            metrics: serde_json::json!({}),
            data_sha256: String::new(),
            sha256: BTreeMap::new(),
            engine_version: env!("CARGO_PKG_VERSION").into(),
        };
        save(&dir, &model, meta).unwrap();
        let (loaded, _) = load(&dir).unwrap();
        assert_eq!(loaded, model);
        assert_eq!(loaded.predict_panel(&panel).unwrap(), expected);
        std::fs::write(
            dir.join("model.json"),
            to_json(&model).replace("\"l2\"", "\"logloss\""),
        )
        .unwrap();
        assert!(load(&dir).unwrap_err().to_string().contains("checksum"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
