//! Idle cores a run may borrow for work that splits in two.
//!
//! Every training loop holds one core while it runs ([`hold`]), and so does a sweep's worker
//! while it works on a run (its data included); a sweep of `--jobs N` on N cores therefore
//! holds them all, and a lone run, or the last runs of a sweep, leave cores idle. A run that can split work, such as evaluating its training and test sets at the same
//! time, asks for one of those ([`try_borrow`]) and does the work on one thread when none is
//! idle, so a full sweep is never oversubscribed. What is borrowed changes only the wall time:
//! the split work computes the same values either way.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cores in use out of those available.
#[derive(Debug)]
struct Cores {
    in_use: AtomicUsize,
    available: usize,
}

/// A core of `Cores` in use until the lease drops.
#[derive(Debug)]
#[must_use = "the core is released when the lease drops"]
pub(crate) struct CoreLease<'a>(&'a Cores);

impl Drop for CoreLease<'_> {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Cores {
    const fn new(available: usize) -> Self {
        Self {
            in_use: AtomicUsize::new(0),
            available,
        }
    }

    fn hold(&self) -> CoreLease<'_> {
        self.in_use.fetch_add(1, Ordering::AcqRel);
        CoreLease(self)
    }

    fn try_borrow(&self) -> Option<CoreLease<'_>> {
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.available).then_some(n + 1)
            })
            .ok()
            .map(|_| CoreLease(self))
    }
}

/// This process's cores: as many as the OS lets it run on (affinity and CPU quota).
fn cores() -> &'static Cores {
    static CORES: OnceLock<Cores> = OnceLock::new();
    CORES.get_or_init(|| Cores::new(std::thread::available_parallelism().map_or(1, |n| n.get())))
}

thread_local! {
    /// Whether this thread holds its core already (a sweep worker around a run's own hold).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// This thread's core, held until the lease drops: counted as in use whether or not one is
/// idle, and once per thread however often it is held.
pub fn hold() -> ThreadLease {
    if HOLDING.replace(true) {
        ThreadLease(None)
    } else {
        ThreadLease(Some(cores().hold()))
    }
}

/// [`hold`]'s lease: the thread's core, or nothing for a nested hold.
#[derive(Debug)]
#[must_use = "the core is released when the lease drops"]
pub struct ThreadLease(Option<CoreLease<'static>>);

impl Drop for ThreadLease {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            HOLDING.set(false);
        }
    }
}

/// Every core of the process, held until the leases drop: nothing is borrowed meanwhile.
#[cfg(test)]
pub(crate) fn occupy_all() -> Vec<CoreLease<'static>> {
    (0..cores().available).map(|_| cores().hold()).collect()
}

/// An idle core, if there is one right now.
pub(crate) fn try_borrow() -> Option<CoreLease<'static>> {
    cores().try_borrow()
}

/// `(first(), second())`: `second` on a borrowed idle core's thread when there is one, else
/// after `first` on this thread. A panic in `second` goes on unwinding here.
pub(crate) fn alongside<A, B: Send>(
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    let Some(_core) = try_borrow() else {
        return (first(), second());
    };
    std::thread::scope(|scope| {
        let job = scope.spawn(second);
        let a = first();
        match job.join() {
            Ok(b) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_only_idle_cores_and_returns_them() {
        let cores = Cores::new(2);
        let first_run = cores.hold();
        let borrowed = cores.try_borrow().expect("one of two cores is idle");
        assert!(cores.try_borrow().is_none(), "both cores are in use");
        drop(borrowed);
        let second_run = cores.hold();
        assert!(cores.try_borrow().is_none(), "two runs hold both cores");
        drop((first_run, second_run));
        assert_eq!(cores.in_use.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_held_core_counts_even_when_oversubscribed() {
        let cores = Cores::new(1);
        let leases = [cores.hold(), cores.hold()];
        assert!(cores.try_borrow().is_none());
        drop(leases);
        assert!(cores.try_borrow().is_some());
    }

    #[test]
    fn a_thread_holds_its_core_once() {
        let outer = hold();
        let inner = hold();
        assert!(outer.0.is_some() && inner.0.is_none());
        drop(inner);
        assert!(HOLDING.get(), "the outer lease still holds");
        drop(outer);
        assert!(!HOLDING.get());
    }

    #[test]
    fn alongside_gives_both_results_in_order_and_passes_panics_on() {
        assert_eq!(alongside(|| 1, || "two"), (1, "two"));
        let caught = std::panic::catch_unwind(|| alongside(|| 1, || -> u8 { panic!("boom") }));
        assert!(caught.is_err());
    }
}
