//! Parquet reading: the needed column chunks of one row group at a time (only the columns the
//! experiment uses are decoded), into the same f32 columns as the CSV reader. Errors name the
//! file, the column and the 1-based data row.
//!
//! Accepted column types:
//! - timestamp: INT64/INT32 with a TIMESTAMP logical type (ms, µs, ns), DATE, INT96 (legacy
//!   Spark/Impala), plain integers (epoch in `data.timestamp_unit`), or text (RFC 3339 or an
//!   integer epoch, as in CSV);
//! - entity: text, or integers (used as their decimal text);
//! - features and targets: FLOAT, DOUBLE, INT32, INT64 or BOOLEAN; a null is missing (NaN).
//!
//! Repeated (list) columns are rejected when the experiment uses them.

use std::fs::File;
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType, Int96};
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::schema::types::ColumnDescriptor;

use super::Which;
use super::csv_reader::{RawTable, finite_or_policy, parse_ts};
use crate::config::{ExperimentConfig, TimestampUnit};
use crate::error::{EngineError, Result};

/// Decoded non-null values of one column chunk.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed,
}

/// One column chunk: non-null values, and per row whether it is present.
struct Chunk {
    values: Values,
    present: Option<Vec<bool>>,
}

impl Chunk {
    /// Calls `f(row, Some(index into values) | None)` for each row of the chunk.
    fn for_each(
        &self,
        n: usize,
        mut f: impl FnMut(usize, Option<usize>) -> Result<()>,
    ) -> Result<()> {
        match &self.present {
            None => (0..n).try_for_each(|r| f(r, Some(r))),
            Some(p) => {
                let mut k = 0;
                for (r, &here) in p.iter().enumerate() {
                    if here {
                        f(r, Some(k))?;
                        k += 1;
                    } else {
                        f(r, None)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn type_name(&self) -> &'static str {
        match self.values {
            Values::Bool(_) => "BOOLEAN",
            Values::I32(_) => "INT32",
            Values::I64(_) => "INT64",
            Values::I96(_) => "INT96",
            Values::F32(_) => "FLOAT",
            Values::F64(_) => "DOUBLE",
            Values::Bytes(_) => "BYTE_ARRAY (text)",
            Values::Fixed => "FIXED_LEN_BYTE_ARRAY",
        }
    }
}

/// Non-null values of a chunk and, for a nullable column, presence per row.
type Decoded<V> = (Vec<V>, Option<Vec<bool>>);

fn read_all<T: DataType>(
    mut r: ColumnReaderImpl<T>,
    n: usize,
    max_def: i16,
) -> parquet::errors::Result<Decoded<T::T>> {
    let mut values = Vec::with_capacity(n);
    let mut def: Vec<i16> = Vec::with_capacity(if max_def > 0 { n } else { 0 });
    let mut got = 0;
    while got < n {
        let levels = (max_def > 0).then_some(&mut def);
        let (records, _, _) = r.read_records(n - got, levels, None, &mut values)?;
        if records == 0 {
            break;
        }
        got += records;
    }
    if got != n {
        return Err(parquet::errors::ParquetError::General(format!(
            "column chunk holds {got} rows, the row group says {n}"
        )));
    }
    let present = (max_def > 0).then(|| def.iter().map(|&d| d == max_def).collect());
    Ok((values, present))
}

fn read_chunk(
    rg: &dyn RowGroupReader,
    i: usize,
    n: usize,
    max_def: i16,
) -> parquet::errors::Result<Chunk> {
    // Decodes a typed reader into the matching `Values` variant.
    macro_rules! decode {
        ($reader:expr, $variant:ident) => {{
            let (v, p) = read_all($reader, n, max_def)?;
            (Values::$variant(v), p)
        }};
    }
    let (values, present) = match rg.get_column_reader(i)? {
        ColumnReader::BoolColumnReader(r) => decode!(r, Bool),
        ColumnReader::Int32ColumnReader(r) => decode!(r, I32),
        ColumnReader::Int64ColumnReader(r) => decode!(r, I64),
        ColumnReader::Int96ColumnReader(r) => decode!(r, I96),
        ColumnReader::FloatColumnReader(r) => decode!(r, F32),
        ColumnReader::DoubleColumnReader(r) => decode!(r, F64),
        ColumnReader::ByteArrayColumnReader(r) => decode!(r, Bytes),
        ColumnReader::FixedLenByteArrayColumnReader(_) => (Values::Fixed, None),
    };
    Ok(Chunk { values, present })
}

/// How an integer timestamp column is scaled to seconds: divisor, or days.
enum TsScale {
    Div(i64),
    Days,
}

fn ts_scale(col: &ColumnDescriptor, unit: TimestampUnit) -> TsScale {
    match col.logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => match t.unit {
            TimeUnit::MILLIS => TsScale::Div(1_000),
            TimeUnit::MICROS => TsScale::Div(1_000_000),
            TimeUnit::NANOS => TsScale::Div(1_000_000_000),
        },
        Some(LogicalType::Date) => TsScale::Days,
        _ => match col.converted_type() {
            ConvertedType::TIMESTAMP_MILLIS => TsScale::Div(1_000),
            ConvertedType::TIMESTAMP_MICROS => TsScale::Div(1_000_000),
            ConvertedType::DATE => TsScale::Days,
            _ => TsScale::Div(match unit {
                TimestampUnit::S => 1,
                TimestampUnit::Ms => 1_000,
                TimestampUnit::Us => 1_000_000,
                TimestampUnit::Ns => 1_000_000_000,
            }),
        },
    }
}

/// Reads the Parquet file at `path` with the roles from `cfg`.
pub(super) fn read_parquet(
    path: &Path,
    cfg: &ExperimentConfig,
    which: Which<'_>,
) -> Result<RawTable> {
    let file = File::open(path)
        .map_err(|e| EngineError::data(path, None, None, format!("cannot open: {e}")))?;
    let reader = SerializedFileReader::new(file).map_err(|e| {
        EngineError::data(
            path,
            None,
            None,
            format!("not a readable Parquet file: {e}"),
        )
    })?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let header: Vec<String> = (0..schema.num_columns())
        .map(|i| schema.column(i).path().string())
        .collect();
    let r = which.assign(&header, path, cfg)?;
    let used: Vec<usize> = [r.ts, r.entity]
        .into_iter()
        .chain(r.features.iter().copied())
        .chain(r.targets.iter().copied())
        .collect();
    for &i in &used {
        if schema.column(i).max_rep_level() > 0 {
            return Err(EngineError::data(
                path,
                Some(&header[i]),
                None,
                "repeated (list) columns are not supported; use one value per row",
            ));
        }
    }
    let mut t = RawTable::empty(&header, &r);
    let mut base = 0usize;
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).map_err(|e| {
            EngineError::data(path, None, None, format!("cannot read row group {g}: {e}"))
        })?;
        let n = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        let chunk = |i: usize| {
            read_chunk(&*rg, i, n, schema.column(i).max_def_level()).map_err(|e| {
                EngineError::data(path, Some(&header[i]), None, format!("cannot read: {e}"))
            })
        };
        let at = |i: usize, row: usize, msg: String| {
            EngineError::data(path, Some(&header[i]), Some(base + row + 1), msg)
        };
        let wrong_type = |i: usize, c: &Chunk, want: &str| {
            EngineError::data(
                path,
                Some(&header[i]),
                None,
                format!("is a {} column; expected {want}", c.type_name()),
            )
        };

        let c = chunk(r.ts)?;
        let scale = ts_scale(&schema.column(r.ts), cfg.data.timestamp_unit);
        let scaled = |v: i64| match scale {
            TsScale::Div(d) => v.div_euclid(d),
            TsScale::Days => v * 86_400,
        };
        t.ts.reserve(n);
        c.for_each(n, |row, k| {
            let Some(k) = k else {
                return Err(at(r.ts, row, "missing timestamp".into()));
            };
            let ts = match &c.values {
                Values::I64(v) => scaled(v[k]),
                Values::I32(v) => scaled(i64::from(v[k])),
                Values::I96(v) => v[k].to_seconds(),
                Values::Bytes(v) => {
                    parse_ts(v[k].data(), cfg.data.timestamp_unit).ok_or_else(|| {
                        let raw = String::from_utf8_lossy(v[k].data()).into_owned();
                        at(
                            r.ts,
                            row,
                            format!(
                                "cannot parse `{raw}` as a timestamp (RFC 3339 or integer epoch)"
                            ),
                        )
                    })?
                }
                _ => return Err(wrong_type(r.ts, &c, "a timestamp, integer or text column")),
            };
            t.ts.push(ts);
            Ok(())
        })?;

        let c = chunk(r.entity)?;
        t.entity.reserve(n);
        c.for_each(n, |row, k| {
            let name = match (&c.values, k) {
                (_, None) => String::new(),
                (Values::Bytes(v), Some(k)) => std::str::from_utf8(v[k].data())
                    .map_err(|_| at(r.entity, row, "is not UTF-8 text".into()))?
                    .trim()
                    .to_owned(),
                (Values::I64(v), Some(k)) => v[k].to_string(),
                (Values::I32(v), Some(k)) => v[k].to_string(),
                _ => return Err(wrong_type(r.entity, &c, "a text or integer column")),
            };
            if name.is_empty() {
                return Err(at(r.entity, row, "empty entity".into()));
            }
            t.push_entity(&name);
            Ok(())
        })?;

        for (cols, idx) in [(&mut t.features, &r.features), (&mut t.targets, &r.targets)] {
            for (col, &i) in cols.iter_mut().zip(idx.iter()) {
                let c = chunk(i)?;
                col.values.reserve(n);
                c.for_each(n, |row, k| {
                    let v = match (&c.values, k) {
                        (_, None) => f32::NAN,
                        (Values::F32(v), Some(k)) => v[k],
                        (Values::F64(v), Some(k)) => v[k] as f32,
                        (Values::I32(v), Some(k)) => v[k] as f32,
                        (Values::I64(v), Some(k)) => v[k] as f32,
                        (Values::Bool(v), Some(k)) => f32::from(u8::from(v[k])),
                        _ => return Err(wrong_type(i, &c, "a numeric column")),
                    };
                    let v = finite_or_policy(v, cfg.data.on_inf)
                        .map_err(|msg| at(i, row, msg.to_owned()))?;
                    col.values.push(v);
                    Ok(())
                })?;
            }
        }
        base += n;
    }
    if base == 0 {
        return Err(EngineError::data(path, None, None, "no data rows"));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parquet::data_type::{
        BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type,
    };
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use crate::config::{ExperimentConfig, InfPolicy};
    use crate::data::{TargetKind, load_panel, tempdir};
    use crate::synth::{SynthParams, generate, write_csv, write_parquet};

    /// One test column: every value optional (null = `None`).
    enum Col {
        I64(Vec<Option<i64>>),
        I32(Vec<Option<i32>>),
        F64(Vec<Option<f64>>),
        Str(Vec<Option<&'static str>>),
        Bool(Vec<Option<bool>>),
    }

    fn split<T: Clone>(v: &[Option<T>]) -> (Vec<T>, Vec<i16>) {
        (
            v.iter().flatten().cloned().collect(),
            v.iter().map(|x| i16::from(x.is_some())).collect(),
        )
    }

    /// Writes `cols` (all `optional` in `message`) as one Parquet file with row groups of
    /// `group` rows, and returns a config reading it.
    fn write(dir: &tempdir::Dir, message: &str, cols: &[Col], group: usize) -> ExperimentConfig {
        let path = dir.0.join("p.parquet");
        let schema = Arc::new(parse_message_type(message).unwrap());
        let props = Arc::new(WriterProperties::builder().build());
        let file = std::fs::File::create(&path).unwrap();
        let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
        let n = match &cols[0] {
            Col::I64(v) => v.len(),
            Col::Str(v) => v.len(),
            _ => unreachable!("first column is the timestamp"),
        };
        for start in (0..n).step_by(group) {
            let r = start..(start + group).min(n);
            let mut rg = w.next_row_group().unwrap();
            let mut k = 0;
            while let Some(mut c) = rg.next_column().unwrap() {
                // Writes one optional column of type `$t` from `$v` (nulls as definition levels).
                macro_rules! put {
                    ($t:ty, $v:expr) => {{
                        let (x, d) = split(&$v[r.clone()]);
                        c.typed::<$t>().write_batch(&x, Some(&d), None).unwrap();
                    }};
                }
                match &cols[k] {
                    Col::I64(v) => put!(Int64Type, v),
                    Col::I32(v) => put!(Int32Type, v),
                    Col::F64(v) => put!(DoubleType, v),
                    Col::Bool(v) => put!(BoolType, v),
                    Col::Str(v) => {
                        let bytes: Vec<Option<ByteArray>> =
                            v.iter().map(|s| s.map(ByteArray::from)).collect();
                        put!(ByteArrayType, bytes)
                    }
                }
                c.close().unwrap();
                k += 1;
            }
            rg.close().unwrap();
        }
        w.close().unwrap();
        let mut cfg = ExperimentConfig::from_yaml_str("data:\n  path: x\n  min_cs: 2\n").unwrap();
        cfg.data.path = path;
        cfg
    }

    #[test]
    fn parquet_and_csv_of_the_same_panel_load_identically() {
        let dir = tempdir::Dir::new();
        let p = SynthParams {
            n_entities: 12,
            n_timestamps: 50,
            n_noise: 3,
            ..Default::default()
        };
        let panel = generate(&p);
        let csv = dir.0.join("p.csv");
        let pq = dir.0.join("p.parquet");
        write_csv(&panel, &csv, false).unwrap();
        write_parquet(&panel, &pq).unwrap();
        let mut cfg = ExperimentConfig::from_yaml_str("data:\n  path: x\n").unwrap();
        cfg.data.path = csv;
        let (a, ra) = load_panel(&cfg).unwrap();
        cfg.data.path = pq;
        let (b, rb) = load_panel(&cfg).unwrap();
        assert_eq!(ra.rows_read, rb.rows_read);
        assert_eq!(a.ts, b.ts);
        assert_eq!(a.entity_names, b.entity_names);
        assert_eq!(a.entity, b.entity);
        assert_eq!(a.features.len(), b.features.len());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (x, y) in a.features.iter().zip(&b.features) {
            assert_eq!(x.name, y.name);
            assert_eq!(bits(&x.values), bits(&y.values), "{}", x.name);
        }
        for (x, y) in a.targets.iter().zip(&b.targets) {
            assert_eq!(
                (&x.name, x.kind, x.horizon_secs),
                (&y.name, y.kind, y.horizon_secs)
            );
            assert_eq!(bits(&x.values), bits(&y.values), "{}", x.name);
        }
    }

    #[test]
    fn reads_text_timestamps_integer_entities_nulls_and_mixed_numeric_types() {
        let dir = tempdir::Dir::new();
        let cfg = write(
            &dir,
            "message m { optional binary ts (STRING); optional int64 symbol; \
             optional double f1; optional int32 f2; optional double fwd_ret_15m; \
             optional boolean y_up; }",
            &[
                Col::Str(vec![
                    Some("2024-01-02T00:05:00Z"),
                    Some("2024-01-02T00:00:00Z"),
                    Some("2024-01-02T00:00:00Z"),
                    Some("2024-01-02T00:05:00Z"),
                ]),
                Col::I64(vec![Some(7), Some(3), Some(7), Some(3)]),
                Col::F64(vec![Some(1.5), None, Some(3.0), Some(4.0)]),
                Col::I32(vec![Some(10), Some(20), Some(30), Some(40)]),
                Col::F64(vec![Some(0.5), Some(0.1), None, Some(0.3)]),
                Col::Bool(vec![Some(true), Some(false), Some(true), Some(false)]),
            ],
            3,
        );
        let (p, rep) = load_panel(&cfg).unwrap();
        assert_eq!(rep.rows_read, 4);
        assert_eq!(
            p.ts,
            vec![1_704_153_600, 1_704_153_600, 1_704_153_900, 1_704_153_900]
        );
        assert_eq!(p.entity_names, vec!["3", "7"]);
        let f1 = &p.features.iter().find(|c| c.name == "f1").unwrap().values;
        assert!(f1[0].is_nan());
        assert_eq!(&f1[1..], &[3.0, 4.0, 1.5]);
        let f2 = &p.features.iter().find(|c| c.name == "f2").unwrap().values;
        assert_eq!(f2, &vec![20.0, 30.0, 40.0, 10.0]);
        let y = p.targets.iter().find(|t| t.name == "y_up").unwrap();
        assert_eq!(y.kind, TargetKind::Binary);
        assert_eq!(y.values, vec![0.0, 1.0, 0.0, 1.0]);
        let r = p.targets.iter().find(|t| t.name == "fwd_ret_15m").unwrap();
        assert!(r.values[1].is_nan());
        assert_eq!(r.horizon_secs, 900);
    }

    fn epoch_ms(n: usize) -> Col {
        Col::I64(
            (0..n)
                .map(|i| Some(1_704_153_600_000 + (i / 2) as i64 * 300_000))
                .collect(),
        )
    }

    #[test]
    fn timestamp_logical_types_are_scaled_to_seconds() {
        let dir = tempdir::Dir::new();
        let cfg = write(
            &dir,
            "message m { optional int64 ts (TIMESTAMP(MILLIS,true)); optional binary symbol (STRING); \
             optional double f1; optional double f2; optional double fwd_ret_5m; }",
            &[
                epoch_ms(4),
                Col::Str(vec![Some("A"), Some("B"), Some("A"), Some("B")]),
                Col::F64(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]),
                Col::F64(vec![Some(2.0), Some(1.0), Some(4.0), Some(3.0)]),
                Col::F64(vec![Some(0.1), Some(0.2), Some(0.3), Some(0.4)]),
            ],
            2,
        );
        let (p, _) = load_panel(&cfg).unwrap();
        assert_eq!(
            p.ts,
            vec![1_704_153_600, 1_704_153_600, 1_704_153_900, 1_704_153_900]
        );
        assert_eq!(p.bar_secs, 300);
    }

    fn error_of(message: &str, cols: &[Col], on_inf: InfPolicy) -> String {
        let dir = tempdir::Dir::new();
        let mut cfg = write(&dir, message, cols, 2);
        cfg.data.on_inf = on_inf;
        load_panel(&cfg).unwrap_err().to_string()
    }

    #[test]
    fn bad_values_are_reported_with_column_and_row() {
        let schema = "message m { optional int64 ts; optional binary symbol (STRING); \
                      optional double f1; optional double fwd_ret_5m; }";
        let ts = || Col::I64(vec![Some(0), Some(0), Some(300), Some(300)]);
        let sym = || Col::Str(vec![Some("A"), Some("B"), Some("A"), Some("B")]);
        let num = |v: [Option<f64>; 4]| Col::F64(v.to_vec());
        let ok = [Some(1.0), Some(2.0), Some(3.0), Some(4.0)];

        let e = error_of(
            schema,
            &[
                Col::I64(vec![Some(0), Some(0), None, Some(300)]),
                sym(),
                num(ok),
                num(ok),
            ],
            InfPolicy::Error,
        );
        assert!(
            e.contains("column `ts`") && e.contains("row 3") && e.contains("missing timestamp"),
            "{e}"
        );

        let e = error_of(
            schema,
            &[
                ts(),
                Col::Str(vec![Some("A"), Some("B"), Some("A"), None]),
                num(ok),
                num(ok),
            ],
            InfPolicy::Error,
        );
        assert!(
            e.contains("column `symbol`") && e.contains("row 4") && e.contains("empty entity"),
            "{e}"
        );

        let inf = [Some(1.0), Some(f64::INFINITY), Some(3.0), Some(4.0)];
        let e = error_of(schema, &[ts(), sym(), num(inf), num(ok)], InfPolicy::Error);
        assert!(
            e.contains("column `f1`") && e.contains("row 2") && e.contains("infinite"),
            "{e}"
        );
        let dir = tempdir::Dir::new();
        let mut cfg = write(&dir, schema, &[ts(), sym(), num(inf), num(ok)], 2);
        cfg.data.on_inf = InfPolicy::Missing;
        let (p, _) = load_panel(&cfg).unwrap();
        assert!(p.features[0].values[1].is_nan());

        let e = error_of(
            "message m { optional int64 ts; optional binary symbol (STRING); \
             optional binary f1 (STRING); optional double fwd_ret_5m; }",
            &[ts(), sym(), Col::Str(vec![Some("x"); 4]), num(ok)],
            InfPolicy::Error,
        );
        assert!(
            e.contains("column `f1`") && e.contains("expected a numeric column"),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_not_parquet_is_named() {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("p.parquet");
        std::fs::write(&path, "ts,symbol\n1,A\n").unwrap();
        let mut cfg = ExperimentConfig::from_yaml_str("data:\n  path: x\n").unwrap();
        cfg.data.path = path;
        let e = load_panel(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("p.parquet") && e.contains("not a readable Parquet file"),
            "{e}"
        );
    }
}
