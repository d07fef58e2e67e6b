//! Where the time of one catalogue operation goes at N members, for a profiler: prepares
//! `COPIES` fresh inputs (a copy of the member's state each), then runs the operation on each,
//! and prints the median time. With `PERF_CTL` naming perf's control FIFO, sampling is
//! enabled only around the runs, so the profile shows the operation and not the setup:
//!
//! ```sh
//! cargo build --release -p canopy-bench --example op_profile
//! mkfifo /tmp/ctl /tmp/ack
//! PERF_CTL=/tmp/ctl PERF_ACK=/tmp/ack perf record -D -1 --control=fifo:/tmp/ctl,/tmp/ack \
//!     -g -o /tmp/process.data target/release/examples/op_profile process 50000 300
//! perf report -i /tmp/process.data --no-children
//! ```
//!
//! Operations are the catalogue's (`process`, `commit`, `remove1`, …; docs/operations.md).

use std::io::{Read, Write};
use std::time::Instant;

use anyhow::{anyhow, Result};
use canopy_bench::catalogue::canopy::Prepared;
use canopy_bench::catalogue::{Operation, Start};
use canopy_engine::group::{GroupConfig, Randomness};
use canopy_engine::key_package::Clock;
use canopy_workloads::states::StateKind;

const NOW: u64 = 1_800_000_000;

/// Tell perf to start or stop sampling, if it listens.
fn perf(command: &str) -> Result<()> {
    let (Ok(ctl), Ok(ack)) = (std::env::var("PERF_CTL"), std::env::var("PERF_ACK")) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .write(true)
        .open(ctl)?
        .write_all(format!("{command}\n").as_bytes())?;
    let mut reply = [0u8; 5];
    std::fs::File::open(ack)?.read_exact(&mut reply)?;
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let op_name = args.next().unwrap_or_else(|| "process".into());
    let op = Operation::ALL
        .iter()
        .copied()
        .find(|o| o.name() == op_name)
        .ok_or_else(|| anyhow!("{op_name}: not a catalogue operation"))?;
    let members: u32 = args.next().map_or(Ok(50_000), |s| s.parse())?;
    let copies: usize = args.next().map_or(Ok(200), |s| s.parse())?;
    let config = GroupConfig {
        clock: Clock::Fixed(NOW),
        randomness: Randomness::System,
        ..GroupConfig::default()
    };
    let mut start = Start::new(StateKind::Populated, members, 1, NOW, config)?;
    if op.needs_joiner() {
        start.add_joiner()?;
    }
    let mut prepared = (0..copies)
        .map(|_| Prepared::new(op, &start))
        .collect::<Result<Vec<_>>>()?;
    let mut times = Vec::with_capacity(copies);
    perf("enable")?;
    for p in &mut prepared {
        let mut input = p.input();
        let t = Instant::now();
        std::hint::black_box(input.run()?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    perf("disable")?;
    times.sort_by(f64::total_cmp);
    println!(
        "{op_name} at {members} members: median {:.3} ms over {copies} runs",
        times[copies / 2]
    );
    Ok(())
}
