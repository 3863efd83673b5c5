//! CSV reading: one pass over the file into f32 columns, every parse error naming the file,
//! column and 1-based data row; then sorting by (timestamp, entity) and duplicate detection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Column, Panel, TargetColumn, TargetKind, Which};
use crate::config::{ExperimentConfig, InfPolicy, TimestampUnit};
use crate::error::{EngineError, Result};

/// Columns as read, in file order. Entities are kept as ids into `entity_names` (in the
/// order first seen): a name per row would cost a heap string per row.
pub(super) struct RawTable {
    pub ts: Vec<i64>,
    pub entity: Vec<u32>,
    pub entity_names: Vec<String>,
    entity_ids: HashMap<String, u32>,
    pub features: Vec<Column>,
    pub targets: Vec<Column>,
}

fn parse_value(field: &[u8]) -> Option<f32> {
    let s = std::str::from_utf8(field).ok()?.trim();
    match s {
        "" | "NA" | "NaN" | "nan" | "NAN" | "null" | "None" | "N/A" => Some(f32::NAN),
        _ => s.parse::<f32>().ok(),
    }
}

/// Parses an integer epoch in `unit` or an RFC 3339 timestamp, to epoch seconds.
pub(super) fn parse_ts(field: &[u8], unit: TimestampUnit) -> Option<i64> {
    let s = std::str::from_utf8(field).ok()?.trim();
    if let Ok(n) = s.parse::<i64>() {
        let div = match unit {
            TimestampUnit::S => 1,
            TimestampUnit::Ms => 1_000,
            TimestampUnit::Us => 1_000_000,
            TimestampUnit::Ns => 1_000_000_000,
        };
        return Some(n.div_euclid(div));
    }
    crate::timefmt::parse_rfc3339(s)
}

/// Applies `data.on_inf` to a value: ±inf is an error or missing (NaN).
pub(super) fn finite_or_policy(
    v: f32,
    policy: InfPolicy,
) -> std::result::Result<f32, &'static str> {
    if !v.is_infinite() {
        return Ok(v);
    }
    match policy {
        InfPolicy::Error => Err("infinite value (set data.on_inf: missing to treat it as missing)"),
        InfPolicy::Missing => Ok(f32::NAN),
    }
}

/// Reads the CSV file at `path` with the roles from `cfg`.
pub(super) fn read_csv(path: &Path, cfg: &ExperimentConfig, which: Which<'_>) -> Result<RawTable> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| EngineError::data(path, None, None, format!("cannot open: {e}")))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| EngineError::data(path, None, None, format!("cannot read header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let r = which.assign(&header, path, cfg)?;
    let mut t = RawTable::empty(&header, &r);
    let mut rec = csv::ByteRecord::new();
    let mut row = 0usize;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(EngineError::data(
                    path,
                    None,
                    Some(row + 1),
                    format!("malformed CSV: {e}"),
                ));
            }
        }
        row += 1;
        if rec.len() != header.len() {
            return Err(EngineError::data(
                path,
                None,
                Some(row),
                format!("expected {} fields, found {}", header.len(), rec.len()),
            ));
        }
        let bad = |col: usize, what: &str| {
            let raw = String::from_utf8_lossy(&rec[col]).into_owned();
            EngineError::data(
                path,
                Some(&header[col]),
                Some(row),
                format!("cannot parse `{raw}` as {what}"),
            )
        };
        t.ts.push(
            parse_ts(&rec[r.ts], cfg.data.timestamp_unit)
                .ok_or_else(|| bad(r.ts, "a timestamp (RFC 3339 or integer epoch)"))?,
        );
        let ent = std::str::from_utf8(&rec[r.entity])
            .map_err(|_| bad(r.entity, "UTF-8 text"))?
            .trim();
        if ent.is_empty() {
            return Err(EngineError::data(
                path,
                Some(&header[r.entity]),
                Some(row),
                "empty entity",
            ));
        }
        t.push_entity(ent);
        for (cols, idx) in [(&mut t.features, &r.features), (&mut t.targets, &r.targets)] {
            for (col, &i) in cols.iter_mut().zip(idx.iter()) {
                let v = parse_value(&rec[i]).ok_or_else(|| bad(i, "a number"))?;
                let v = finite_or_policy(v, cfg.data.on_inf)
                    .map_err(|msg| EngineError::data(path, Some(&header[i]), Some(row), msg))?;
                col.values.push(v);
            }
        }
    }
    if row == 0 {
        return Err(EngineError::data(path, None, None, "no data rows"));
    }
    Ok(t)
}

impl RawTable {
    /// No rows yet; one empty column per feature and target of `roles`, named from `header`.
    pub(super) fn empty(header: &[String], roles: &super::roles::Roles) -> RawTable {
        let cols = |idx: &[usize]| -> Vec<Column> {
            idx.iter()
                .map(|&i| Column {
                    name: header[i].clone(),
                    values: Vec::new(),
                })
                .collect()
        };
        RawTable {
            ts: Vec::new(),
            entity: Vec::new(),
            entity_names: Vec::new(),
            entity_ids: HashMap::new(),
            features: cols(&roles.features),
            targets: cols(&roles.targets),
        }
    }

    /// Appends a row's entity (a non-empty name).
    pub(super) fn push_entity(&mut self, name: &str) {
        let id = match self.entity_ids.get(name) {
            Some(&id) => id,
            None => {
                let id = self.entity_names.len() as u32;
                self.entity_names.push(name.to_owned());
                self.entity_ids.insert(name.to_owned(), id);
                id
            }
        };
        self.entity.push(id);
    }

    /// Sorts rows by (timestamp, entity) and rejects duplicate pairs, naming both rows.
    pub(super) fn into_sorted_panel(self, path: &Path) -> Result<Panel> {
        // Rows and entities are addressed with 32-bit indices.
        if self.ts.len() > u32::MAX as usize {
            return Err(EngineError::data(
                path,
                None,
                None,
                format!(
                    "{} rows: at most {} rows per file are supported",
                    self.ts.len(),
                    u32::MAX
                ),
            ));
        }
        // Entity ids in name order.
        let mut by_name: Vec<u32> = (0..self.entity_names.len() as u32).collect();
        by_name.sort_by(|&a, &b| self.entity_names[a as usize].cmp(&self.entity_names[b as usize]));
        let mut rank = vec![0u32; by_name.len()];
        for (r, &id) in by_name.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let ent: Vec<u32> = self.entity.iter().map(|&e| rank[e as usize]).collect();
        drop(self.entity);
        let mut names = self.entity_names;
        let mut sorted_names = Vec::with_capacity(names.len());
        for &id in &by_name {
            sorted_names.push(std::mem::take(&mut names[id as usize]));
        }
        let mut order: Vec<u32> = (0..self.ts.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (self.ts[i as usize], ent[i as usize], i));
        for w in order.windows(2) {
            let (x, y) = (w[0] as usize, w[1] as usize);
            if self.ts[x] == self.ts[y] && ent[x] == ent[y] {
                let (a, b) = (x.min(y) + 1, x.max(y) + 1);
                return Err(EngineError::data(
                    path,
                    None,
                    Some(b),
                    format!(
                        "duplicate (timestamp, entity) = ({}, {}) also at row {a}",
                        crate::timefmt::format_rfc3339(self.ts[x]),
                        sorted_names[ent[x] as usize]
                    ),
                ));
            }
        }
        // Each column is permuted and its unsorted original freed before the next one: the
        // load never holds two copies of the table.
        let perm = |v: Vec<f32>| order.iter().map(|&i| v[i as usize]).collect::<Vec<f32>>();
        let ts = order.iter().map(|&i| self.ts[i as usize]).collect();
        let entity = order.iter().map(|&i| ent[i as usize]).collect();
        drop(ent);
        let features = self
            .features
            .into_iter()
            .map(|c| Column {
                name: c.name,
                values: perm(c.values),
            })
            .collect();
        let targets = self
            .targets
            .into_iter()
            .map(|c| TargetColumn {
                name: c.name,
                values: perm(c.values),
                kind: TargetKind::Regression,
                horizon_secs: 1,
            })
            .collect();
        Ok(Panel {
            source: PathBuf::from(path),
            ts,
            entity,
            entity_names: sorted_names,
            features,
            targets,
            bar_secs: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ExperimentConfig;
    use crate::data::{TargetKind, load_panel, tempdir};
    use std::io::Write;

    fn write(text: &str) -> (tempdir::Dir, ExperimentConfig) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("p.csv");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let mut cfg = ExperimentConfig::from_yaml_str("data:\n  path: x\n  min_cs: 2\n").unwrap();
        cfg.data.path = path;
        (dir, cfg)
    }

    const GOOD: &str = "ts,symbol,f1,f2,konst,fwd_ret_15m,y_up\n\
        2024-01-02T00:05:00Z,B,1,NaN,3,0.5,1\n\
        2024-01-02T00:00:00Z,A,2,1,3,0.1,0\n\
        2024-01-02T00:00:00Z,B,3,,3,-0.2,1\n\
        2024-01-02T00:05:00Z,A,4,2,3,0.3,0\n";

    #[test]
    fn loads_sorts_and_types_columns() {
        let (_d, cfg) = write(GOOD);
        let (p, rep) = load_panel(&cfg).unwrap();
        assert_eq!(
            p.ts,
            vec![1_704_153_600, 1_704_153_600, 1_704_153_900, 1_704_153_900]
        );
        assert_eq!(p.entity, vec![0, 1, 0, 1]);
        assert_eq!(
            p.features
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            vec!["f1", "f2"]
        );
        assert_eq!(rep.constant_features_dropped, vec!["konst".to_string()]);
        assert_eq!(p.features[0].values, vec![2.0, 3.0, 4.0, 1.0]);
        assert!(p.features[1].values[1].is_nan());
        assert_eq!(p.targets[0].kind, TargetKind::Regression);
        assert_eq!(p.targets[0].horizon_secs, 900);
        assert_eq!(p.targets[1].kind, TargetKind::Binary);
        assert_eq!(p.bar_secs, 300);
    }

    #[test]
    fn unparsable_value_names_column_and_row() {
        let (_d, cfg) = write(&GOOD.replace("4,2,3", "4,abc,3"));
        let e = load_panel(&cfg).unwrap_err().to_string();
        assert!(e.contains("column `f2`, row 4: cannot parse `abc`"), "{e}");
    }

    #[test]
    fn duplicate_rows_are_rejected() {
        let (_d, cfg) = write(&GOOD.replace("00:05:00Z,A", "00:00:00Z,A"));
        let e = load_panel(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("duplicate (timestamp, entity)")
                && e.contains("row 4")
                && e.contains("row 2"),
            "{e}"
        );
    }

    #[test]
    fn infinity_is_an_error_or_missing() {
        let (_d, mut cfg) = write(&GOOD.replace("4,2,3", "4,inf,3"));
        let e = load_panel(&cfg).unwrap_err().to_string();
        assert!(e.contains("column `f2`, row 4: infinite"), "{e}");
        cfg.data.on_inf = crate::config::InfPolicy::Missing;
        // With inf as missing, f2 keeps a single finite value and is dropped as constant.
        let (_, rep) = load_panel(&cfg).unwrap();
        assert!(rep.constant_features_dropped.contains(&"f2".to_string()));
    }

    #[test]
    fn target_without_finite_values_is_rejected() {
        let (_d, cfg) = write(
            &GOOD
                .replace(",0.5,", ",,")
                .replace(",0.1,", ",NaN,")
                .replace(",-0.2,", ",,")
                .replace(",0.3,", ",,"),
        );
        let e = load_panel(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("column `fwd_ret_15m`") && e.contains("no finite values"),
            "{e}"
        );
    }

    #[test]
    fn integer_epochs_with_units() {
        let (_d, mut cfg) =
            write("ts,symbol,f1,y_a\n1000,A,1,0.5\n1000,B,2,0.1\n2000,A,3,0.2\n2000,B,4,0.3\n");
        cfg.data.timestamp_unit = crate::config::TimestampUnit::Ms;
        let (p, _) = load_panel(&cfg).unwrap();
        assert_eq!(p.ts, vec![1, 1, 2, 2]);
    }
}
