//! An experiment's table as CSV (one row per grid point, full precision) and JSON (the
//! [`Table`] itself).

use std::path::Path;

use super::format::metric_names;
use super::{ReportError, Table};

/// Full-precision text of a float (shortest round-trip form); `NaN`/`inf` when not finite.
fn exact(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_owned()
    } else {
        x.to_string()
    }
}

/// The table as CSV: grid axes, `n_runs`, `n_failed`, then `<metric>.n`, `.mean`, `.sd`,
/// `.ci95_low`, `.ci95_high`, `.paper` per metric. Missing cells are empty.
pub(super) fn csv_bytes(table: &Table, path: &Path) -> Result<Vec<u8>, ReportError> {
    let err = |source| ReportError::Csv {
        path: path.to_owned(),
        source,
    };
    let metrics = metric_names(table);
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut header = table.columns.clone();
    header.extend(["n_runs".to_owned(), "n_failed".to_owned()]);
    for m in &metrics {
        for field in ["n", "mean", "sd", "ci95_low", "ci95_high", "paper"] {
            header.push(format!("{m}.{field}"));
        }
    }
    w.write_record(&header).map_err(err)?;
    for row in &table.rows {
        let mut rec = row.point.clone();
        rec.extend([row.n_runs.to_string(), row.n_failed.to_string()]);
        for m in &metrics {
            match row.metric(m) {
                Some(c) => rec.extend([
                    c.ours.n.to_string(),
                    exact(c.ours.mean),
                    exact(c.ours.sd),
                    exact(c.ours.ci95_low),
                    exact(c.ours.ci95_high),
                    c.paper.map(exact).unwrap_or_default(),
                ]),
                None => rec.extend(std::iter::repeat_n(String::new(), 6)),
            }
        }
        w.write_record(&rec).map_err(err)?;
    }
    w.into_inner().map_err(|e| ReportError::Write {
        path: path.to_owned(),
        source: e.into_error(),
    })
}

/// The table as pretty-printed JSON with a trailing newline (NaN as `null`).
pub(super) fn json_bytes(table: &Table, path: &Path) -> Result<Vec<u8>, ReportError> {
    let mut bytes = serde_json::to_vec_pretty(table).map_err(|source| ReportError::Json {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
