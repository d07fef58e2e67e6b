//! The batch executor: fan independent work (one HPKE seal per recipient, one key derivation
//! per node) out over threads, with a serial path that runs the very same code.
//!
//! - [`Join`], [`SerialJoin`], [`RayonJoin`]: run two closures, in sequence or on rayon's pool.
//! - [`map`], [`try_map`] and [`map_mut`]: apply a function to every item of a slice (shared,
//!   or exclusive for [`map_mut`]), splitting the slice in halves recursively down to chunks of
//!   at most `cutoff` items, and return the results in input order. This is the one flat
//!   fan-out of the engine, written once, generic over `J: Join`. The crate feature `rayon`
//!   changes only what [`RayonJoin`] does and which [`Executor`] is the default.
//! - [`join_if`]: the step of a recursion over subtrees, parallel above a cutoff and
//!   [`SerialJoin`] below it.
//! - [`Executor`]: the same functions behind a `Copy` value, so engine code can take
//!   `exec: Executor` as a parameter instead of a type parameter.
//!
//! Results never depend on the executor or the number of threads: each item's result depends
//! only on its index and value (derive per-item randomness from the index, STYLE.md §3), the
//! output is in input order, and [`try_map`] reports the error at the lowest failing index.
//!
//! ```
//! use canopy_engine::batch::{self, Executor, RayonJoin, SerialJoin};
//!
//! let items: Vec<u64> = (0..1000).collect();
//! let serial = batch::map::<SerialJoin, _, _>(&items, 16, |i, x| x * x + i as u64);
//! let parallel = batch::map::<RayonJoin, _, _>(&items, 16, |i, x| x * x + i as u64);
//! assert_eq!(serial, parallel);
//! assert_eq!(Executor::default().map(&items, 16, |i, x| x * x + i as u64), serial);
//! ```
//!
//! # Choosing the cutoff
//!
//! `cutoff` is the largest number of items one task processes on its own; a slice of `n`
//! items is split about `n / cutoff` times. Measured by hand on the development host (2-core
//! AMD EPYC, release build, 2 rayon threads, other builds running), mapping a one-instruction
//! closure over 2^20 items: at cutoff 1, [`SerialJoin`] takes 15-22 ns per item and
//! [`RayonJoin`] 61-66 ns, so a split that is not stolen costs about 45 ns more on rayon; from a
//! cutoff of 64 (half a microsecond of work per chunk) on, the two are within noise. A split
//! whose half is stolen costs more (a thread wakes up; not measured separately), so a chunk
//! should carry at least a few microseconds of work. Larger chunks are not free either: with
//! fewer chunks than threads, or uneven item costs, threads sit idle at the end.
//!
//! - One HPKE seal ([`SealContext::seal`](crate::crypto::SealContext::seal): two X25519
//!   operations) measured 70-160 µs, so a chunk of a single seal already hides the split
//!   overhead. Seal batches (UpdatePath and Welcome) run 8 seals per chunk (`SEAL_CUTOFF` in
//!   `crypto::hpke_batch`, which says why).
//! - Work of a few nanoseconds to a microsecond per item (a hash of a short input, one
//!   HKDF-Expand) wants chunks of at least 64 items.
//! - Work in SIMD lanes (seals, signature checks) gains from larger blocks too: canopy-simd
//!   inverts up to eight registers with one exponentiation where a register alone pays one.
//!   `lane_block` grows a block from its small size while every thread still gets several.
//!
//! A cutoff of 0 is treated as 1.
//
// # Internal documentation
//
// One recursion serves shared and exclusive items: it is generic over `Halves`, implemented by
// `&[T]` and `&mut [T]`. It writes each result into its slot of a preallocated
// `Vec<Option<R>>`, split with `split_at_mut` alongside the input, so there is no
// concatenation of partial vectors (which would copy each result O(log n) times) and no
// `unsafe`. Once every slot is filled the `Option`s are unwrapped in one pass; for the usual
// `R` with a niche (`Vec`, tuples of `Vec`) `Option<R>` has `R`'s layout and the final
// `collect` reuses the allocation.
//
// `try_map` records the lowest failing index seen so far in an `AtomicUsize`. Items (and
// whole subtrees) above it are skipped: any error they could report has a higher index, so it
// could never be the one returned. Items at or below it are always run, so the lowest failing
// index overall is always found, and the error returned is deterministic (for an `f` that is
// deterministic per index) whatever the thread timing.

use core::convert::Infallible;
use core::sync::atomic::{AtomicUsize, Ordering};

mod join;

/// How many blocks each worker thread should get at least, so that uneven blocks still finish
/// together: [`lane_block`] grows blocks only while a batch has this many per thread.
const BLOCKS_PER_THREAD: usize = 4;

/// Items per block for lane work ([`Executor::try_map_blocks`]) over a batch of `n`: `min`
/// (a register's worth, sized so small batches spread over the cores), grown in steps of
/// `min` up to `max` while every thread of the pool still gets [`BLOCKS_PER_THREAD`] blocks.
/// A 17-seal UpdatePath keeps blocks of 8, split over both cores; the 49,999 seals of a bulk
/// add get blocks of 64, whose eight registers share one inversion in canopy-simd. Results
/// do not depend on the block (each item's on its index only).
pub(crate) fn lane_block(n: usize, min: usize, max: usize) -> usize {
    let min = min.max(1);
    let fit = n / (worker_threads() * BLOCKS_PER_THREAD);
    (fit / min * min).clamp(min, max.max(min))
}

/// The threads of the pool parallel work runs on (1 without the feature `rayon`).
fn worker_threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads().max(1)
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

pub use join::{join_if, Join, RayonJoin, SerialJoin};

/// Where batched work runs: the value-level counterpart of choosing `J: Join`.
///
/// The default is [`Executor::Parallel`] when the crate feature `rayon` is on (it is by
/// default) and [`Executor::Serial`] otherwise. Both give identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Executor {
    /// On rayon's global pool. Without the feature `rayon` this runs
    /// serially.
    Parallel,
    /// On the calling thread: the reference path, which produces the same bytes.
    Serial,
}

impl Default for Executor {
    fn default() -> Self {
        if cfg!(feature = "rayon") {
            Executor::Parallel
        } else {
            Executor::Serial
        }
    }
}

// The engine's layers drive batches through these; applications only choose the executor.
#[cfg_attr(not(feature = "unstable-internals"), doc(hidden))]
impl Executor {
    /// [`Join::join`] of this executor's join.
    pub fn join<A, B, RA, RB>(self, oper_a: A, oper_b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        match self {
            Executor::Parallel => RayonJoin::join(oper_a, oper_b),
            Executor::Serial => SerialJoin::join(oper_a, oper_b),
        }
    }

    /// Run `main` on the calling thread and `side` beside it, and return both results: for
    /// [`Executor::Parallel`], `side` is handed to rayon's pool while the calling thread runs
    /// `main` (where [`Executor::join`] from a thread outside the pool would hand both to the
    /// pool and wait); for [`Executor::Serial`], `side` and then `main`. For a short task
    /// (`side`) that overlaps the caller's own longer work.
    pub fn beside<M, S, RM, RS>(self, main: M, side: S) -> (RM, RS)
    where
        M: FnOnce() -> RM,
        S: FnOnce() -> RS + Send,
        RS: Send,
    {
        match self {
            #[cfg(feature = "rayon")]
            Executor::Parallel => {
                let mut side_result = None;
                let main_result = rayon::in_place_scope(|scope| {
                    scope.spawn(|_| side_result = Some(side()));
                    main()
                });
                // `in_place_scope` returns only once every job spawned in it has run, so the
                // slot is filled (a panic in `side` propagates out of the scope instead).
                let side_result = side_result.expect("the scope ran the spawned job");
                (main_result, side_result)
            }
            _ => {
                let side_result = side();
                (main(), side_result)
            }
        }
    }

    /// [`map`] with this executor's join.
    pub fn map<T, R, F>(self, items: &[T], cutoff: usize, f: F) -> Vec<R>
    where
        T: Sync,
        R: Send,
        F: Fn(usize, &T) -> R + Sync,
    {
        match self {
            Executor::Parallel => map::<RayonJoin, T, R>(items, cutoff, f),
            Executor::Serial => map::<SerialJoin, T, R>(items, cutoff, f),
        }
    }

    /// [`map_mut`] with this executor's join.
    pub fn map_mut<T, R, F>(self, items: &mut [T], cutoff: usize, f: F) -> Vec<R>
    where
        T: Send,
        R: Send,
        F: Fn(usize, &mut T) -> R + Sync,
    {
        match self {
            Executor::Parallel => map_mut::<RayonJoin, T, R>(items, cutoff, f),
            Executor::Serial => map_mut::<SerialJoin, T, R>(items, cutoff, f),
        }
    }

    /// [`try_map`] with this executor's join.
    pub fn try_map<T, R, E, F>(self, items: &[T], cutoff: usize, f: F) -> Result<Vec<R>, E>
    where
        T: Sync,
        R: Send,
        E: Send,
        F: Fn(usize, &T) -> Result<R, E> + Sync,
    {
        match self {
            Executor::Parallel => try_map::<RayonJoin, T, R, E>(items, cutoff, f),
            Executor::Serial => try_map::<SerialJoin, T, R, E>(items, cutoff, f),
        }
    }

    /// [`try_map`] over fixed blocks: `items` cut into consecutive blocks of exactly `block`
    /// items (the last may be shorter), `f(first_index, block)` run once per block as one
    /// task, and the results concatenated in input order. For work that is cheaper done a
    /// block at a time (X25519 lanes: a block fills a register); [`try_map`]'s halving would
    /// cut chunks anywhere between `cutoff / 2` and `cutoff` items.
    ///
    /// `f` must return one result per item of its block, or the error of the block's lowest
    /// failing item; then the error returned is that of the lowest failing item overall, as
    /// with [`try_map`]. A block of 0 is treated as 1.
    pub fn try_map_blocks<T, R, E, F>(self, items: &[T], block: usize, f: F) -> Result<Vec<R>, E>
    where
        T: Sync,
        R: Send,
        E: Send,
        F: Fn(usize, &[T]) -> Result<Vec<R>, E> + Sync,
    {
        let block = block.max(1);
        let blocks: Vec<&[T]> = items.chunks(block).collect();
        let results = self.try_map(&blocks, 1, |b, items| f(b * block, items))?;
        Ok(results.into_iter().flatten().collect())
    }
}

/// `f(index, item)` for every item, in input order: `items` is split in halves recursively
/// (through `J`) until chunks have at most `cutoff` items, and each chunk runs in order.
/// See the [module docs](self#choosing-the-cutoff) for the cutoff.
pub fn map<J: Join, T: Sync, R: Send>(
    items: &[T],
    cutoff: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    match try_map::<J, T, R, Infallible>(items, cutoff, |i, item| Ok(f(i, item))) {
        Ok(results) => results,
        Err(never) => match never {},
    }
}

/// [`map`] for a fallible `f`: all results in input order, or the error of the lowest index
/// at which `f` fails. Once a failure is known, items above it are skipped (their results
/// could not be returned anyway); every item below it still runs, so the error returned does
/// not depend on thread timing.
pub fn try_map<J: Join, T: Sync, R: Send, E: Send>(
    items: &[T],
    cutoff: usize,
    f: impl Fn(usize, &T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    run::<J, _, R, E>(items, cutoff, &f)
}

/// [`map`] over exclusive items: `f(index, &mut item)` for every item, in input order, each
/// item handed to exactly one call (so the calls may change their items side by side).
pub fn map_mut<J: Join, T: Send, R: Send>(
    items: &mut [T],
    cutoff: usize,
    f: impl Fn(usize, &mut T) -> R + Sync,
) -> Vec<R> {
    match run::<J, _, R, Infallible>(items, cutoff, &|i, item: &mut T| Ok(f(i, item))) {
        Ok(results) => results,
        Err(never) => match never {},
    }
}

/// The recursion behind [`map`], [`try_map`] and [`map_mut`].
fn run<J, S, R, E>(
    items: S,
    cutoff: usize,
    f: &(impl Fn(usize, S::Item) -> Result<R, E> + Sync),
) -> Result<Vec<R>, E>
where
    J: Join,
    S: Halves,
    R: Send,
    E: Send,
{
    let mut out: Vec<Option<R>> = Vec::with_capacity(items.len());
    out.resize_with(items.len(), || None);
    let lowest_failure = AtomicUsize::new(usize::MAX);
    let chunk = Chunk {
        cutoff: cutoff.max(1),
        f,
        lowest_failure: &lowest_failure,
    };
    chunk.run::<J, S, R, E>(0, items, &mut out)?;
    // Invariant: `run` returned `Ok`, so no call of `f` failed, nothing was skipped, and every
    // leaf filled each slot of its part of `out`.
    Ok(out
        .into_iter()
        .map(|slot| slot.expect("every slot is filled when no item failed"))
        .collect())
}

/// A slice the recursion can cut in two: shared items (`&[T]`) or exclusive ones
/// (`&mut [T]`), so that one recursion serves both.
trait Halves: Sized + Send {
    type Item;
    type Iter: Iterator<Item = Self::Item>;
    fn len(&self) -> usize;
    fn split_at(self, mid: usize) -> (Self, Self);
    fn into_items(self) -> Self::Iter;
}

impl<'a, T: Sync> Halves for &'a [T] {
    type Item = &'a T;
    type Iter = core::slice::Iter<'a, T>;
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
    fn into_items(self) -> Self::Iter {
        self.iter()
    }
}

impl<'a, T: Send> Halves for &'a mut [T] {
    type Item = &'a mut T;
    type Iter = core::slice::IterMut<'a, T>;
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
    fn into_items(self) -> Self::Iter {
        self.iter_mut()
    }
}

/// What every level of the recursion shares.
struct Chunk<'a, F> {
    cutoff: usize,
    f: &'a F,
    /// The lowest index at which `f` has failed so far (`usize::MAX`: none).
    lowest_failure: &'a AtomicUsize,
}

impl<F> Chunk<'_, F> {
    /// Fill `out[k]` with `f(offset + k, items[k])`, or return the first error in index order
    /// (`items` and `out` have the same length).
    fn run<J, S, R, E>(&self, offset: usize, items: S, out: &mut [Option<R>]) -> Result<(), E>
    where
        J: Join,
        S: Halves,
        R: Send,
        E: Send,
        F: Fn(usize, S::Item) -> Result<R, E> + Sync,
    {
        // Relaxed is enough: the value is only a hint to skip work. A stale value means more
        // work, never a different answer (see the internal documentation above).
        if offset > self.lowest_failure.load(Ordering::Relaxed) {
            return Ok(());
        }
        if items.len() <= self.cutoff {
            for (k, (item, slot)) in items.into_items().zip(out.iter_mut()).enumerate() {
                let index = offset + k;
                if index > self.lowest_failure.load(Ordering::Relaxed) {
                    break;
                }
                match (self.f)(index, item) {
                    Ok(result) => *slot = Some(result),
                    Err(e) => {
                        self.lowest_failure.fetch_min(index, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            return Ok(());
        }
        let mid = items.len() / 2;
        let (items_a, items_b) = items.split_at(mid);
        let (out_a, out_b) = out.split_at_mut(mid);
        let (a, b) = J::join(
            || self.run::<J, S, R, E>(offset, items_a, out_a),
            || self.run::<J, S, R, E>(offset + mid, items_b, out_b),
        );
        // Every index in `a` is below every index in `b`, so `a`'s error comes first.
        a.and(b)
    }
}

#[cfg(test)]
mod tests;
