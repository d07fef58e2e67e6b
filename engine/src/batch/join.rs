//! The [`Join`] trait: run two closures, possibly in parallel, and return both results.
//!
//! Recursive batch code is written once, generic over `J: Join`. [`SerialJoin`] runs it as the
//! plain serial reference, and [`RayonJoin`] runs the same code on rayon's pool (BLAKE3:
//! `src/join.rs`).

/// Run two closures and return both results. Implementations choose whether the closures run
/// in parallel; results never depend on that choice, only the timing does.
pub trait Join {
    /// Run `oper_a` and `oper_b`, possibly in parallel, and return `(oper_a(), oper_b())`.
    /// A panic in either closure propagates to the caller (after both have finished, for a
    /// parallel implementation).
    fn join<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send;
}

/// The serial reference: runs `oper_a`, then `oper_b`, on the calling thread.
#[derive(Debug, Clone, Copy)]
pub enum SerialJoin {}

impl Join for SerialJoin {
    #[inline]
    fn join<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        (oper_a(), oper_b())
    }
}

/// `rayon::join`: `oper_b` is offered to rayon's work-stealing pool while the calling thread
/// runs `oper_a`. Without the crate feature `rayon` this is [`SerialJoin`] under another name,
/// so code written against it still builds and gives the same results.
#[derive(Debug, Clone, Copy)]
pub enum RayonJoin {}

impl Join for RayonJoin {
    #[inline]
    fn join<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        #[cfg(feature = "rayon")]
        {
            rayon::join(oper_a, oper_b)
        }
        #[cfg(not(feature = "rayon"))]
        {
            SerialJoin::join(oper_a, oper_b)
        }
    }
}

/// One step of a recursion over subtrees: [`Join::join`] of `J` when `parallel` (the caller
/// passes "this subtree is above the cutoff"), else [`SerialJoin`]: below the cutoff a split
/// costs more than it saves, and the recursion stays the same code either way.
pub fn join_if<J: Join, A, B, RA, RB>(parallel: bool, oper_a: A, oper_b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if parallel {
        J::join(oper_a, oper_b)
    } else {
        SerialJoin::join(oper_a, oper_b)
    }
}
