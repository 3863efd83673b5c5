//! A quick look at a data file without loading it: its column names and row count, read with
//! the same readers (and the same header rules) as a run. The platform records these for an
//! uploaded dataset and checks experiments against the columns before queueing them.

use std::fs::File;
use std::path::Path;

use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use serde::Serialize;

use crate::error::{EngineError, Result};

/// The shape of a data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileShape {
    /// Column names in file order.
    pub columns: Vec<String>,
    /// Data rows (the header excluded).
    pub rows: u64,
}

/// The columns and row count of the CSV file at `path` (every record is counted, so a row
/// with the wrong number of fields is reported with its 1-based row number).
pub fn csv_shape(path: &Path) -> Result<FileShape> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| EngineError::data(path, None, None, format!("cannot open: {e}")))?;
    let columns: Vec<String> = rdr
        .headers()
        .map_err(|e| EngineError::data(path, None, None, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(EngineError::data(
            path,
            None,
            None,
            "the file has no header row",
        ));
    }
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => rows += 1,
            Ok(false) => break,
            Err(e) => {
                return Err(EngineError::data(
                    path,
                    None,
                    Some(rows as usize + 1),
                    format!("not valid CSV: {e}"),
                ));
            }
        }
    }
    Ok(FileShape { columns, rows })
}

/// The columns and row count of the Parquet file at `path` (from its footer; no data is
/// decoded).
pub fn parquet_shape(path: &Path) -> Result<FileShape> {
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
    let meta = reader.metadata().file_metadata();
    let schema = meta.schema_descr_ptr();
    let columns = (0..schema.num_columns())
        .map(|i| schema.column(i).path().string())
        .collect();
    Ok(FileShape {
        columns,
        rows: u64::try_from(meta.num_rows()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_header_and_rows_and_a_bad_row_named() {
        let dir = std::env::temp_dir().join(format!("fox-inspect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("ok.csv");
        std::fs::write(&ok, "ts,symbol, f1 \n1,A,0.5\n1,B,0.7\n2,A,\n").unwrap();
        assert_eq!(
            csv_shape(&ok).unwrap(),
            FileShape {
                columns: vec!["ts".into(), "symbol".into(), "f1".into()],
                rows: 3
            }
        );
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "ts,symbol,f1\n1,A,0.5\n1,B\n").unwrap();
        let e = csv_shape(&bad).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("not valid CSV"), "{e}");
        let not_parquet = parquet_shape(&ok).unwrap_err().to_string();
        assert!(
            not_parquet.contains("not a readable Parquet file"),
            "{not_parquet}"
        );
    }
}
