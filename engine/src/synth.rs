//! Deterministic synthetic panel with known truth, for tests, demos and benchmarks.
//!
//! Each entity follows its own AR(1) features; the next bar's return is
//! `r(t+1) = signal · mean-signal(t) + ε`, where the mean signal is the normalised sum of the
//! informative features (all with equal weight, so none of them dominates). Targets:
//!
//! | target | meaning | predictability |
//! | --- | --- | --- |
//! | `fwd_ret_15m` | sum of the next 3 bar returns | highest |
//! | `y_up_15m` | `fwd_ret_15m > 0` (binary) | high |
//! | `fwd_ret_60m` | sum of the next 12 bar returns | lower |
//! | `y_up_60m` | `fwd_ret_60m > 0` (binary) | lower |
//! | `target_noise_15m` | independent noise | none |
//!
//! Features: `alpha_k` (informative), `noise_k` (pure noise), `ret_1` (last bar's return,
//! legitimate), and, when `leaks` is on, one planted leak of each kind: `leak_copy` (target +
//! tiny noise), `leak_future` (the target one bar ahead), `leak_rolling` (a centred rolling
//! mean of returns that includes the label window), `p_up_15m` (a prediction column caught by
//! name) and `leak_flip` (`1 − y_up_15m`).

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Panel, TargetColumn, TargetKind};
use crate::error::{EngineError, Result};

/// Generator parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SynthParams {
    /// Entities (e.g. symbols).
    pub n_entities: usize,
    /// Timestamps (bars).
    pub n_timestamps: usize,
    /// Informative features.
    pub n_informative: usize,
    /// Pure-noise features.
    pub n_noise: usize,
    /// Loading of the next bar's return on the mean signal (noise has unit variance).
    pub signal: f64,
    /// AR(1) coefficient of every feature.
    pub persistence: f64,
    /// Bar interval in seconds.
    pub bar_secs: i64,
    /// Plant the leaks.
    pub leaks: bool,
    /// Seed.
    pub seed: u64,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            n_entities: 50,
            n_timestamps: 400,
            n_informative: 5,
            n_noise: 15,
            signal: 0.3,
            persistence: 0.5,
            bar_secs: 300,
            leaks: true,
            seed: 42,
        }
    }
}

/// Names of the planted leak features.
pub const LEAK_FEATURES: [&str; 5] = [
    "leak_copy",
    "leak_future",
    "leak_rolling",
    "p_up_15m",
    "leak_flip",
];

/// First timestamp: 2024-01-02T00:00:00Z.
const START: i64 = 1_704_153_600;
const H_SHORT: usize = 3;
const H_LONG: usize = 12;

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; deterministic given the stream.
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Per-entity series, indexed by bar (with extra bars at the end for forward returns).
struct EntitySeries {
    feats: Vec<Vec<f64>>,
    ret: Vec<f64>,
    noise_target: Vec<f64>,
    copy_noise: Vec<f64>,
}

fn simulate_entity(p: &SynthParams, e: usize) -> EntitySeries {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_mul(1_000_003).wrapping_add(e as u64));
    let total = p.n_timestamps + H_LONG + 2;
    let k = p.n_informative + p.n_noise;
    let phi = p.persistence;
    let innov = (1.0 - phi * phi).sqrt();
    let mut feats = vec![vec![0.0; total]; k];
    for f in feats.iter_mut() {
        f[0] = normal(&mut rng);
        for t in 1..total {
            f[t] = phi * f[t - 1] + innov * normal(&mut rng);
        }
    }
    let norm = (p.n_informative.max(1) as f64).sqrt();
    let mut ret = vec![0.0; total];
    for t in 1..total {
        let s: f64 = feats[..p.n_informative]
            .iter()
            .map(|f| f[t - 1])
            .sum::<f64>()
            / norm;
        ret[t] = p.signal * s + normal(&mut rng);
    }
    let noise_target = (0..total).map(|_| normal(&mut rng)).collect();
    let copy_noise = (0..total).map(|_| normal(&mut rng)).collect();
    EntitySeries {
        feats,
        ret,
        noise_target,
        copy_noise,
    }
}

fn fwd(ret: &[f64], t: usize, h: usize) -> f64 {
    ret[t + 1..=t + h].iter().sum()
}

/// Generates the panel in memory.
pub fn generate(p: &SynthParams) -> Panel {
    let n = p.n_entities * p.n_timestamps;
    let series: Vec<EntitySeries> = (0..p.n_entities).map(|e| simulate_entity(p, e)).collect();
    let mut names: Vec<String> = (0..p.n_informative).map(|i| format!("alpha_{i}")).collect();
    names.extend((0..p.n_noise).map(|i| format!("noise_{i}")));
    names.push("ret_1".into());
    if p.leaks {
        names.extend(LEAK_FEATURES.iter().map(|s| s.to_string()));
    }
    let mut features: Vec<Column> = names
        .into_iter()
        .map(|name| Column {
            name,
            values: Vec::with_capacity(n),
        })
        .collect();
    let tnames = [
        "fwd_ret_15m",
        "y_up_15m",
        "fwd_ret_60m",
        "y_up_60m",
        "target_noise_15m",
    ];
    let mut targets: Vec<Vec<f32>> = vec![Vec::with_capacity(n); tnames.len()];
    let (mut ts, mut entity) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let k = p.n_informative + p.n_noise;
    for t in 0..p.n_timestamps {
        for (e, s) in series.iter().enumerate() {
            ts.push(START + t as i64 * p.bar_secs);
            entity.push(e as u32);
            let y15 = fwd(&s.ret, t, H_SHORT);
            let up = if y15 > 0.0 { 1.0 } else { 0.0 };
            for (j, f) in s.feats.iter().enumerate() {
                features[j].values.push(f[t] as f32);
            }
            features[k].values.push(s.ret[t] as f32);
            if p.leaks {
                let lo = t.saturating_sub(2);
                let roll =
                    s.ret[lo..=t + H_SHORT].iter().sum::<f64>() / (t + H_SHORT + 1 - lo) as f64;
                let vals = [
                    y15 + 1e-3 * s.copy_noise[t],
                    fwd(&s.ret, t + 1, H_SHORT),
                    roll,
                    1.0 / (1.0 + (-2.0 * y15).exp()),
                    1.0 - up,
                ];
                for (j, v) in vals.into_iter().enumerate() {
                    features[k + 1 + j].values.push(v as f32);
                }
            }
            let y60 = fwd(&s.ret, t, H_LONG);
            let up60 = if y60 > 0.0 { 1.0 } else { 0.0 };
            for (j, v) in [y15, up, y60, up60, s.noise_target[t + 1]]
                .into_iter()
                .enumerate()
            {
                targets[j].push(v as f32);
            }
        }
    }
    let horizons = [H_SHORT, H_SHORT, H_LONG, H_LONG, H_SHORT];
    Panel {
        source: PathBuf::from("synthetic"),
        ts,
        entity,
        entity_names: (0..p.n_entities).map(|e| format!("E{e:04}")).collect(),
        features,
        targets: tnames
            .iter()
            .zip(targets)
            .zip(horizons)
            .map(|((name, values), h)| TargetColumn {
                name: name.to_string(),
                values,
                kind: if name.starts_with("y_up") {
                    TargetKind::Binary
                } else {
                    TargetKind::Regression
                },
                horizon_secs: h as i64 * p.bar_secs,
            })
            .collect(),
        bar_secs: p.bar_secs,
    }
}

/// Writes a panel as CSV (`ts` as integer epoch seconds or RFC 3339, `symbol`, features,
/// targets); NaN is written as an empty field.
pub fn write_csv(panel: &Panel, path: &Path, rfc3339: bool) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| EngineError::io(path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let io = |e| EngineError::io(path, e);
    let mut header = vec!["ts".to_string(), "symbol".to_string()];
    header.extend(panel.features.iter().map(|c| c.name.clone()));
    header.extend(panel.targets.iter().map(|c| c.name.clone()));
    writeln!(w, "{}", header.join(",")).map_err(io)?;
    let mut line = String::new();
    for i in 0..panel.n_rows() {
        use std::fmt::Write as _;
        line.clear();
        if rfc3339 {
            line.push_str(&crate::timefmt::format_rfc3339(panel.ts[i]));
        } else {
            let _ = write!(line, "{}", panel.ts[i]);
        }
        line.push(',');
        line.push_str(&panel.entity_names[panel.entity[i] as usize]);
        for v in panel
            .features
            .iter()
            .map(|c| c.values[i])
            .chain(panel.targets.iter().map(|c| c.values[i]))
        {
            line.push(',');
            if v.is_finite() {
                let _ = write!(line, "{v}");
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes()).map_err(io)?;
    }
    w.flush().map_err(io)
}

/// Writes a panel as Parquet: `ts` as INT64 TIMESTAMP(MILLIS, UTC), `symbol` as text, every
/// feature and target as an optional FLOAT (NaN written as null), snappy-compressed, row groups
/// of 128k rows.
pub fn write_parquet(panel: &Panel, path: &Path) -> Result<()> {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    const GROUP_ROWS: usize = 128 * 1024;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let pq = |e: parquet::errors::ParquetError| {
        EngineError::data(path, None, None, format!("cannot write Parquet: {e}"))
    };
    let mut message = String::from(
        "message panel {\n  required int64 ts (TIMESTAMP(MILLIS,true));\n  required binary symbol (STRING);\n",
    );
    let names = panel.features.iter().map(|c| &c.name);
    for name in names.chain(panel.targets.iter().map(|t| &t.name)) {
        message.push_str(&format!("  optional float {name};\n"));
    }
    message.push('}');
    let schema = Arc::new(parse_message_type(&message).map_err(pq)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = std::fs::File::create(path).map_err(|e| EngineError::io(path, e))?;
    let mut w = SerializedFileWriter::new(file, schema, props).map_err(pq)?;
    let columns: Vec<&[f32]> = panel
        .features
        .iter()
        .map(|c| c.values.as_slice())
        .chain(panel.targets.iter().map(|t| t.values.as_slice()))
        .collect();
    let mut start = 0;
    while start < panel.n_rows() {
        let end = (start + GROUP_ROWS).min(panel.n_rows());
        let mut rg = w.next_row_group().map_err(pq)?;
        let mut k = 0usize;
        while let Some(mut col) = rg.next_column().map_err(pq)? {
            match k {
                0 => {
                    let ms: Vec<i64> = panel.ts[start..end].iter().map(|t| t * 1000).collect();
                    col.typed::<Int64Type>()
                        .write_batch(&ms, None, None)
                        .map_err(pq)?;
                }
                1 => {
                    let names: Vec<ByteArray> = panel.entity[start..end]
                        .iter()
                        .map(|&e| ByteArray::from(panel.entity_names[e as usize].as_str()))
                        .collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&names, None, None)
                        .map_err(pq)?;
                }
                _ => {
                    let v = &columns[k - 2][start..end];
                    let def: Vec<i16> = v.iter().map(|x| i16::from(x.is_finite())).collect();
                    let vals: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
                    col.typed::<FloatType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(pq)?;
                }
            }
            col.close().map_err(pq)?;
            k += 1;
        }
        rg.close().map_err(pq)?;
        start = end;
    }
    w.close().map_err(pq)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SynthParams {
        SynthParams {
            n_entities: 12,
            n_timestamps: 60,
            n_noise: 3,
            ..Default::default()
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (a, b) = (generate(&small()), generate(&small()));
        assert_eq!(a.features[0].values, b.features[0].values);
        assert_eq!(a.targets[0].values, b.targets[0].values);
        let c = generate(&SynthParams {
            seed: 43,
            ..small()
        });
        assert_ne!(a.features[0].values, c.features[0].values);
    }

    #[test]
    fn shape_and_sorting() {
        let p = generate(&small());
        assert_eq!(p.n_rows(), 12 * 60);
        assert!(p.ts.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(p.features.len(), 5 + 3 + 1 + LEAK_FEATURES.len());
        assert_eq!(p.targets[1].kind, TargetKind::Binary);
        assert_eq!(p.targets[0].horizon_secs, 900);
    }

    #[test]
    fn written_csv_loads_back_identically() {
        let dir = std::env::temp_dir().join(format!("fox-synth-{}", std::process::id()));
        let path = dir.join("p.csv");
        let p = generate(&small());
        write_csv(&p, &path, true).unwrap();
        let mut cfg = crate::config::ExperimentConfig::from_yaml_str("data:\n  path: x\n").unwrap();
        cfg.data.path = path;
        let (q, _) = crate::data::load_panel(&cfg).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(q.ts, p.ts);
        assert_eq!(q.features[0].values, p.features[0].values);
        assert_eq!(q.targets[2].values, p.targets[2].values);
        assert_eq!(q.targets[1].kind, TargetKind::Binary);
        assert_eq!(q.targets[2].horizon_secs, 3600);
    }
}
