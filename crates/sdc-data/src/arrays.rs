//! Named numeric arrays from the files other tools write: NumPy `.npz` (arrays by name), `.npy`
//! (one array) and `.csv` (columns by header). Values come back as `f32` or as `u32` indices
//! whatever dtype stored them, and every error names the file, the array and the value.

use std::fs::File;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError, ReadableElement};

use crate::DataError;

/// A numeric array read from a file: its values in row-major order and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArray<T> {
    /// Row-major values, `shape.iter().product()` of them.
    pub values: Vec<T>,
    /// The array's shape (`[]` for a scalar).
    pub shape: Vec<usize>,
}

/// A file of arrays, opened once and read by name.
pub struct ArrayFile {
    path: PathBuf,
    kind: Kind,
}

enum Kind {
    Npz(Box<NpzReader<File>>),
    Npy,
    Csv {
        headers: Vec<String>,
        rows: Vec<csv::StringRecord>,
    },
}

/// Why a typed read did not produce an array: the stored dtype, to name in the message.
type Dtype = String;

impl ArrayFile {
    /// Opens `path` by its extension: `.npz`, `.npy` or `.csv`.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let kind = match ext.as_deref() {
            Some("npz") => {
                let reader = NpzReader::new(File::open(path).map_err(io)?)
                    .map_err(|e| array_error(path, "(archive)", e))?;
                Kind::Npz(Box::new(reader))
            }
            Some("npy") => {
                File::open(path).map_err(io)?;
                Kind::Npy
            }
            Some("csv") => {
                let mut reader =
                    csv::Reader::from_path(path).map_err(|e| array_error(path, "(header)", e))?;
                let headers = reader
                    .headers()
                    .map_err(|e| array_error(path, "(header)", e))?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect();
                let rows = reader
                    .records()
                    .collect::<Result<_, _>>()
                    .map_err(|e| array_error(path, "(rows)", e))?;
                Kind::Csv { headers, rows }
            }
            _ => {
                return Err(array_error(
                    path,
                    "(file)",
                    "unknown file type; expected a .npz, .npy or .csv file",
                ));
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the arrays (`.npz`) or columns (`.csv`); empty for a `.npy` file's one array.
    pub fn names(&mut self) -> Result<Vec<String>, DataError> {
        match &mut self.kind {
            Kind::Npz(reader) => reader
                .names()
                .map_err(|e| array_error(&self.path, "(archive)", e)),
            Kind::Npy => Ok(Vec::new()),
            Kind::Csv { headers, .. } => Ok(headers.clone()),
        }
    }

    /// Whether the file has an array called `name`: an `.npz` entry; for a `.csv`, a column
    /// `name` or columns `name_0, name_1, ...`; a `.npy` file's one array answers to any name.
    pub fn has(&mut self, name: &str) -> Result<bool, DataError> {
        Ok(match &self.kind {
            Kind::Npy => true,
            Kind::Csv { headers, .. } => !csv_columns(headers, name).is_empty(),
            Kind::Npz(_) => self.names()?.iter().any(|n| n == name),
        })
    }

    /// The first of `names` the file has, if any.
    pub fn first_of<'n>(&mut self, names: &[&'n str]) -> Result<Option<&'n str>, DataError> {
        for &name in names {
            if self.has(name)? {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Array `name` as `f32`, from float32 or float64 storage.
    pub fn floats(&mut self, name: &str) -> Result<NamedArray<f32>, DataError> {
        if let Kind::Csv { headers, rows } = &self.kind {
            return csv_array(&self.path, headers, rows, name, |s| s.parse::<f32>().ok());
        }
        if let Ok(a) = self.read::<f32>(name)? {
            return Ok(named(a, |v| v));
        }
        match self.read::<f64>(name)? {
            Ok(a) => Ok(named(a, |v| v as f32)),
            Err(dtype) => Err(array_error(
                &self.path,
                name,
                format!("dtype {dtype} is not accepted; expected float32 or float64"),
            )),
        }
    }

    /// Array `name` as `u32` indices (labels, positions, classes), from any integer storage;
    /// a negative or too large value is an error that names its position.
    pub fn indices(&mut self, name: &str) -> Result<NamedArray<u32>, DataError> {
        if let Kind::Csv { headers, rows } = &self.kind {
            return csv_array(&self.path, headers, rows, name, |s| s.parse::<u32>().ok());
        }
        // Every failed attempt reports the same stored dtype; keep the first.
        let dtype = match self.read::<i64>(name)? {
            Ok(a) => return to_indices(&self.path, name, a),
            Err(dtype) => dtype,
        };
        macro_rules! attempt {
            ($($t:ty),*) => {$(
                if let Ok(a) = self.read::<$t>(name)? {
                    return to_indices(&self.path, name, a);
                }
            )*};
        }
        attempt!(i32, u32, u8, u16, i16, i8, u64);
        Err(array_error(
            &self.path,
            name,
            format!("dtype {dtype} is not accepted; expected an integer array"),
        ))
    }

    /// Reads `name` stored as exactly `T`; `Ok(Err(dtype))` when it is stored as another type.
    fn read<T: ReadableElement>(
        &mut self,
        name: &str,
    ) -> Result<Result<ArrayD<T>, Dtype>, DataError> {
        let result = match &mut self.kind {
            Kind::Npz(reader) => match reader.by_name::<_, ndarray::IxDyn>(name) {
                Ok(a) => Ok(a),
                Err(ReadNpzError::Npy(e)) => Err(e),
                Err(ReadNpzError::Zip(e)) => {
                    let names = self.names()?.join(", ");
                    return Err(array_error(
                        &self.path,
                        name,
                        format!("cannot read ({e}); the file has: {names}"),
                    ));
                }
            },
            Kind::Npy => {
                let file = File::open(&self.path).map_err(|source| DataError::Io {
                    path: self.path.clone(),
                    source,
                })?;
                ArrayD::<T>::read_npy(file)
            }
            Kind::Csv { .. } => unreachable!("CSV columns are parsed, not read as npy"),
        };
        match result {
            Ok(a) => Ok(Ok(a)),
            Err(ReadNpyError::WrongDescriptor(d)) => Ok(Err(d.to_string())),
            Err(e) => Err(array_error(&self.path, name, e)),
        }
    }
}

fn array_error(path: &Path, field: &str, message: impl ToString) -> DataError {
    DataError::Array {
        path: path.to_path_buf(),
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn named<T: Copy, U>(a: ArrayD<T>, f: impl Fn(T) -> U) -> NamedArray<U> {
    NamedArray {
        shape: a.shape().to_vec(),
        // `iter` walks in logical (row-major) order whatever the memory order (Fortran arrays).
        values: a.iter().map(|&v| f(v)).collect(),
    }
}

fn to_indices<T: Copy + Into<i128> + std::fmt::Display>(
    path: &Path,
    name: &str,
    a: ArrayD<T>,
) -> Result<NamedArray<u32>, DataError> {
    if let Some((i, v)) = a
        .iter()
        .enumerate()
        .find(|(_, v)| u32::try_from((**v).into()).is_err())
    {
        return Err(array_error(
            path,
            name,
            format!(
                "value {v} at flat position {i} is not an index (expected 0..={})",
                u32::MAX
            ),
        ));
    }
    Ok(named(a, |v| {
        u32::try_from(v.into()).expect("range checked just above")
    }))
}

/// Columns of `name` in a CSV header: `name` itself, else `name_0, name_1, ...` in order.
fn csv_columns(headers: &[String], name: &str) -> Vec<usize> {
    if let Some(i) = headers.iter().position(|h| h == name) {
        return vec![i];
    }
    (0..)
        .map_while(|j| {
            let column = format!("{name}_{j}");
            headers.iter().position(|h| *h == column)
        })
        .collect()
}

/// Column `name` (shape `[rows]`) or columns `name_*` (shape `[rows, columns]`) of a CSV file.
fn csv_array<T>(
    path: &Path,
    headers: &[String],
    rows: &[csv::StringRecord],
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<NamedArray<T>, DataError> {
    let columns = csv_columns(headers, name);
    if columns.is_empty() {
        return Err(array_error(
            path,
            name,
            format!(
                "no column {name} or {name}_0, {name}_1, ...; the header has: {}",
                headers.join(", ")
            ),
        ));
    }
    let mut values = Vec::with_capacity(rows.len() * columns.len());
    for (r, row) in rows.iter().enumerate() {
        for &c in &columns {
            let cell = row.get(c).unwrap_or("").trim();
            let value = parse(cell).ok_or_else(|| {
                array_error(
                    path,
                    &headers[c],
                    format!(
                        "row {} holds {cell:?}, not a {}",
                        r + 1,
                        std::any::type_name::<T>()
                    ),
                )
            })?;
            values.push(value);
        }
    }
    let shape = if columns.len() == 1 && headers[columns[0]] == name {
        vec![rows.len()]
    } else {
        vec![rows.len(), columns.len()]
    };
    Ok(NamedArray { values, shape })
}

#[cfg(test)]
// Tests may unwrap: a panic there is the failure report we want.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};
    use ndarray_npy::{NpzWriter, write_npy};

    #[test]
    fn npz_reads_any_float_and_integer_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let mut npz = NpzWriter::new(File::create(&path).unwrap());
        let alpha = Array2::from_shape_vec((2, 2), vec![0.25f64, 0.75, 1.0, 0.0]).unwrap();
        npz.add_array("alpha", &alpha).unwrap();
        npz.add_array("labels", &Array1::from_vec(vec![2i64, 0]))
            .unwrap();
        npz.add_array("small", &Array1::from_vec(vec![7u8]))
            .unwrap();
        npz.add_array("neg", &Array1::from_vec(vec![1i32, -3]))
            .unwrap();
        npz.finish().unwrap();

        let mut file = ArrayFile::open(&path).unwrap();
        assert!(file.has("alpha").unwrap() && !file.has("beta").unwrap());
        let a = file.floats("alpha").unwrap();
        assert_eq!(
            (a.values, a.shape),
            (vec![0.25, 0.75, 1.0, 0.0], vec![2, 2])
        );
        assert_eq!(file.indices("labels").unwrap().values, vec![2, 0]);
        assert_eq!(file.indices("small").unwrap().values, vec![7]);
        let err = file.indices("neg").unwrap_err().to_string();
        assert!(
            err.contains("a.npz: neg: value -3 at flat position 1"),
            "{err}"
        );
        let err = file.indices("alpha").unwrap_err().to_string();
        assert!(err.contains("alpha: dtype") && err.contains("<f8"), "{err}");
        let err = file.floats("beta").unwrap_err().to_string();
        assert!(
            err.contains("beta: cannot read") && err.contains("alpha"),
            "{err}"
        );
    }

    #[test]
    fn npy_answers_to_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.npy");
        write_npy(&path, &Array1::from_vec(vec![1u32, 4, 2])).unwrap();
        let mut file = ArrayFile::open(&path).unwrap();
        assert_eq!(file.indices("predictions").unwrap().values, vec![1, 4, 2]);
        assert_eq!(file.indices("predictions").unwrap().shape, vec![3]);
    }

    #[test]
    fn csv_columns_by_name_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(
            &path,
            "index,prediction,alpha_0,alpha_1\n0,1,0.5,0.5\n1,0,0.9,0.1\n",
        )
        .unwrap();
        let mut file = ArrayFile::open(&path).unwrap();
        let alpha = file.floats("alpha").unwrap();
        assert_eq!(alpha.shape, vec![2, 2]);
        assert_eq!(alpha.values, vec![0.5, 0.5, 0.9, 0.1]);
        assert_eq!(file.indices("prediction").unwrap().values, vec![1, 0]);
        assert_eq!(
            file.first_of(&["predictions", "prediction"]).unwrap(),
            Some("prediction")
        );
        let err = file.indices("label").unwrap_err().to_string();
        assert!(
            err.contains("no column label") && err.contains("index, prediction"),
            "{err}"
        );
        std::fs::write(&path, "prediction\n1\n-1\n").unwrap();
        let err = ArrayFile::open(&path)
            .unwrap()
            .indices("prediction")
            .unwrap_err()
            .to_string();
        assert!(err.contains("prediction: row 2 holds \"-1\""), "{err}");
    }

    #[test]
    fn unknown_extension_is_refused() {
        let err = ArrayFile::open(Path::new("x.parquet"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("expected a .npz, .npy or .csv file"), "{err}");
    }
}
