//! A replica group in two halves at once when a core is idle: nothing in a replica batch mixes
//! replicas, so each replica's results are the same either way.

use sdc_data::Splits;

use super::{Member, train_group};
use crate::error::TrainError;
use crate::run::RunSummary;

/// What [`train_group`] returns for some members, with their positions in the caller's list.
pub(super) type GroupOutcome = (
    Vec<usize>,
    Result<Vec<Result<RunSummary, TrainError>>, TrainError>,
);

/// Trains `members` as one group, or, on a CPU backend when a core is idle and there are two or
/// more, as two groups at once, the second half on the idle core. Nothing in a replica batch mixes
/// replicas, so every replica's results are the same either way; only the wall time changes.
pub(super) fn train_on_idle_cores(
    mut members: Vec<Member>,
    splits: &Splits,
    stop_after: Option<usize>,
) -> Vec<GroupOutcome> {
    let indices = |members: &[Member]| members.iter().map(|m| m.index).collect::<Vec<_>>();
    // On a GPU both halves would queue on the one device.
    let lease = if members.len() >= 2 && members[0].config.train.backend.on_cpu() {
        crate::cores::try_borrow()
    } else {
        None
    };
    let Some(lease) = lease else {
        let all = indices(&members);
        return vec![(all, train_group(members, splits, stop_after))];
    };
    let second = members.split_off(members.len().div_ceil(2));
    let (first_indices, second_indices) = (indices(&members), indices(&second));
    let (first, second) = std::thread::scope(|scope| {
        let job = scope
            .spawn(|| crate::cores::on_borrowed(lease, || train_group(second, splits, stop_after)));
        let first = train_group(members, splits, stop_after);
        match job.join() {
            Ok(second) => (first, second),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    vec![(first_indices, first), (second_indices, second)]
}
