//! GBDT benchmark against LightGBM (driven by `bench/engine_bench.sh`): trains our histogram
//! GBDT on the first 80 % of timestamps of a panel CSV and scores the last 20 % (after a purge
//! of 12 bars), printing one JSON line per target with the timings and held-out metrics.
//! Targets: `FOX_BENCH_TARGETS` (comma-separated, default `fwd_ret_15m,y_up_15m`).
//!
//! Usage: `cargo bench -p fox-engine --bench gbdt -- DATA.csv THREADS N_TREES NUM_LEAVES LR`

use std::time::Instant;

use fox_engine::config::{ExperimentConfig, GbdtSettings};
use fox_engine::data::{TargetKind, load_panel};
use fox_engine::metrics::score;
use fox_engine::models::binning::BinnedMatrix;
use fox_engine::models::gbdt::{Gbdt, Objective};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let path = args
        .first()
        .expect("usage: DATA.csv THREADS N_TREES NUM_LEAVES LR");
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let threads: usize = arg(1, "2").parse().unwrap();
    let p = GbdtSettings {
        n_trees: arg(2, "100").parse().unwrap(),
        num_leaves: arg(3, "31").parse().unwrap(),
        learning_rate: arg(4, "0.05").parse().unwrap(),
        min_data_in_leaf: 20,
        lambda_l2: 1.0,
        ..Default::default()
    };
    let mut cfg = ExperimentConfig::from_yaml_str("data:\n  path: x\n").unwrap();
    cfg.data.path = path.into();
    cfg.features.exclude = vec!["^leak_".into(), "^p_".into()];
    let (panel, _) = load_panel(&cfg).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let uniq = panel.unique_ts();
        let cut = uniq[uniq.len() * 8 / 10];
        let purge = 12 * panel.bar_secs;
        let t0 = Instant::now();
        let bm = BinnedMatrix::build(&panel.features, 255);
        let bin_s = t0.elapsed().as_secs_f64();
        let feats: Vec<usize> = (0..panel.features.len()).collect();
        let only = std::env::var("FOX_BENCH_TARGETS").unwrap_or_else(|_| "fwd_ret_15m,y_up_15m".into());
        for t in &panel.targets {
            if !only.split(',').any(|n| n == t.name) {
                continue;
            }
            let y = &t.values;
            let train: Vec<u32> = (0..panel.n_rows() as u32).filter(|&r| panel.ts[r as usize] <= cut - purge && y[r as usize].is_finite()).collect();
            let test: Vec<u32> = (0..panel.n_rows() as u32).filter(|&r| panel.ts[r as usize] >= cut).collect();
            let obj = if t.kind == TargetKind::Binary { Objective::Logloss } else { Objective::L2 };
            let t1 = Instant::now();
            let m = Gbdt::train(&bm, &feats, &train, y, &p, obj, 7);
            let train_s = t1.elapsed().as_secs_f64();
            let pred = m.predict_binned(&bm, &feats, &test);
            let ts: Vec<i64> = test.iter().map(|&r| panel.ts[r as usize]).collect();
            let lab: Vec<f32> = test.iter().map(|&r| y[r as usize]).collect();
            let s = score(t.kind, &ts, &pred, &lab, 1);
            println!(
                "{}",
                serde_json::json!({"impl": "fox-engine", "target": t.name, "threads": threads, "rows_train": train.len(), "bin_s": bin_s, "train_s": train_s,
                    "rank_ic": (t.kind == TargetKind::Regression).then_some(s.skill.mean), "auc": s.auc})
            );
        }
    });
}
