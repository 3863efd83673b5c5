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
    let io = |e| EngineError::io("<predictions output>", e);
    let mut line = format!("{},{},score", data.timestamp_col, data.entity_col);
    if binary {
        line.push_str(",probability");
    }
    writeln!(out, "{line}").map_err(io)?;
    for (r, s) in scores.iter().enumerate() {
        line.clear();
        line.push_str(&crate::timefmt::format_rfc3339(panel.ts[r]));
        line.push(',');
        line.push_str(&csv_field(&panel.entity_names[panel.entity[r] as usize]));
        line.push_str(&format!(",{s}"));
        if binary {
            line.push_str(&format!(",{}", 1.0 / (1.0 + (-s).exp())));
        }
        writeln!(out, "{line}").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(PredictReport {
        target: meta.target,
        family: meta.family,
        rows: scores.len(),
    })
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(csv_field("AAPL"), "AAPL");
        assert_eq!(csv_field("A,B"), "\"A,B\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
