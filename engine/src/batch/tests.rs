//! The executor against the plain serial loop: sizes at the structural boundaries of the
//! halving recursion (0, 1, 2, 3, 2^k, 2^k ± 1) times cutoffs below, at and above them, for
//! [`SerialJoin`], [`RayonJoin`] and both [`Executor`]s. Each test counts what it checked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::*;
use crate::crypto::{CipherSuite, Provider, SealContext, SealRequest, X25519Backend};

/// 0, 1, 2, 3 and 2^k - 1, 2^k, 2^k + 1 for k = 2..=10, without repeats.
fn sizes() -> Vec<usize> {
    let mut out = vec![0, 1, 2, 3];
    for k in 2..=10 {
        for n in [(1 << k) - 1, 1 << k, (1 << k) + 1] {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Cutoffs for `n` items: 0 (treated as 1), small ones, and at and around `n` (one chunk).
fn cutoffs(n: usize) -> Vec<usize> {
    let mut out = vec![0, 1, 2, 3, 4, 5, 7, 8, 64];
    for c in [n.saturating_sub(1), n, n + 1] {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Something to compute that depends on both the index and the item.
fn work(index: usize, item: &u64) -> (usize, u64) {
    (
        index,
        item.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index as u64,
    )
}

type MapFn = fn(&[u64], usize) -> Vec<(usize, u64)>;

/// Every way to run `map`, by name.
fn map_fns() -> [(&'static str, MapFn); 4] {
    [
        ("SerialJoin", |items, cutoff| {
            map::<SerialJoin, _, _>(items, cutoff, work)
        }),
        ("RayonJoin", |items, cutoff| {
            map::<RayonJoin, _, _>(items, cutoff, work)
        }),
        ("Executor::Serial", |items, cutoff| {
            Executor::Serial.map(items, cutoff, work)
        }),
        ("Executor::Parallel", |items, cutoff| {
            Executor::Parallel.map(items, cutoff, work)
        }),
    ]
}

#[test]
fn map_matches_serial_loop_all_joins() {
    let mut checks = 0;
    let mut expected_checks = 0;
    for n in sizes() {
        let items: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
        let reference: Vec<_> = items.iter().enumerate().map(|(i, x)| work(i, x)).collect();
        for cutoff in cutoffs(n) {
            for (name, f) in map_fns() {
                assert_eq!(
                    f(&items, cutoff),
                    reference,
                    "{name}, n = {n}, cutoff {cutoff}"
                );
                checks += 1;
            }
            expected_checks += 4;
        }
    }
    assert_eq!(checks, expected_checks);
    assert!(checks > 400, "{checks}");
}

/// `map_mut` gives the serial loop's results and leaves every item changed exactly once, for
/// every join and cutoff.
#[test]
fn map_mut_matches_serial_loop_all_joins() {
    let step = |i: usize, x: &mut u64| {
        let r = work(i, x);
        *x = x.wrapping_add(i as u64 + 1);
        r
    };
    let mut checks = 0;
    let mut expected_checks = 0;
    for n in sizes() {
        let start: Vec<u64> = (0..n as u64).map(|i| i * 5 + 2).collect();
        let mut want_items = start.clone();
        let want: Vec<_> = want_items
            .iter_mut()
            .enumerate()
            .map(|(i, x)| step(i, x))
            .collect();
        for cutoff in cutoffs(n) {
            type MapMutFn = fn(
                &mut [u64],
                usize,
                &(dyn Fn(usize, &mut u64) -> (usize, u64) + Sync),
            ) -> Vec<(usize, u64)>;
            let fns: [(&str, MapMutFn); 4] = [
                ("SerialJoin", |items, c, f| {
                    map_mut::<SerialJoin, _, _>(items, c, f)
                }),
                ("RayonJoin", |items, c, f| {
                    map_mut::<RayonJoin, _, _>(items, c, f)
                }),
                ("Executor::Serial", |items, c, f| {
                    Executor::Serial.map_mut(items, c, f)
                }),
                ("Executor::Parallel", |items, c, f| {
                    Executor::Parallel.map_mut(items, c, f)
                }),
            ];
            for (name, f) in fns {
                let mut items = start.clone();
                assert_eq!(
                    f(&mut items, cutoff, &step),
                    want,
                    "{name}, n = {n}, cutoff {cutoff}"
                );
                assert_eq!(items, want_items, "{name}, n = {n}, cutoff {cutoff}");
                checks += 1;
            }
            expected_checks += 4;
        }
    }
    assert_eq!(checks, expected_checks);
    assert!(checks > 400, "{checks}");
}

#[test]
fn every_index_runs_exactly_once_all_joins() {
    let (mut checks, mut expected_checks) = (0, 0);
    for n in [0, 1, 2, 3, 255, 256, 257] {
        let items = vec![(); n];
        expected_checks += 2 * cutoffs(n).len();
        for cutoff in cutoffs(n) {
            for exec in [Executor::Serial, Executor::Parallel] {
                let calls: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                let out = exec.map(&items, cutoff, |i, ()| {
                    calls[i].fetch_add(1, Ordering::Relaxed)
                });
                assert_eq!(out, vec![0; n], "{exec:?}, n = {n}, cutoff {cutoff}");
                assert!(calls.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                checks += 1;
            }
        }
    }
    assert_eq!(checks, expected_checks);
    assert_eq!(checks, 2 * (4 * 9 + 3 * 12));
}

/// The serial reference visits items in index order, whatever the cutoff.
#[test]
fn serial_join_runs_in_index_order() {
    let mut checks = 0;
    for n in [0, 1, 2, 3, 100, 127, 128, 129] {
        let items = vec![(); n];
        for cutoff in cutoffs(n) {
            let order = Mutex::new(Vec::new());
            map::<SerialJoin, _, _>(&items, cutoff, |i, ()| order.lock().unwrap().push(i));
            assert_eq!(order.into_inner().unwrap(), (0..n).collect::<Vec<_>>());
            checks += 1;
        }
    }
    // Nine fixed cutoffs, plus n - 1, n and n + 1 where they are new.
    assert_eq!(checks, 4 * 9 + 4 * 12);
}

#[test]
fn try_map_ok_matches_map_all_joins() {
    let mut checks = 0;
    for n in sizes() {
        let items: Vec<u64> = (0..n as u64).collect();
        let reference: Vec<_> = items.iter().enumerate().map(|(i, x)| work(i, x)).collect();
        for cutoff in cutoffs(n) {
            let ok = |i, x: &u64| Ok::<_, ()>(work(i, x));
            assert_eq!(
                try_map::<SerialJoin, _, _, _>(&items, cutoff, ok),
                Ok(reference.clone())
            );
            assert_eq!(
                try_map::<RayonJoin, _, _, _>(&items, cutoff, ok),
                Ok(reference.clone())
            );
            assert_eq!(
                Executor::Parallel.try_map(&items, cutoff, ok),
                Ok(reference.clone())
            );
            checks += 3;
        }
    }
    assert!(checks > 300, "{checks}");
}

/// With several failing indices, every join and cutoff reports the lowest, every time, and
/// every index below it ran.
#[test]
fn try_map_reports_lowest_failing_index_all_joins() {
    let mut checks = 0;
    for n in [1, 2, 3, 31, 32, 33, 1000, 1024, 1025] {
        let items = vec![(); n];
        // Failure sets: only the last; first and last; a spread ending at the last.
        let spread: Vec<usize> = (n / 3..n).step_by(7).chain([n - 1]).collect();
        for failing in [vec![n - 1], vec![0, n - 1], spread] {
            let lowest = *failing.iter().min().unwrap();
            for cutoff in cutoffs(n) {
                for exec in [Executor::Serial, Executor::Parallel] {
                    for _repeat in 0..3 {
                        let ran: Vec<AtomicBool> = (0..n).map(|_| AtomicBool::new(false)).collect();
                        let got = exec.try_map(&items, cutoff, |i, ()| {
                            ran[i].store(true, Ordering::Relaxed);
                            if failing.contains(&i) {
                                Err(i)
                            } else {
                                Ok(i)
                            }
                        });
                        assert_eq!(got, Err(lowest), "{exec:?}, n = {n}, cutoff {cutoff}");
                        assert!(ran[..=lowest].iter().all(|r| r.load(Ordering::Relaxed)));
                        checks += 1;
                    }
                }
            }
        }
    }
    assert!(checks > 1000, "{checks}");
}

/// `try_map_blocks` hands out consecutive blocks of exactly `block` items (the last
/// shorter), each once, and returns what a plain loop over the items returns; with failures,
/// the lowest failing index, on both executors.
#[test]
fn try_map_blocks_matches_serial_loop_and_reports_lowest_failure() {
    let mut checks = 0;
    for n in sizes() {
        let items: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
        let expected: Vec<(usize, u64)> = items.iter().enumerate().map(|(i, x)| work(i, x)).collect();
        for block in [0, 1, 2, 3, 4, 7, 8, 9, 64] {
            let size = block.max(1);
            for exec in [Executor::Serial, Executor::Parallel] {
                let calls = AtomicUsize::new(0);
                let got = exec.try_map_blocks(&items, block, |first, chunk| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    assert_eq!(first % size, 0, "blocks start at multiples of the block");
                    assert_eq!(chunk.len(), size.min(n - first), "a full block but the last");
                    Ok::<_, ()>(
                        chunk
                            .iter()
                            .enumerate()
                            .map(|(k, x)| work(first + k, x))
                            .collect(),
                    )
                });
                assert_eq!(got.unwrap(), expected, "{exec:?}, n = {n}, block {block}");
                assert_eq!(calls.into_inner(), n.div_ceil(size));
                checks += 1;
                if n == 0 {
                    continue;
                }
                // Failing items: a third of the way in and the last; a block reports its
                // lowest failing item.
                let failing = [n / 3, n - 1];
                let got = exec.try_map_blocks(&items, block, |first, chunk| {
                    match (first..first + chunk.len()).find(|i| failing.contains(i)) {
                        Some(i) => Err(i),
                        None => Ok(vec![(); chunk.len()]),
                    }
                });
                assert_eq!(got, Err(n / 3), "{exec:?}, n = {n}, block {block}");
                checks += 1;
            }
        }
    }
    assert!(checks > 500, "{checks}");
}

/// The serial reference stops at the first failure: nothing after it runs.
#[test]
fn serial_try_map_stops_at_first_failure() {
    let items = vec![(); 100];
    let calls = AtomicUsize::new(0);
    let got = try_map::<SerialJoin, _, _, _>(&items, 4, |i, ()| {
        calls.fetch_add(1, Ordering::Relaxed);
        if i == 10 {
            Err("ten")
        } else {
            Ok(i)
        }
    });
    assert_eq!(got, Err("ten"));
    assert_eq!(calls.load(Ordering::Relaxed), 11);
}

#[test]
fn default_executor_follows_feature() {
    let want = if cfg!(feature = "rayon") {
        Executor::Parallel
    } else {
        Executor::Serial
    };
    assert_eq!(Executor::default(), want);
    assert_eq!(Executor::Serial.join(|| 1, || 2), (1, 2));
    assert_eq!(Executor::Parallel.join(|| 1, || 2), (1, 2));
}

/// `RayonJoin` really runs the two halves at the same time when the pool has more than one
/// thread: item 0 waits (up to a generous timeout) until item 1 has started, which can only
/// happen if another thread took item 1. With one thread the wait is skipped.
#[cfg(feature = "rayon")]
#[test]
fn rayon_join_runs_on_several_threads() {
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    if rayon::current_num_threads() == 1 {
        println!("skip: rayon pool has one thread (RAYON_NUM_THREADS=1)");
        return;
    }
    let started = AtomicBool::new(false);
    let threads = Mutex::new(HashSet::new());
    let out = map::<RayonJoin, _, _>(&[0, 1], 1, |i, _| {
        threads.lock().unwrap().insert(std::thread::current().id());
        if i == 1 {
            started.store(true, Ordering::SeqCst);
            return true;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !started.load(Ordering::SeqCst) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    });
    assert_eq!(out, [true, true], "item 1 never ran while item 0 waited");
    assert_eq!(threads.into_inner().unwrap().len(), 2);
}

/// The parallel seal path (SealContext on the Parallel executor, per-recipient ikm derived
/// from the index; one seal per item, and `seal_batch` per block on every X25519 backend)
/// against the serial reference (hpke-rs through the provider, SerialJoin).
fn parallel_seal_matches_reference(suite: CipherSuite) {
    let p = Provider::new(suite);
    let group_info = vec![0x5a; 40_000];
    let ctx = SealContext::new(&p, b"Welcome", &group_info).unwrap();
    let ikm = |i: usize| p.hash(&(i as u64).to_be_bytes());
    let backends = X25519Backend::available();
    let mut checks = 0;
    for n in [0, 1, 2, 3, 15, 16, 17] {
        let recipients: Vec<Vec<u8>> = (0..n)
            .map(|i| p.derive_hpke_key_pair(&[i as u8; 32]).unwrap().1)
            .collect();
        let reference = try_map::<SerialJoin, _, _, _>(&recipients, 1, |i, pk| {
            p.encrypt_with_label_with_ikm(pk, b"Welcome", &group_info, b"secrets", &ikm(i))
        })
        .unwrap();
        for cutoff in [1, 2, 5] {
            let fast = Executor::Parallel
                .try_map(&recipients, cutoff, |i, pk| {
                    ctx.seal(pk, b"secrets", Some(&ikm(i)))
                })
                .unwrap();
            assert_eq!(fast, reference, "n = {n}, cutoff {cutoff}");
            checks += 1;
        }
        for &backend in &backends {
            let p = p.with_x25519_backend(backend).unwrap();
            let ctx = SealContext::new(&p, b"Welcome", &group_info).unwrap();
            for block in [1, 3, 8] {
                let batched = Executor::Parallel
                    .try_map_blocks(&recipients, block, |first, pks| {
                        let ikms: Vec<Vec<u8>> = (first..first + pks.len()).map(ikm).collect();
                        let requests: Vec<SealRequest<'_>> = pks
                            .iter()
                            .zip(&ikms)
                            .map(|(pk, ikm)| SealRequest {
                                pk_r: pk,
                                plaintext: b"secrets",
                                ikm_e: Some(ikm),
                            })
                            .collect();
                        ctx.seal_batch(&requests).into_iter().collect()
                    })
                    .unwrap();
                assert_eq!(batched, reference, "{backend}, n = {n}, block {block}");
                checks += 1;
            }
        }
    }
    assert_eq!(checks, 7 * (3 + 3 * backends.len()));
}

#[test]
fn parallel_seal_matches_reference_awslc_suite1() {
    parallel_seal_matches_reference(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
}

#[test]
fn parallel_seal_matches_reference_awslc_suite3() {
    parallel_seal_matches_reference(CipherSuite::Mls128X25519ChaCha20Poly1305Sha256Ed25519);
}

/// `beside` returns both results on both executors, runs `main` on the calling thread (it
/// need not be `Send`: it holds an `Rc` here), and a panic in `side` reaches the caller.
#[test]
fn beside_returns_both_results_and_runs_main_on_the_caller() {
    let mut checked = 0;
    for executor in [Executor::Serial, Executor::Parallel] {
        let caller = std::thread::current().id();
        let local = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let items: Vec<u64> = (0..10_000).collect();
        let (main, side) = executor.beside(
            || {
                local.set(local.get() + 1);
                (std::thread::current().id(), local.get())
            },
            || items.iter().sum::<u64>(),
        );
        assert_eq!(main, (caller, 1), "{executor:?}");
        assert_eq!(side, 49_995_000, "{executor:?}");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            executor.beside(|| 1, || -> u64 { panic!("side") })
        }));
        assert!(panicked.is_err(), "{executor:?}");
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// `lane_block` stays a multiple of its minimum within [min, max], grows only while every
/// thread still gets `BLOCKS_PER_THREAD` blocks, and reaches its maximum on large batches.
#[test]
fn lane_blocks_grow_with_the_batch_in_steps_of_the_minimum() {
    let threads = super::worker_threads();
    let mut checked = 0;
    for n in [0, 1, 17, 100, 1_000, 8_000, 49_999, 1 << 20] {
        let b = super::lane_block(n, 8, 64);
        assert_eq!(b % 8, 0, "{n}");
        assert!((8..=64).contains(&b), "{n}: {b}");
        assert!(b == 8 || n / b >= threads * super::BLOCKS_PER_THREAD, "{n}: {b}");
        // One step larger would leave a thread short.
        assert!(b == 64 || n / (b + 8) < threads * super::BLOCKS_PER_THREAD, "{n}: {b}");
        checked += 1;
    }
    assert_eq!(checked, 8);
    assert_eq!(super::lane_block(17, 8, 64), 8);
    assert_eq!(super::lane_block(1 << 20, 8, 64), 64);
    assert_eq!(super::lane_block(10, 0, 0), 1);
    assert_eq!(super::lane_block(1 << 20, 16, 8), 16);
}
