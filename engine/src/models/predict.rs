//! Prediction with a saved model over a data file: `fox-engine predict`.
//!
//! Output is CSV, one line per (timestamp, entity) row sorted by timestamp then entity:
//! `<timestamp column>,<entity column>,score` plus `probability` for binary models (log-loss
//! GBDT, logistic regression), whose score is log-odds. Timestamps are written in RFC 3339.
//! A missing feature value is handled as in training (the tree's missing branch, or the
//! training mean for linear models).

use std::io::Write;
use std::path::Path;

use super::gbdt::Objective;
use super::io::{ModelBody, load};
use super::linear::LinearKind;
use crate::config::DataSettings;
use crate::error::{EngineError, Result};

/// What a prediction run did.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictReport {
    /// Target the model predicts.
    pub target: String,
    /// Model family.
    pub family: String,
    /// Rows predicted.
    pub rows: usize,
}

/// Whether the model's raw output is log-odds.
fn is_binary(body: &ModelBody) -> bool {
    match body {
        ModelBody::Gbdt(g) => g.objective == Objective::Logloss,
        ModelBody::Linear(l) => l.kind == LinearKind::Logistic,
    }
}

/// Loads the model in `model_dir` (checksum verified), reads `data` (CSV or Parquet) with only
/// the model's features, and writes one prediction per row to `out`.
pub fn predict_file(
    model_dir: &Path,
    data: &DataSettings,
    out: &mut dyn Write,
) -> Result<PredictReport> {
    let (model, meta) = load(model_dir)?;
    let panel = crate::data::load_features(data, &model.features)?;
    let scores = model.predict_panel(&panel)?;
    let binary = is_binary(&model.model);
    let csv_err = |e: csv::Error| {
        let msg = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => EngineError::io("<predictions output>", io),
            _ => EngineError::data("<predictions output>", None, None, msg),
        }
    };
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec![
        data.timestamp_col.as_str(),
        data.entity_col.as_str(),
        "score",
    ];
    if binary {
        header.push("probability");
    }
    w.write_record(&header).map_err(csv_err)?;
    for (r, s) in scores.iter().enumerate() {
        let mut rec = vec![
            crate::timefmt::format_rfc3339(panel.ts[r]),
            panel.entity_names[panel.entity[r] as usize].clone(),
            s.to_string(),
        ];
        if binary {
            rec.push((1.0 / (1.0 + (-s).exp())).to_string());
        }
        w.write_record(&rec).map_err(csv_err)?;
    }
    w.flush()
        .map_err(|e| EngineError::io("<predictions output>", e))?;
    Ok(PredictReport {
        target: meta.target,
        family: meta.family,
        rows: scores.len(),
    })
}
