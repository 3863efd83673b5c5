//! Training and evaluation on the selected features: GBDT and the linear model evaluated
//! out-of-sample over the folds, then final models fitted on every labelled row and saved.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::cv_eval::{EvalInput, Family, evaluate};
use crate::cv::CvPlan;
use crate::data::TargetKind;
use crate::error::Result;
use crate::metrics::Score;
use crate::models::gbdt::{Gbdt, Objective};
use crate::models::io::{ModelBody, ModelMeta, SavedModel, save};
use crate::models::linear::LinearModel;

/// Metrics of one trained target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainedTarget {
    /// Target name.
    pub target: String,
    /// Features used.
    pub features: Vec<String>,
    /// Out-of-sample scores by family (`gbdt`, `ridge`/`logistic`).
    pub scores: BTreeMap<String, Score>,
}

fn linear_name(kind: TargetKind) -> &'static str {
    if kind == TargetKind::Binary {
        "logistic"
    } else {
        "ridge"
    }
}

/// Evaluates and (optionally) saves the final models of target `t` on features `feats`.
pub fn train_target(
    inp: &EvalInput,
    t: usize,
    feats: &[usize],
    plan: &CvPlan,
    models_dir: Option<&Path>,
    data_sha256: &str,
) -> Result<TrainedTarget> {
    let target = &inp.panel.targets[t];
    let names: Vec<String> = feats
        .iter()
        .map(|&f| inp.panel.features[f].name.clone())
        .collect();
    let mut scores = BTreeMap::new();
    scores.insert(
        "gbdt".to_string(),
        evaluate(
            inp,
            t,
            feats,
            plan,
            Family::Gbdt,
            false,
            false,
            inp.cfg.seed,
        )
        .score,
    );
    let lin = inp.cfg.models.linear.enabled;
    if lin {
        scores.insert(
            linear_name(target.kind).to_string(),
            evaluate(
                inp,
                t,
                feats,
                plan,
                Family::Linear,
                false,
                false,
                inp.cfg.seed,
            )
            .score,
        );
    }
    if let Some(dir) = models_dir {
        let rows: Vec<u32> = (0..inp.panel.n_rows() as u32)
            .filter(|&r| target.values[r as usize].is_finite())
            .collect();
        let obj = if target.kind == TargetKind::Binary {
            Objective::Logloss
        } else {
            Objective::L2
        };
        let g = Gbdt::train(
            inp.bm,
            feats,
            &rows,
            &target.values,
            &inp.cfg.models.gbdt,
            obj,
            inp.cfg.seed ^ t as u64,
        );
        let mut fits = vec![(
            "gbdt",
            ModelBody::Gbdt(g),
            serde_json::to_value(&inp.cfg.models.gbdt).expect("serializable"),
        )];
        if lin {
            let cols: Vec<&[f32]> = feats
                .iter()
                .map(|&f| inp.panel.features[f].values.as_slice())
                .collect();
            let l = &inp.cfg.models.linear;
            let m = match target.kind {
                TargetKind::Regression => {
                    LinearModel::fit_ridge(&cols, &rows, &target.values, l.alpha)
                }
                TargetKind::Binary => {
                    LinearModel::fit_logistic(&cols, &rows, &target.values, l.alpha, l.max_iter)
                }
            };
            fits.push((
                linear_name(target.kind),
                ModelBody::Linear(m),
                serde_json::to_value(l).expect("serializable"),
            ));
        }
        for (family, body, hp) in fits {
            let meta = ModelMeta {
                target: target.name.clone(),
                family: family.into(),
                features: names.clone(),
                hyperparameters: hp,
                metrics: serde_json::to_value(&scores[family]).expect("serializable"),
                data_sha256: data_sha256.into(),
                sha256: BTreeMap::new(),
                engine_version: env!("CARGO_PKG_VERSION").into(),
            };
            save(
                &dir.join(&target.name).join(family),
                &SavedModel::new(names.clone(), body),
                meta,
            )?;
        }
    }
    inp.progress.tick();
    Ok(TrainedTarget {
        target: target.name.clone(),
        features: names,
        scores,
    })
}
