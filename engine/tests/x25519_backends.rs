//! Every X25519 backend this host runs makes and processes the same group, byte for byte and
//! count for count: a commit with a path and Adds (a Welcome of 40 seals, blocks of 8 lanes),
//! the joins from its Welcome (path secrets above the common ancestor, key pairs as a batch),
//! a commit by a joined member whose UpdatePath makes 9 seals, and its processing by every
//! other member (the path's public keys recomputed as a batch). aws-lc is the
//! reference; canopy-simd's portable lane runs everywhere, AVX2 and AVX-512 IFMA where the
//! CPU has them (the others are printed as UNTESTED).
//!
//! One test in this binary: the primitive counters are process-wide.

mod common;

use canopy_engine::batch::Executor;
use canopy_engine::crypto::{counters, Provider, X25519Backend};
use canopy_engine::group::{CommitOptions, CommitOutput, Group};

use common::{config, key_package, provider};

const MEMBERS: u32 = 41;

/// What one run of an operation leaves behind, compared across backends.
#[derive(PartialEq)]
struct Observed {
    bytes: Vec<Vec<u8>>,
    counts: counters::Counts,
}

impl std::fmt::Debug for Observed {
    // Messages run to kilobytes: each is shown by its length and a fingerprint.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let fingerprint = |b: &[u8]| BuildHasherDefault::<DefaultHasher>::default().hash_one(b);
        let heads: Vec<String> = self
            .bytes
            .iter()
            .map(|b| format!("{} bytes #{:016x}", b.len(), fingerprint(b)))
            .collect();
        f.debug_struct("Observed")
            .field("bytes", &heads)
            .field("counts", &self.counts)
            .finish()
    }
}

fn backends() -> Vec<X25519Backend> {
    for b in X25519Backend::ALL {
        if !b.is_available() {
            println!("UNTESTED: the {b} X25519 backend does not run on this host");
        }
    }
    let available = X25519Backend::available();
    assert_eq!(
        available[..2],
        [X25519Backend::AwsLc, X25519Backend::SimdPortable]
    );
    available
}

/// `run` under every backend: the observations, which must all equal aws-lc's.
fn same_everywhere<T>(what: &str, mut run: impl FnMut(X25519Backend) -> (Observed, T)) -> Vec<T> {
    let mut reference: Option<Observed> = None;
    let mut out = Vec::new();
    for backend in backends() {
        let before = counters::snapshot();
        let (mut observed, value) = run(backend);
        observed.counts = counters::snapshot() - before;
        match &reference {
            None => reference = Some(observed),
            Some(r) => assert_eq!(&observed, r, "{what}: {backend} differs from aws-lc"),
        }
        out.push(value);
    }
    out
}

fn with_backend(p: Provider, backend: X25519Backend) -> Provider {
    p.with_x25519_backend(backend).unwrap()
}

fn commit_bytes(out: &CommitOutput) -> Vec<Vec<u8>> {
    let mut bytes = vec![out.commit.clone()];
    bytes.extend(out.welcome.clone());
    bytes
}

#[test]
fn every_backend_makes_and_processes_the_same_commits() {
    let p = with_backend(provider(), X25519Backend::AwsLc);
    let kps: Vec<_> = (1..MEMBERS).map(|i| key_package(&p, i, 7)).collect();
    let (signer, _) = p.signature_key_pair_from_seed(&[7; 32]).unwrap();
    let creator = Group::create(p, b"lanes", b"member-0", signer, config(5)).unwrap();

    // The creator adds everyone with a path; the Welcome carries the tree.
    let options = CommitOptions::new()
        .adds(kps.iter().map(|(kp, _)| kp.clone()).collect::<Vec<_>>())
        .with_path()
        .ratchet_tree_in_welcome();
    let mut creators = same_everywhere("the adding commit", |backend| {
        let mut observed = Vec::new();
        let mut last = None;
        for executor in [Executor::Serial, Executor::Parallel] {
            let mut g = creator.clone();
            g.set_x25519_backend(backend).unwrap();
            g.set_executor(executor);
            let out = g.commit(&options).unwrap();
            assert_eq!(out.counts.hpke_seals, u64::from(MEMBERS - 1));
            observed.extend(commit_bytes(&out));
            observed.push(g.state_digest().unwrap());
            last = Some((g, out));
        }
        let (g, out) = last.unwrap();
        let observed = Observed {
            bytes: observed,
            counts: counters::Counts::default(),
        };
        (observed, (g, out.welcome.unwrap()))
    });
    let (creator, welcome) = creators.remove(0);

    // Every new member joins under every backend and ends in the same state.
    let mut members = vec![creator];
    for (i, (kp, secrets)) in kps.iter().enumerate() {
        let joined = same_everywhere(&format!("member {} joins", i + 1), |backend| {
            let g = Group::join(
                with_backend(provider(), backend),
                &welcome,
                kp,
                secrets,
                config(9),
            )
            .unwrap();
            let observed = Observed {
                bytes: vec![g.state_digest().unwrap()],
                counts: counters::Counts::default(),
            };
            (observed, g)
        });
        members.push(joined.into_iter().next().unwrap());
    }

    // The last member commits with a path.
    let committer = members.last().unwrap().clone();
    let mut commits = same_everywhere("the path commit", |backend| {
        let mut g = committer.clone();
        g.set_x25519_backend(backend).unwrap();
        let out = g.commit(&CommitOptions::new().with_path()).unwrap();
        // Leaves 32..39 under a blank parent, and the creator's path node: a full block of
        // 8 lanes and one more.
        assert_eq!(out.counts.hpke_seals, 9);
        let mut bytes = commit_bytes(&out);
        bytes.push(g.state_digest().unwrap());
        let observed = Observed {
            bytes,
            counts: counters::Counts::default(),
        };
        (observed, out.commit)
    });
    let commit = commits.remove(0);

    // Everyone else processes it under every backend.
    for (i, member) in members[..members.len() - 1].iter().enumerate() {
        same_everywhere(&format!("member {i} processes"), |backend| {
            let mut g = member.clone();
            g.set_x25519_backend(backend).unwrap();
            g.process(&commit).unwrap();
            let observed = Observed {
                bytes: vec![g.state_digest().unwrap()],
                counts: counters::Counts::default(),
            };
            (observed, ())
        });
    }
}
