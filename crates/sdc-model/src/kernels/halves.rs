//! A kernel's work in two halves, the second on an idle core ([`sdc_io::cores`]).
//!
//! A kernel splits only where every output value is computed alone: a plane of an image, a
//! sample's matrix product, a channel's statistics. The halves therefore compute the very same
//! bits as the whole, and on a busy machine (a sweep holding every core) they run one after the
//! other on the run's own thread, so nothing is oversubscribed.

use std::ops::Range;
use std::sync::OnceLock;

use sdc_io::cores::{self, CoreLease};

#[cfg(test)]
thread_local! {
    /// Whether this thread splits work of any size (a test's choice).
    static ANY_SIZE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Splits work of any size on this thread until the guard drops, so that a test's small
/// inputs take the split path.
#[cfg(test)]
pub(crate) fn any_size() -> impl Drop {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ANY_SIZE.set(self.0);
        }
    }
    Restore(ANY_SIZE.replace(true))
}

/// Whether work that touches `values` values is worth a thread.
fn worth_a_thread(values: usize) -> bool {
    #[cfg(test)]
    if ANY_SIZE.get() {
        return true;
    }
    values >= MIN_VALUES
}

/// Work that touches fewer values than this stays on one thread: handing a half to a helper
/// thread (a few microseconds) would cost more than it saves. Measured on the mnist-mosaic model
/// at batch 64 on two threads (`xtask bench child`, alternating builds): 1,051-1,074 mosaics/s
/// with 65,536, 1,202-1,293 with 16,384, 1,313-1,336 with 4,096, 1,260-1,343 with 1,024.
pub(crate) const MIN_VALUES: usize = 1 << 12;

/// An idle core for work that touches `values` values, if the work is worth a thread.
fn idle_core(values: usize) -> Option<CoreLease<'static>> {
    worth_a_thread(values).then(cores::try_borrow).flatten()
}

/// The threads the halves run on: started once and kept, as many as the cores that can be
/// lent. A thread started per operation would begin each time with an empty allocator heap,
/// and every buffer it made would be fresh pages from the kernel, zeroed (a third of the main
/// thread's time in a mosaic-CNN step when measured that way).
fn pool() -> &'static rayon_core::ThreadPool {
    static POOL: OnceLock<rayon_core::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon_core::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("sdc-half-{i}"))
            .build()
            .expect("the kernels' helper threads start")
    })
}

/// `(first(), second())` with `second` on a helper thread, as the borrowed `core`'s holder,
/// meanwhile. A panic in `second` goes on unwinding here.
fn on_two<A, B: Send>(
    core: CoreLease<'static>,
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    let mut b = None;
    let a = pool().in_place_scope(|scope| {
        scope.spawn(|_| b = Some(cores::on_borrowed(core, second)));
        first()
    });
    (a, b.expect("the scope waits for the work it spawned"))
}

/// `work` on the two halves of `0..items` at once when a core is idle (two results, in order),
/// else on the whole range (one result).
pub(crate) fn halves_or_whole<T: Send>(
    items: usize,
    values: usize,
    work: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    match idle_core(values).filter(|_| items >= 2) {
        Some(core) => {
            let mid = items / 2;
            let (a, b) = on_two(core, || work(0..mid), || work(mid..items));
            vec![a, b]
        }
        None => vec![work(0..items)],
    }
}

/// Fills `out`, `len` values per item, with `fill(first_item, part)`: on each half of the
/// items at once when a core is idle ([`both`]), else on all of them. `fill` must compute each
/// item from the inputs alone, never from another item, so that the split changes no value.
pub(crate) fn fill_items<E: Send>(
    out: &mut [E],
    len: usize,
    values: usize,
    fill: impl Fn(usize, &mut [E]) + Sync,
) {
    let items = out.len().checked_div(len).unwrap_or(0);
    match idle_core(values).filter(|_| items >= 2) {
        Some(core) => {
            let mid = items / 2;
            let (first, second) = out.split_at_mut(mid * len);
            on_two(core, || fill(0, first), || fill(mid, second));
        }
        None => fill(0, out),
    }
}

/// [`fill_items`] of two outputs at once, item by item: `a` holds `len_a` values per item and
/// `b` `len_b`; `fill(first_item, part of a, part of b)`.
pub(crate) fn fill_items_of_two<E: Send, F: Send>(
    (a, len_a): (&mut [E], usize),
    (b, len_b): (&mut [F], usize),
    values: usize,
    fill: impl Fn(usize, &mut [E], &mut [F]) + Sync,
) {
    let items = a.len().checked_div(len_a).unwrap_or(0);
    debug_assert_eq!(b.len(), items * len_b);
    match idle_core(values).filter(|_| items >= 2) {
        Some(core) => {
            let mid = items / 2;
            let (a0, a1) = a.split_at_mut(mid * len_a);
            let (b0, b1) = b.split_at_mut(mid * len_b);
            on_two(core, || fill(0, a0, b0), || fill(mid, a1, b1));
        }
        None => fill(0, a, b),
    }
}

/// `items` items of `len` values each, which `make(first_item, count, out)` pushes onto `out`:
/// without zeroing the memory first, as [`fill_items`] needs. On each half of the items at
/// once when a core is idle (the second half then copied after the first), else on all of
/// them; `make` must compute each item alone, as for [`fill_items`].
pub(crate) fn collect_items<E: Copy + Send>(
    items: usize,
    len: usize,
    values: usize,
    make: impl Fn(usize, usize, &mut Vec<E>) + Sync,
) -> Vec<E> {
    let mut out = Vec::with_capacity(items * len);
    match idle_core(values).filter(|_| items >= 2) {
        Some(core) => {
            let mid = items / 2;
            let ((), second) = on_two(
                core,
                || make(0, mid, &mut out),
                || {
                    let mut second = Vec::with_capacity((items - mid) * len);
                    make(mid, items - mid, &mut second);
                    second
                },
            );
            out.extend_from_slice(&second);
        }
        None => make(0, items, &mut out),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_halves_fill_what_the_whole_fills_with_a_core_or_without() {
        let fill = |first: usize, part: &mut [u64]| {
            for (i, item) in part.chunks_exact_mut(3).enumerate() {
                item.fill((first + i) as u64 * 10);
            }
        };
        let mut whole = vec![0u64; 21];
        fill(0, &mut whole);
        for lend in [true, false] {
            let _lending = cores::lending(lend);
            let mut halves = vec![0u64; 21];
            fill_items(&mut halves, 3, MIN_VALUES, fill);
            assert_eq!(halves, whole, "lent: {lend}");
        }
        let mut one = vec![0u64; 3];
        fill_items(&mut one, 3, MIN_VALUES, fill);
        assert_eq!(one, [0, 0, 0]);
    }

    #[test]
    fn collected_halves_are_the_whole() {
        let make = |first: usize, count: usize, out: &mut Vec<usize>| {
            out.extend((first..first + count).flat_map(|i| [i, i * i]));
        };
        let whole = collect_items(5, 2, 0, make);
        assert_eq!(whole, [0, 0, 1, 1, 2, 4, 3, 9, 4, 16]);
        let _lending = cores::lending(true);
        let _any_size = any_size();
        assert_eq!(collect_items(5, 2, 0, make), whole);
    }
}
