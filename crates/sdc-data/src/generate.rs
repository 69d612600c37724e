//! Seeded generation of synthetic SDC data: a base point set, then train and test mosaics.
//!
//! Each part draws from its own ChaCha8 stream of the config's seed: stream 0 the base set,
//! 1 the train mosaics, 2 the test mosaics. So changing `n_train` leaves the test set unchanged,
//! and the same config gives the same bytes on every platform.

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::config::{MosaicScheme, ResolvedSynthetic, SyntheticConfig};
use crate::distributions::ClassModel;
use crate::{DataError, SdcDataset};

/// ChaCha stream of the base set.
const STREAM_BASE: u64 = 0;
/// ChaCha stream of the train mosaics.
const STREAM_TRAIN: u64 = 1;
/// ChaCha stream of the test mosaics.
const STREAM_TEST: u64 = 2;

/// A train and a test set generated together.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// Training mosaics.
    pub train: SdcDataset,
    /// Test mosaics (possibly empty).
    pub test: SdcDataset,
}

/// The labelled points that mosaics draw their segments from.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseSet {
    /// Dimension of a point.
    pub dim: usize,
    /// Row-major `[n_base, dim]`.
    pub points: Vec<f32>,
    /// Base class of each point, `[n_base]`.
    pub classes: Vec<u32>,
}

impl BaseSet {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether the set holds no point.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Point `i`, `[dim]`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn point(&self, i: usize) -> &[f32] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }
}

/// Validates `config` and generates its train and test mosaics.
pub fn generate(config: &SyntheticConfig) -> Result<Splits, DataError> {
    generate_resolved(&config.validate()?)
}

/// Generates the train and test mosaics of a validated config.
pub fn generate_resolved(resolved: &ResolvedSynthetic) -> Result<Splits, DataError> {
    resolved.check_memory(sdc_io::Budget::machine())?;
    let base = generate_base(resolved);
    let sampler = MosaicSampler::new(resolved, &base)?;
    let train = sampler.mosaics(resolved.n_train, &mut stream(resolved.seed, STREAM_TRAIN))?;
    let test = sampler.mosaics(resolved.n_test, &mut stream(resolved.seed, STREAM_TEST))?;
    Ok(Splits { train, test })
}

/// Generates the base point set of a validated config (stream 0 of its seed).
pub fn generate_base(resolved: &ResolvedSynthetic) -> BaseSet {
    let mut rng = stream(resolved.seed, STREAM_BASE);
    let model = &resolved.model;
    let n_classes = model.n_classes();
    let n = resolved.n_base;
    let classes: Vec<u32> = match model {
        // the paper's Sec. 8 datasets: 500 points per class, concatenated class by class, then shuffled.
        ClassModel::Blobs5d => {
            let mut classes: Vec<u32> = (0..n_classes)
                .flat_map(|c| {
                    let count = n / n_classes + usize::from(c < n % n_classes);
                    std::iter::repeat_n(c as u32, count)
                })
                .collect();
            classes.shuffle(&mut rng);
            classes
        }
        // the paper's Sec. 8 datasets, 4.4: each point's class is randint(0, n_classes).
        ClassModel::Type4
        | ClassModel::Gaussian { .. }
        | ClassModel::Em1
        | ClassModel::Em2
        | ClassModel::Em3 => (0..n)
            .map(|_| rng.random_range(0..n_classes as u32))
            .collect(),
    };
    let dim = model.dim();
    let mut points = Vec::with_capacity(n * dim);
    let mut x = vec![0.0f64; dim];
    for &class in &classes {
        model.sample_into(class as usize, &mut rng, &mut x);
        points.extend(x.iter().map(|&v| v as f32));
    }
    BaseSet {
        dim,
        points,
        classes,
    }
}

/// ChaCha8 seeded by `seed`, on stream `stream`: every seeded draw of this crate starts here.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Indices into the base set, grouped the ways the two mosaic schemes draw from it.
struct MosaicSampler<'a> {
    resolved: &'a ResolvedSynthetic,
    base: &'a BaseSet,
    /// Base-point indices of each base class, in base order.
    by_class: Vec<Vec<usize>>,
    /// Base-point indices of every fg class, in base order.
    fg_pool: Vec<usize>,
    /// Base-point indices of every bg class, in base order.
    bg_pool: Vec<usize>,
    /// Label of each base class (its position in fg_classes), `u32::MAX` if not fg.
    label_of: Vec<u32>,
}

impl<'a> MosaicSampler<'a> {
    /// Groups the base set; refuses a base set without a point of some fg or bg class.
    fn new(resolved: &'a ResolvedSynthetic, base: &'a BaseSet) -> Result<Self, DataError> {
        let mut by_class = vec![Vec::new(); resolved.n_base_classes];
        for (i, &c) in base.classes.iter().enumerate() {
            by_class[c as usize].push(i);
        }
        for &class in resolved.fg_classes.iter().chain(&resolved.bg_classes) {
            if by_class[class as usize].is_empty() {
                return Err(DataError::EmptyBaseClass {
                    class,
                    n_base: resolved.n_base,
                    seed: resolved.seed,
                });
            }
        }
        let mut label_of = vec![u32::MAX; resolved.n_base_classes];
        for (label, &class) in resolved.fg_classes.iter().enumerate() {
            label_of[class as usize] = label as u32;
        }
        let pool = |classes: &[u32]| -> Vec<usize> {
            (0..base.len())
                .filter(|&i| classes.contains(&base.classes[i]))
                .collect()
        };
        Ok(Self {
            resolved,
            base,
            by_class,
            fg_pool: pool(&resolved.fg_classes),
            bg_pool: pool(&resolved.bg_classes),
            label_of,
        })
    }

    /// `n` mosaics drawn with `rng`.
    fn mosaics(&self, n: usize, rng: &mut ChaCha8Rng) -> Result<SdcDataset, DataError> {
        let r = self.resolved;
        let m = r.n_segments;
        let mut segments = Vec::with_capacity(n * m * r.dim);
        let mut labels = Vec::with_capacity(n);
        let mut fg_index = Vec::with_capacity(n);
        for _ in 0..n {
            let (label, fg_point) = match r.scheme {
                // the paper's Sec. 8 datasets: fg_idx = randint(0, n_fg) over the fg pool.
                MosaicScheme::Pool => {
                    let point = pick(&self.fg_pool, rng);
                    (self.label_of[self.base.classes[point] as usize], point)
                }
                // the paper's Sec. 8 datasets (v2): y = randint(0, K), then a point of class fg_classes[y].
                MosaicScheme::ClassUniform => {
                    let label = rng.random_range(0..r.fg_classes.len());
                    let class = r.fg_classes[label] as usize;
                    (label as u32, pick(&self.by_class[class], rng))
                }
            };
            let j = rng.random_range(0..m);
            for slot in 0..m {
                let point = if slot == j {
                    fg_point
                } else {
                    self.background(rng)
                };
                segments.extend_from_slice(self.base.point(point));
            }
            labels.push(label);
            fg_index.push(j as u32);
        }
        SdcDataset::new(m, r.dim, r.n_classes, segments, labels, fg_index)
    }

    /// One background base point.
    fn background(&self, rng: &mut ChaCha8Rng) -> usize {
        match self.resolved.scheme {
            MosaicScheme::Pool => pick(&self.bg_pool, rng),
            // the paper's Sec. 8 datasets (v2): a bg class randint(3, 10), then a point of that class.
            MosaicScheme::ClassUniform => {
                let bg = &self.resolved.bg_classes;
                let class = bg[rng.random_range(0..bg.len())] as usize;
                pick(&self.by_class[class], rng)
            }
        }
    }
}

/// A uniformly chosen element of a non-empty list.
fn pick(list: &[usize], rng: &mut ChaCha8Rng) -> usize {
    list[rng.random_range(0..list.len())]
}

#[cfg(test)]
mod tests;
