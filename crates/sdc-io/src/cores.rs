//! Idle cores a run may borrow for work that splits in two.
//!
//! Every training loop holds one core while it runs ([`hold`]), and so does a sweep's worker
//! while it works on a run (its data included); a sweep of `--jobs N` on N cores therefore
//! holds them all, and a lone run, or the last runs of a sweep, leave cores idle. A run that can split work, such as evaluating its training and test sets at the same
//! time, asks for one of those ([`try_borrow`]) and does the work on one thread when none is
//! idle, so a full sweep is never oversubscribed. What is borrowed changes only the wall time:
//! the split work computes the same values either way.
//!
//! Two ways to split: [`alongside`] runs two independent pieces of work at once (the training
//! and the test set's evaluations), and [`look_ahead`] evaluates an epoch on the borrowed core
//! while the run trains the next epoch, which it keeps only if the evaluation lets the run go on.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cores in use out of those available.
#[derive(Debug)]
struct Cores {
    in_use: AtomicUsize,
    /// The most cores in use at once so far.
    peak: AtomicUsize,
    available: usize,
}

/// A core of `Cores` in use until the lease drops.
#[derive(Debug)]
#[must_use = "the core is released when the lease drops"]
pub struct CoreLease<'a>(&'a Cores);

impl Drop for CoreLease<'_> {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Cores {
    const fn new(available: usize) -> Self {
        Self {
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            available,
        }
    }

    fn hold(&self) -> CoreLease<'_> {
        let now = self.in_use.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(now, Ordering::AcqRel);
        CoreLease(self)
    }

    fn try_borrow(&self) -> Option<CoreLease<'_>> {
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.available).then_some(n + 1)
            })
            .ok()
            .map(|n| {
                self.peak.fetch_max(n + 1, Ordering::AcqRel);
                CoreLease(self)
            })
    }
}

/// This process's cores.
static CORES: OnceLock<Cores> = OnceLock::new();

/// This process's cores: as many as the OS lets it run on (affinity and CPU quota), unless
/// [`limit`] said fewer.
fn cores() -> &'static Cores {
    CORES.get_or_init(|| Cores::new(std::thread::available_parallelism().map_or(1, |n| n.get())))
}

/// The most cores this process's runs have used at once so far (held and borrowed).
pub fn peak_in_use() -> usize {
    cores().peak.load(Ordering::Acquire)
}

/// Counts `n` cores (at least one) for this process instead of all it may run on, so that it
/// borrows only within those: for a measurement of `n` threads. Takes effect only before any
/// core is counted; returns whether it did.
pub fn limit(n: usize) -> bool {
    CORES.set(Cores::new(n.max(1))).is_ok()
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

thread_local! {
    /// A test's choice for this thread: always lend a core (`Some(true)`), never (`Some(false)`),
    /// or lend what is idle (`None`), so a test can take each path whatever else runs.
    static LENDING: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Makes [`try_borrow`] on this thread always (`true`) or never (`false`) lend a core until
/// the guard drops: for tests, so that each path runs whatever else the machine does.
#[doc(hidden)]
pub fn lending(lend: bool) -> impl Drop {
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LENDING.set(self.0);
        }
    }
    Restore(LENDING.replace(Some(lend)))
}

/// An idle core, if there is one right now.
pub fn try_borrow() -> Option<CoreLease<'static>> {
    if let Some(lend) = LENDING.get() {
        return lend.then(|| cores().hold());
    }
    cores().try_borrow()
}

/// `(evaluate(), Some(ahead()))` with `evaluate` on a borrowed idle core's thread while `ahead`
/// runs on this one, when a core is idle; otherwise `(evaluate(), None)` on this thread, and
/// `ahead` never runs. For work `ahead` that the caller would do next only if `evaluate`'s
/// result allows (training the next epoch while this one is evaluated): with a core to spare
/// it starts at once and is discarded when not wanted; without one, nothing is wasted. A panic
/// in `evaluate` goes on unwinding here.
pub fn look_ahead<A, B: Send>(
    evaluate: impl FnOnce() -> B + Send,
    ahead: impl FnOnce() -> A,
) -> (B, Option<A>) {
    let Some(_core) = try_borrow() else {
        return (evaluate(), None);
    };
    std::thread::scope(|scope| {
        let job = scope.spawn(evaluate);
        let a = ahead();
        match job.join() {
            Ok(b) => (b, Some(a)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Runs `work` on this thread (a new one, on the core `lease` borrowed) as that core's holder:
/// a [`hold`] inside counts nothing more, and the core is returned when `work` ends.
pub fn on_borrowed<T>(lease: CoreLease<'static>, work: impl FnOnce() -> T) -> T {
    let held = ThreadLease(Some(lease));
    HOLDING.set(true);
    let out = work();
    drop(held);
    out
}

/// `(first(), second())`: `second` on a borrowed idle core's thread when there is one, else
/// after `first` on this thread. A panic in `second` goes on unwinding here.
pub fn alongside<A, B: Send>(
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
        assert_eq!(cores.peak.load(Ordering::Acquire), 2);
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

    #[test]
    fn work_on_a_borrowed_core_holds_it_once_and_returns_it() {
        let _lent = lending(true);
        let lease = try_borrow().expect("lent");
        let (nested_counted, holding_after) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let nested = on_borrowed(lease, || hold().0.is_some());
                    (nested, HOLDING.get())
                })
                .join()
                .expect("no panic")
        });
        assert!(!nested_counted, "the borrowed core is the thread's own");
        assert!(!holding_after, "returned when the work ends");
    }

    #[test]
    fn look_ahead_runs_ahead_only_on_a_lent_core() {
        let ran = std::cell::Cell::new(false);
        let lent = lending(true);
        assert_eq!(look_ahead(|| 1, || ran.set(true)), (1, Some(())));
        assert!(ran.get());
        drop(lent);
        ran.set(false);
        let _refused = lending(false);
        assert_eq!(look_ahead(|| 2, || ran.set(true)), (2, None));
        assert!(!ran.get(), "without a core the work ahead never starts");
        assert!(
            alongside(|| 3, || 4) == (3, 4),
            "alongside still runs both, one after the other"
        );
        let _lent = lending(true);
        let caught = std::panic::catch_unwind(|| look_ahead(|| -> u8 { panic!("boom") }, || ()));
        assert!(caught.is_err());
    }
}
