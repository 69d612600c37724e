//! [`SdcBatcher`]: mosaics to Burn tensors.
//!
//! `Tensor::from_data` converts the data to the device's default dtypes (burn-tensor 0.22
//! `TensorCreationOptions::resolve_dtype`), so the f32 segments become f64 on a device configured
//! for f64, and the i64 labels become the device's int dtype. No cast is needed here.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::{SdcDataset, SdcItem};

/// Stacks mosaics into a [`SdcBatch`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SdcBatcher;

/// A batch of mosaics on a device.
#[derive(Clone, Debug)]
pub struct SdcBatch {
    /// `[batch, n_segments, dim]`, in the device's default float dtype.
    pub inputs: Tensor<3>,
    /// `[batch]`, the class labels Y.
    pub labels: Tensor<1, Int>,
    /// `[batch]`, the true positions J.
    pub fg_index: Tensor<1, Int>,
}

impl SdcBatcher {
    /// Batches the mosaics of `dataset` at `indices`, gathering rows into one buffer.
    ///
    /// # Panics
    /// If an index is `>= dataset.len()`.
    pub fn batch_indices(
        &self,
        dataset: &SdcDataset,
        indices: &[usize],
        device: &Device,
    ) -> SdcBatch {
        let mut segments = Vec::with_capacity(indices.len() * dataset.sample_len());
        let mut labels = Vec::with_capacity(indices.len());
        let mut fg_index = Vec::with_capacity(indices.len());
        for &i in indices {
            let sample = dataset.sample(i);
            segments.extend_from_slice(sample.segments);
            labels.push(i64::from(sample.label));
            fg_index.push(i64::from(sample.fg_index));
        }
        build(
            segments,
            labels,
            fg_index,
            [dataset.n_segments(), dataset.dim()],
            device,
        )
    }
}

impl Batcher<SdcItem, SdcBatch> for SdcBatcher {
    /// # Panics
    /// If the items do not all have the same `n_segments` and `dim`, or an item's `segments`
    /// length is not `n_segments * dim` (items from one [`SdcDataset`] always agree).
    fn batch(&self, items: Vec<SdcItem>, device: &Device) -> SdcBatch {
        // An empty batch has no item to take the shape from; [0, 0, 0] is the honest answer.
        let shape = items.first().map_or([0, 0], |it| [it.n_segments, it.dim]);
        let mut segments = Vec::with_capacity(items.len() * shape[0] * shape[1]);
        let mut labels = Vec::with_capacity(items.len());
        let mut fg_index = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            assert!(
                [item.n_segments, item.dim] == shape && item.segments.len() == shape[0] * shape[1],
                "SdcBatcher: item {i} has shape [{}, {}] with {} values, the batch [{}, {}]",
                item.n_segments,
                item.dim,
                item.segments.len(),
                shape[0],
                shape[1]
            );
            segments.extend_from_slice(&item.segments);
            labels.push(i64::from(item.label));
            fg_index.push(i64::from(item.fg_index));
        }
        build(segments, labels, fg_index, shape, device)
    }
}

/// Makes the three tensors; `segments` is row-major `[labels.len(), m, d]` for `[m, d] = shape`.
fn build(
    segments: Vec<f32>,
    labels: Vec<i64>,
    fg_index: Vec<i64>,
    shape: [usize; 2],
    device: &Device,
) -> SdcBatch {
    let b = labels.len();
    SdcBatch {
        inputs: Tensor::from_data(TensorData::new(segments, [b, shape[0], shape[1]]), device),
        labels: Tensor::from_data(TensorData::new(labels, [b]), device),
        fg_index: Tensor::from_data(TensorData::new(fg_index, [b]), device),
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataset::Dataset;

    use super::*;

    #[allow(deprecated)] // the ndarray device is the house's test backend
    fn device() -> Device {
        Device::ndarray()
    }

    /// 3 mosaics x 2 segments x 3 dims, value = 100*i + 10*segment + coord.
    fn small() -> SdcDataset {
        let segments = (0..3)
            .flat_map(|i| {
                (0..2).flat_map(move |s| (0..3).map(move |c| (100 * i + 10 * s + c) as f32))
            })
            .collect();
        SdcDataset::new(2, 3, 4, segments, vec![3, 0, 2], vec![1, 0, 1]).expect("valid")
    }

    fn ints(t: Tensor<1, Int>) -> Vec<i64> {
        t.into_data().try_into_vec_as::<i64>().expect("int data")
    }

    #[test]
    fn batch_indices_gathers_rows_in_order() {
        let ds = small();
        let batch = SdcBatcher.batch_indices(&ds, &[2, 0], &device());
        assert_eq!(batch.inputs.dims(), [2, 2, 3]);
        let values = batch
            .inputs
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 on ndarray");
        assert_eq!(
            values,
            [
                200., 201., 202., 210., 211., 212., 0., 1., 2., 10., 11., 12.
            ]
        );
        assert_eq!(ints(batch.labels), [2, 3]);
        assert_eq!(ints(batch.fg_index), [1, 1]);
    }

    #[test]
    fn batcher_trait_matches_batch_indices() {
        let ds = small();
        let items = ds.get_many(vec![1, 2, 0]).expect("in range");
        let a = SdcBatcher.batch(items, &device());
        let b = SdcBatcher.batch_indices(&ds, &[1, 2, 0], &device());
        assert_eq!(a.inputs.into_data(), b.inputs.into_data());
        assert_eq!(ints(a.labels), ints(b.labels));
        assert_eq!(ints(a.fg_index), [0, 1, 1]);
    }

    #[test]
    fn float_and_int_tensors_use_the_device_defaults() {
        let device = device();
        let batch = SdcBatcher.batch_indices(&small(), &[0], &device);
        let settings = device.settings();
        assert_eq!(batch.inputs.dtype(), settings.float_dtype.into());
        assert_eq!(batch.labels.dtype(), settings.int_dtype.into());
    }

    #[test]
    fn empty_batches_have_zero_rows() {
        let batch = SdcBatcher.batch_indices(&small(), &[], &device());
        assert_eq!(batch.inputs.dims(), [0, 2, 3]);
        assert_eq!(batch.labels.dims(), [0]);
        assert_eq!(SdcBatcher.batch(vec![], &device()).inputs.dims(), [0, 0, 0]);
    }

    #[test]
    #[should_panic(expected = "SdcBatcher: item 1 has shape")]
    fn mixed_shapes_panic_with_a_message() {
        let mut items = vec![small().item(0), small().item(1)];
        items[1].segments.pop();
        let _ = SdcBatcher.batch(items, &device());
    }
}
