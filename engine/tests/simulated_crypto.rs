//! Simulated crypto (feature `simulated-crypto`) counts exactly what real crypto counts, with
//! messages of the real lengths, and a group driven by simulated commits stays a real group:
//! real members commit to it, process and join it afterwards; a delivery service's observer
//! follows simulated commits with the real counts and the real tree. One test per binary: the
//! counters are process-wide.
#![cfg(feature = "simulated-crypto")]

mod common;

use canopy_engine::crypto::counters::{self, Counts};
use canopy_engine::crypto::SealContext;
use canopy_engine::group::{
    CommitOptions, CommitOutput, Group, JoinOptions, ProcessOutcome, PublicGroup,
};
use canopy_engine::tree::LeafIndex;
use common::{agree, config, key_package, provider};

/// The counts of `f`.
fn counted<T>(f: impl FnOnce() -> T) -> (T, Counts) {
    let before = counters::snapshot();
    let v = f();
    (v, counters::snapshot() - before)
}

/// One world of the comparison: the members and an observer, real or simulated.
struct World {
    members: Vec<Option<Group>>,
    observer: PublicGroup,
}

impl World {
    /// Member `committer` commits `options`; every other present member and the observer
    /// process it. Returns the output, the committer's counts, each processing member's
    /// counts (by member index) and the observer's.
    fn step(
        &mut self,
        committer: usize,
        options: &CommitOptions,
    ) -> (CommitOutput, Counts, Vec<(usize, Counts)>, Counts) {
        let (out, create) = counted(|| {
            self.members[committer]
                .as_mut()
                .unwrap()
                .commit(options)
                .unwrap()
        });
        let mut processed = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if i == committer {
                continue;
            }
            let Some(g) = m else { continue };
            let (outcome, d) = counted(|| g.process(&out.commit).unwrap());
            processed.push((i, d));
            if matches!(outcome, ProcessOutcome::Removed) {
                *m = None;
            }
        }
        let (_, observed) = counted(|| self.observer.process(&out.commit).unwrap());
        let present: Vec<&Group> = self.members.iter().flatten().collect();
        agree(&present);
        assert_eq!(
            self.observer.tree_hash(),
            present[0].public_group().tree_hash()
        );
        (out, create, processed, observed)
    }
}

#[test]
fn simulated_crypto_counts_like_real_crypto_and_the_group_stays_real() {
    let p = provider();
    let (members, _) = common::group(p, b"simulated", 10, 1, None);
    let observer = members[0].public_group().clone();
    let mut real = World {
        members: members.iter().cloned().map(Some).collect(),
        observer: observer.clone(),
    };
    let mut sim_observer = observer;
    sim_observer.set_simulated_crypto(true);
    let mut sim = World {
        members: members
            .iter()
            .cloned()
            .map(|mut g| {
                g.set_simulated_crypto(true);
                Some(g)
            })
            .collect(),
        observer: sim_observer,
    };
    let adds: Vec<_> = (20..22).map(|i| key_package(&p, i, 2)).collect();
    let steps: Vec<(usize, CommitOptions)> = vec![
        (3, CommitOptions::new().with_path()),
        // Blanks: later paths seal to resolutions of more than one node.
        (
            0,
            CommitOptions::new().removes([LeafIndex(5), LeafIndex(7)]),
        ),
        (2, CommitOptions::new().with_path()),
        // A Welcome with the tree, and one without.
        (
            4,
            CommitOptions::new()
                .add_member(adds[0].0.clone())
                .with_path()
                .ratchet_tree_in_welcome(),
        ),
        (6, CommitOptions::new().add_member(adds[1].0.clone())),
        (1, CommitOptions::new().with_path()),
    ];
    let mut compared = 0;
    for (k, (committer, options)) in steps.iter().enumerate() {
        let (r_out, r_create, r_processed, r_observed) = real.step(*committer, options);
        let (s_out, s_create, s_processed, s_observed) = sim.step(*committer, options);
        assert_eq!(s_create, r_create, "step {k}: the committer's counts");
        assert_eq!(s_out.counts, r_out.counts, "step {k}");
        assert_eq!(
            s_out.commit.len(),
            r_out.commit.len(),
            "step {k}: commit bytes"
        );
        assert_eq!(
            s_out.welcome.as_ref().map(Vec::len),
            r_out.welcome.as_ref().map(Vec::len),
            "step {k}: Welcome bytes"
        );
        assert_eq!(s_processed, r_processed, "step {k}: the receivers' counts");
        assert_eq!(s_observed, r_observed, "step {k}: the observer's counts");
        assert_eq!(
            sim.observer.tree_hash(),
            real.observer.tree_hash(),
            "step {k}"
        );
        // Simulated messages are not real ones.
        assert_ne!(s_out.commit, r_out.commit, "step {k}");
        compared += 2 + r_processed.len();
    }
    // Nine processors until two are removed (who process their removal), then seven.
    assert_eq!(compared, 2 * steps.len() + 9 + 9 + 4 * 7);

    // Back to real crypto on the simulated world's tree: a real Add with a Welcome that a
    // real joiner joins (validating every leaf and parent hash the simulated commits left),
    // then a real update that every member, the joiner too, processes.
    for g in sim.members.iter_mut().flatten() {
        g.set_simulated_crypto(false);
    }
    sim.observer.set_simulated_crypto(false);
    let (kp, secrets) = key_package(&p, 30, 3);
    let (out, _, _, _) = sim.step(
        6,
        &CommitOptions::new()
            .add_member(kp.clone())
            .with_path()
            .ratchet_tree_in_welcome(),
    );
    let joiner = Group::join(
        p,
        out.welcome.as_ref().unwrap(),
        &kp,
        &secrets,
        JoinOptions::from(config(40)),
    )
    .unwrap();
    assert_eq!(
        joiner.epoch_authenticator().as_bytes(),
        sim.members[6]
            .as_ref()
            .unwrap()
            .epoch_authenticator()
            .as_bytes()
    );
    sim.members.push(Some(joiner));
    sim.step(8, &CommitOptions::new().with_path());

    // One seal and its open: the batched seal and hpke-rs's open, simulated against real.
    let (sk, pk) = p.derive_hpke_key_pair(&[5; 32]).unwrap();
    let sp = p.with_simulated_crypto(true);
    let mut counts = Vec::new();
    for q in [p, sp] {
        let seal = SealContext::new(&q, b"label", b"context").unwrap();
        let ((kem_output, ct), seal_counts) =
            counted(|| seal.seal(&pk, b"plaintext", Some(&[6; 32])).unwrap());
        let (pt, open_counts) = counted(|| {
            q.decrypt_with_label(&sk, b"label", b"context", &kem_output, &ct)
                .unwrap()
        });
        assert_eq!(pt, b"plaintext");
        counts.push((seal_counts, open_counts, kem_output.len(), ct.len()));
    }
    assert_eq!(counts[0], counts[1]);
    // A simulated Welcome context counts its pass over the context without making it.
    let context = vec![7u8; 100_000];
    let (_, real_counts) = counted(|| SealContext::new(&p, b"Welcome", &context).unwrap());
    let (_, sim_counts) = counted(|| SealContext::counted(&sp, b"Welcome", context.len()).unwrap());
    assert_eq!(sim_counts, real_counts);
}
