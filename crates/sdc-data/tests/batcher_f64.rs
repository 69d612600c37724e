//! A device configured for f64 gets f64 inputs from the batcher (the paper's nets are float64).
//!
//! Its own test binary: device settings are process-wide and can be set only once, so this must
//! not share a process with tests that use the f32 default.

use burn::tensor::{DType, Device, FloatDType};
use sdc_data::{SdcBatcher, SdcDataset};

#[test]
fn batch_follows_a_device_configured_for_f64() {
    #[allow(deprecated)] // the ndarray device is the house's test backend
    let mut device = Device::ndarray();
    device
        .configure(FloatDType::F64)
        .expect("ndarray supports f64");
    let ds =
        SdcDataset::new(2, 1, 2, vec![0.1, 0.2, 0.3, 0.4], vec![1, 0], vec![0, 1]).expect("valid");
    let batch = SdcBatcher.batch_indices(&ds, &[1, 0], &device);
    assert_eq!(batch.inputs.dtype(), DType::F64);
    let values = batch
        .inputs
        .into_data()
        .try_into_vec::<f64>()
        .expect("f64 data");
    // The f32 values widened exactly, not re-rounded through a decimal.
    assert_eq!(values, [0.3f32, 0.4, 0.1, 0.2].map(f64::from));
}
