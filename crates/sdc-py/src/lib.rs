//! `sdc._sdc`, the native half of the Python package `sdc`: SDC datasets as NumPy arrays
//! (generate, load, save) and the interpretability metrics of `sdc-interp` on NumPy arrays.
//!
//! A thin layer: arguments are converted and checked, the library crates do the work, and
//! their errors become `sdc.SdcError` with the same message. The friendly API (a `Dataset`
//! class, dtype conversion, keyword arguments) is Python, in `python/sdc/__init__.py`.

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use sdc_data::{DataConfig, SdcDataset};
use sdc_interp::{AlphaRows, FocusCriterion, SIMPLEX_TOL};

create_exception!(
    _sdc,
    SdcError,
    PyValueError,
    "Bad input to sdc: the message names the array or file, the value, and what is accepted."
);

fn error(e: impl ToString) -> PyErr {
    SdcError::new_err(e.to_string())
}

/// A dataset as Python receives it: segments `[n, m, *segment_shape]` (float32), labels and
/// foreground positions `[n]` (int64), the number of classes and the generating config (JSON).
type DatasetParts<'py> = (
    Bound<'py, PyArrayDyn<f32>>,
    Bound<'py, PyArrayDyn<i64>>,
    Bound<'py, PyArrayDyn<i64>>,
    usize,
    String,
);

fn to_python<'py>(
    py: Python<'py>,
    dataset: &SdcDataset,
    meta: &serde_json::Value,
) -> PyResult<DatasetParts<'py>> {
    let mut shape = vec![dataset.len(), dataset.n_segments()];
    shape.extend_from_slice(dataset.segment_shape());
    let segments = ArrayD::from_shape_vec(IxDyn(&shape), dataset.segments().to_vec())
        .map_err(error)?
        .into_pyarray(py);
    let indices = |v: &[u32]| {
        ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|&x| i64::from(x)).collect())
            .map(|a| a.into_pyarray(py))
            .map_err(error)
    };
    Ok((
        segments,
        indices(dataset.labels())?,
        indices(dataset.fg_index())?,
        dataset.n_classes(),
        meta.to_string(),
    ))
}

/// Generates the train and test splits of a `[data]` config given as TOML or JSON text
/// (`format` is `"toml"` or `"json"`); a TOML experiment file's `[data]` table is used.
#[pyfunction]
fn generate<'py>(
    py: Python<'py>,
    text: &str,
    format: &str,
) -> PyResult<(DatasetParts<'py>, DatasetParts<'py>)> {
    let config: DataConfig = match format {
        "json" => serde_json::from_str(text).map_err(|e| error(format!("config: {e}")))?,
        "toml" => {
            let mut table: toml::Table =
                toml::from_str(text).map_err(|e| error(format!("config: {e}")))?;
            let data = match table.remove("data") {
                Some(toml::Value::Table(data)) => data,
                _ => table,
            };
            toml::Value::Table(data)
                .try_into()
                .map_err(|e| error(format!("config: {e}")))?
        }
        other => {
            return Err(error(format!(
                "format {other:?}: expected \"toml\" or \"json\""
            )));
        }
    };
    let meta = serde_json::to_value(&config).map_err(error)?;
    let splits = py.detach(|| config.load()).map_err(error)?;
    Ok((
        to_python(py, &splits.train, &meta)?,
        to_python(py, &splits.test, &meta)?,
    ))
}

/// Reads a dataset file: `.npz` by its extension, `.sdc` otherwise.
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<DatasetParts<'_>> {
    let (dataset, meta) = sdc_data::load_any(&path).map_err(error)?;
    to_python(py, &dataset, &meta)
}

/// Writes a dataset file: `.npz` by its extension, `.sdc` otherwise.
#[pyfunction]
fn save(
    path: PathBuf,
    segments: numpy::PyReadonlyArrayDyn<'_, f32>,
    labels: PyReadonlyArray1<'_, i64>,
    fg_index: PyReadonlyArray1<'_, i64>,
    n_classes: usize,
    meta_json: &str,
) -> PyResult<()> {
    let shape = segments.shape();
    let (n_segments, segment_shape) = match shape {
        [_, m, rest @ ..] if !rest.is_empty() => (*m, rest.to_vec()),
        _ => {
            return Err(error(format!(
                "segments: shape {shape:?}: expected [n, m, d] or [n, m, c, h, w]"
            )));
        }
    };
    let dim = segment_shape.iter().product();
    let meta: serde_json::Value =
        serde_json::from_str(meta_json).map_err(|e| error(format!("meta: {e}")))?;
    let dataset = SdcDataset::new(
        n_segments,
        dim,
        n_classes,
        segments.as_array().iter().copied().collect(),
        indices("labels", labels)?,
        indices("fg_index", fg_index)?,
    )
    .and_then(|d| d.with_segment_shape(segment_shape))
    .map_err(error)?;
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        sdc_data::save_npz(&dataset, &meta, &path)
    } else {
        sdc_data::save(&dataset, &meta, &path)
    }
    .map_err(error)
}

/// Checks int64 indices and narrows them to the `u32` the metrics take.
fn indices(name: &str, array: PyReadonlyArray1<'_, i64>) -> PyResult<Vec<u32>> {
    array
        .as_array()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            u32::try_from(v).map_err(|_| {
                error(format!(
                    "{name}[{i}] = {v} is not an index (expected 0..={})",
                    u32::MAX
                ))
            })
        })
        .collect()
}

/// Alpha as checked rows: finite, non-negative, each summing to 1.
fn alpha_rows<'a>(alpha: &'a PyReadonlyArray2<'_, f32>) -> PyResult<(AlphaRows<'a>, usize)> {
    let m = alpha.shape()[1];
    let values = alpha
        .as_slice()
        .map_err(|_| error("alpha: expected a C-contiguous array"))?;
    let rows = AlphaRows::new(values, m).map_err(error)?;
    sdc_interp::check_simplex(rows, SIMPLEX_TOL).map_err(error)?;
    Ok((rows, m))
}

fn criterion(threshold: Option<f32>) -> FocusCriterion {
    match threshold {
        Some(t) => FocusCriterion::Threshold { t },
        None => FocusCriterion::Argmax,
    }
}

/// Every metric of one evaluated set, as the JSON `sdc score` writes to `summary.json`.
#[pyfunction]
#[pyo3(signature = (alpha, fg_index, labels, predictions, threshold=None))]
fn summarize(
    alpha: PyReadonlyArray2<'_, f32>,
    fg_index: PyReadonlyArray1<'_, i64>,
    labels: PyReadonlyArray1<'_, i64>,
    predictions: PyReadonlyArray1<'_, i64>,
    threshold: Option<f32>,
) -> PyResult<String> {
    let (rows, _) = alpha_rows(&alpha)?;
    let summary = sdc_interp::summarize(
        rows,
        &indices("fg_index", fg_index)?,
        &indices("labels", labels)?,
        &indices("predictions", predictions)?,
        criterion(threshold),
    )
    .map_err(error)?;
    serde_json::to_string(&summary).map_err(error)
}

/// Bin edges `[n_bins + 1]` and counts `[n_bins]` of a histogram.
type Histogram<'py> = (Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<u64>>);

/// Histogram of alpha at the true position: bin edges (`n_bins + 1`) and counts (`n_bins`).
#[pyfunction]
#[pyo3(signature = (alpha, fg_index, n_bins=20))]
fn alpha_at_true_histogram<'py>(
    py: Python<'py>,
    alpha: PyReadonlyArray2<'_, f32>,
    fg_index: PyReadonlyArray1<'_, i64>,
    n_bins: usize,
) -> PyResult<Histogram<'py>> {
    let (rows, _) = alpha_rows(&alpha)?;
    let h = sdc_interp::alpha_at_true_histogram(rows, &indices("fg_index", fg_index)?, n_bins)
        .map_err(error)?;
    let edges = ArrayD::from_shape_vec(IxDyn(&[h.edges.len()]), h.edges).map_err(error)?;
    let counts = ArrayD::from_shape_vec(IxDyn(&[h.counts.len()]), h.counts).map_err(error)?;
    Ok((edges.into_pyarray(py), counts.into_pyarray(py)))
}

/// Writes the report of one scored model under `out` (`run-report.md`, `run-report.html`,
/// `figures/`); returns the Markdown and HTML paths.
#[pyfunction]
#[pyo3(signature = (out, alpha, fg_index, labels, predictions, title, threshold=None, n_bins=20))]
#[allow(clippy::too_many_arguments)]
fn render_report(
    out: PathBuf,
    alpha: PyReadonlyArray2<'_, f32>,
    fg_index: PyReadonlyArray1<'_, i64>,
    labels: PyReadonlyArray1<'_, i64>,
    predictions: PyReadonlyArray1<'_, i64>,
    title: String,
    threshold: Option<f32>,
    n_bins: usize,
) -> PyResult<(String, String)> {
    let (rows, _) = alpha_rows(&alpha)?;
    let fg_index = indices("fg_index", fg_index)?;
    let summary = sdc_interp::summarize(
        rows,
        &fg_index,
        &indices("labels", labels)?,
        &indices("predictions", predictions)?,
        criterion(threshold),
    )
    .map_err(error)?;
    let histogram = sdc_interp::alpha_at_true_histogram(rows, &fg_index, n_bins).map_err(error)?;
    let report = sdc_interp::report::RunReport {
        title,
        splits: vec![("scored".into(), summary)],
        alpha_at_true: Some(histogram),
        curves: Vec::new(),
        extra: Vec::new(),
        notes: Vec::new(),
    };
    let rendered = sdc_interp::report::render_run(&report, &out).map_err(error)?;
    let text = |p: PathBuf| p.display().to_string();
    Ok((text(rendered.markdown), text(rendered.html)))
}

/// The native module; `sdc/__init__.py` wraps it.
#[pymodule]
fn _sdc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SdcError", m.py().get_type::<SdcError>())?;
    m.add("SIMPLEX_TOL", SIMPLEX_TOL)?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(save, m)?)?;
    m.add_function(wrap_pyfunction!(summarize, m)?)?;
    m.add_function(wrap_pyfunction!(alpha_at_true_histogram, m)?)?;
    m.add_function(wrap_pyfunction!(render_report, m)?)?;
    Ok(())
}
