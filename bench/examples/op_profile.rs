//! Where the time of one catalogue operation goes at N members, for a profiler: prepares
//! `COPIES` fresh inputs (a copy of the member's state each), prints `ready <pid>`, waits
//! `PAUSE` seconds (default 0) for a profiler to attach, then runs the operation on each copy
//! and prints the median time. Attaching after the setup keeps the setup out of the profile:
//!
//! ```sh
//! cargo build --release -p canopy-bench --example op_profile
//! target/release/examples/op_profile process 50000 150 3 > /tmp/op.txt &
//! until grep -q ready /tmp/op.txt; do sleep 1; done
//! perf record -p "$(awk '/ready/ {print $2}' /tmp/op.txt)" --call-graph dwarf -F 20000 \
//!     -o /tmp/op.data -- sleep 5
//! perf report -i /tmp/op.data --no-children
//! ```
//!
//! Every copy is made before the runs and kept until the end: at 50,000 members a copy and its
//! input hold about 45 MB, so 150 copies take about 7 GB.
//!
//! `GAP_MS=5` pauses before each run, so that it starts with rayon's workers asleep and the
//! caches cold, as `canopy compare`'s samples do; without it the runs follow each other, warm.
//! `GAP_MODE` says how the pause is spent: `sleep` (the default), `spin` (the caller stays
//! busy, so only the pool's workers fall asleep) or `flush` (the caller sweeps 64 MiB, so the
//! caches are cold but no core idles). Comparing the three tells the workers' wake-up from
//! the caches' refill.
//! `FLOOR=1` also prints compare's crypto floor of one run (measured costs, this pool's
//! threads) and the median's ratio to it.
//!
//! Operations are the catalogue's (`process`, `commit`, `remove1`, …; docs/operations.md).

use std::io::Write;
use std::time::Instant;

use anyhow::{anyhow, Result};
use canopy_bench::catalogue::canopy::Prepared;
use canopy_bench::catalogue::{Operation, Start};
use canopy_bench::compare::floor::PrimitiveCosts;
use canopy_engine::crypto::{counters, CipherSuite};
use canopy_engine::group::{GroupConfig, Randomness};
use canopy_engine::key_package::Clock;
use canopy_workloads::states::StateKind;
use mimalloc::MiMalloc;

// The allocator of the `canopy` binary, so that the profile shows what it runs.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const NOW: u64 = 1_800_000_000;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let op_name = args.next().unwrap_or_else(|| "process".into());
    let op = Operation::ALL
        .iter()
        .copied()
        .find(|o| o.name() == op_name)
        .ok_or_else(|| anyhow!("{op_name}: not a catalogue operation"))?;
    let members: u32 = args.next().map_or(Ok(50_000), |s| s.parse())?;
    let copies: usize = args.next().map_or(Ok(100), |s| s.parse())?;
    let pause: u64 = args.next().map_or(Ok(0), |s| s.parse())?;
    let config = GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let mut start = Start::new(StateKind::Populated, members, 1, NOW, config)?;
    if op.needs_joiner() {
        start.add_joiner()?;
    }
    let prepared = (0..copies)
        .map(|_| Prepared::new(op, &start))
        .collect::<Result<Vec<_>>>()?;
    // Every input is made, and every result kept, outside the profiled window: a copy of
    // a 50,000-member state costs more to make and to drop than most operations.
    let mut inputs = prepared.iter().map(Prepared::input).collect::<Vec<_>>();
    let mut outputs = Vec::with_capacity(copies);
    let mut times = Vec::with_capacity(copies);
    println!("ready {}", std::process::id());
    std::io::stdout().flush()?;
    std::thread::sleep(std::time::Duration::from_secs(pause));
    // GAP_MS: a pause before each run, so that it starts as a rarely-called operation does,
    // with rayon's workers asleep and the caches cold (compare's samples start that way).
    let gap: u64 = std::env::var("GAP_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let gap_mode = std::env::var("GAP_MODE").ok();
    let mut work = None;
    for input in &mut inputs {
        if gap > 0 {
            spend_gap(gap, gap_mode.as_deref());
        }
        let c0 = counters::snapshot();
        let t = Instant::now();
        let out = std::hint::black_box(input.run()?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        work.get_or_insert(counters::snapshot() - c0);
        outputs.push(out);
    }
    // The same pause again, so that a profiler stops before the inputs and outputs drop.
    std::thread::sleep(std::time::Duration::from_secs(pause));
    times.sort_by(f64::total_cmp);
    let median = times[copies / 2];
    println!(
        "{op_name} at {members} members: median {median:.3} ms over {copies} runs (gap {gap} ms)"
    );
    if std::env::var_os("FLOOR").is_some() {
        // compare's floor: the run's exact counts times costs measured now, over the pool.
        let costs = PrimitiveCosts::measure(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519)?;
        let work = work.ok_or_else(|| anyhow!("no run"))?;
        let floor = costs.floor_ms(&work, rayon::current_num_threads());
        println!("floor {floor:.3} ms, median / floor {:.2}x", median / floor);
    }
    Ok(())
}

/// A pause of `ms` before a run, spent as `mode` says (module docs).
fn spend_gap(ms: u64, mode: Option<&str>) {
    let until = Instant::now() + std::time::Duration::from_millis(ms);
    match mode {
        Some("spin") => {
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        Some("flush") => {
            let mut sweep = vec![0u8; 64 << 20];
            let mut round = 0u8;
            while Instant::now() < until {
                for line in sweep.iter_mut().step_by(64) {
                    *line = line.wrapping_add(round);
                }
                round = round.wrapping_add(1);
            }
            std::hint::black_box(&sweep);
        }
        _ => std::thread::sleep(until.saturating_duration_since(Instant::now())),
    }
}
