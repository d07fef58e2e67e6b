//! The samples of one catalogue operation by Canopy and each peer, interleaved, and the peers'
//! joins during setup. Canopy's samples record its exact work for the crypto floor; a peer's
//! sample runs on its own thread under the time limit.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use canopy_engine::crypto::{counters, X25519Backend};

use super::floor::{LaneCosts, PrimitiveCosts};
use super::report::{Row, Sample};
use super::CompareConfig;
use crate::catalogue::canopy::Prepared;
use crate::catalogue::peer::PeerPrepared;
use crate::catalogue::{Operation, Start};
use crate::peers::PeerKind;

/// Run `f` on a thread, waiting at most `limit`. A timed-out thread is left to finish on its
/// own (its result is dropped); the caller stops giving that peer work.
pub fn with_limit<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<Option<T>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r.map(Some),
        Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        Err(mpsc::RecvTimeoutError::Disconnected) => bail!("peer thread panicked"),
    }
}

/// A `kind` peer joins `start` (its join under `limit`); the error says why it did not.
pub fn join_peer(start: &mut Start, kind: PeerKind, limit: Duration) -> Result<(), String> {
    let failed = |e: anyhow::Error| format!("join during setup failed: {e:#}");
    let invitation = start.invite_peer(kind).map_err(failed)?;
    let (mut member, welcome) = (invitation.member, invitation.welcome);
    let joined = with_limit(limit, move || {
        member.join(&welcome, None)?;
        Ok(member)
    })
    .map_err(failed)?
    .ok_or_else(|| "join during setup exceeded the time limit".to_string())?;
    start.seat_peer(kind, joined).map_err(failed)
}

/// The rows of `op`: Canopy's, one per X25519 backend ([`CompareConfig::backends`]), then
/// each peer's that can run it and is in the group (`build` needs no group).
pub fn rows(
    start: &Start,
    op: Operation,
    cfg: &CompareConfig,
    costs: &PrimitiveCosts,
    lanes: &[LaneCosts],
    threads: usize,
) -> Result<Vec<Row>> {
    let mut canopy = Vec::new();
    for backend in cfg.backends()? {
        let prepared = Prepared::new(op, start)?.with_x25519_backend(backend)?;
        canopy.push((backend, prepared, Vec::new()));
    }
    // The costs of each backend's own floor, where lane costs were measured for it.
    let lane_costs = |backend: X25519Backend| {
        lanes
            .iter()
            .find(|l| l.crypto == backend.name())
            .map(|l| costs.with_lanes(l))
    };
    let Some((_, first, _)) = canopy.first() else {
        bail!("no X25519 backend to run Canopy on");
    };
    let mut peers: Vec<(PeerPrepared, Vec<Sample>, Option<String>)> = Vec::new();
    if op.peers_run() {
        for &kind in &cfg.peers {
            if op == Operation::Build || start.peers.iter().any(|(k, _)| *k == kind) {
                peers.push((PeerPrepared::new(kind, first)?, Vec::new(), None));
            }
        }
    }
    for _ in 0..cfg.samples {
        for (backend, prepared, samples) in canopy.iter_mut() {
            let own = lane_costs(*backend);
            samples.push(canopy_sample(prepared, costs, own.as_ref(), threads)?);
        }
        for (peer, samples, status) in peers.iter_mut() {
            if status.is_some() {
                continue;
            }
            match peer_sample(start, peer, cfg.peer_time_limit) {
                Ok(Some(s)) => samples.push(s),
                Ok(None) => {
                    *status = Some(format!(
                        "did not finish within {} s",
                        cfg.peer_time_limit.as_secs()
                    ))
                }
                Err(e) => *status = Some(format!("failed: {e:#}")),
            }
        }
    }
    let suite = start.suite();
    // The rows name the backends where they change anything (X25519 or Ed25519 in the suite).
    let named = super::backends_differ_in(suite);
    let mut rows: Vec<Row> = canopy
        .iter()
        .map(|(backend, _, samples)| {
            let row = Row::from_samples(op, suite.id(), "canopy", samples, None);
            if named {
                row.with_crypto(*backend)
            } else {
                row
            }
        })
        .collect();
    for (peer, samples, status) in peers {
        rows.push(Row::from_samples(
            op,
            suite.id(),
            peer.kind().name(),
            &samples,
            status,
        ));
    }
    Ok(rows)
}

/// One Canopy run: time and exact work of the operation alone, then its sizes; its floor,
/// and with `lanes` (its backend's costs) its backend's floor.
fn canopy_sample(
    prepared: &Prepared,
    costs: &PrimitiveCosts,
    lanes: Option<&PrimitiveCosts>,
    threads: usize,
) -> Result<Sample> {
    let mut input = prepared.input();
    let c0 = counters::snapshot();
    let t = Instant::now();
    let ran = input.run();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let work = counters::snapshot() - c0;
    let ran = ran?;
    let sizes = prepared.sizes(&input, &ran)?;
    Ok(Sample {
        ms,
        bytes: sizes.message_bytes,
        seals: prepared.seals(&ran)?,
        floor_ms: Some(costs.floor_ms(&work, threads)),
        lanes_floor_ms: lanes.map(|l| l.floor_ms(&work, threads)),
    })
}

/// One peer run on its own thread: `None` if it exceeded `limit`.
fn peer_sample(start: &Start, peer: &PeerPrepared, limit: Duration) -> Result<Option<Sample>> {
    let sample = || {
        let mut input = peer.input(start)?;
        with_limit(limit, move || {
            let t = Instant::now();
            let ran = input.run();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let ran = ran?;
            let sizes = input.sizes(ran.as_ref())?;
            Ok(Sample {
                ms,
                bytes: sizes.message_bytes,
                seals: input.seals(ran.as_ref())?,
                floor_ms: None,
                lanes_floor_ms: None,
            })
        })
    };
    sample().with_context(|| format!("{} {}", peer.kind(), peer.operation()))
}
