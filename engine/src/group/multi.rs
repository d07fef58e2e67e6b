//! Commits of many independent groups as one job pool: [`commit_many`].
//!
//! A server hosting many groups often has one commit to make in each (a key rotation, a
//! policy-driven update). Committing them one after another leaves cores idle whenever a
//! single commit has too little parallel work (a small group, or a populated tree whose
//! UpdatePath encrypts to a few dozen nodes). Here the groups are one batch
//! ([`Executor::map_mut`]: split in halves recursively, the halves handed to
//! [`Join::join`](crate::batch::Join::join)), so the commits themselves run side by side, and
//! each commit's own batches (seals, key derivations) still go to the same rayon pool.
//!
//! Each commit depends only on its own group (its randomness comes from the group's own
//! source), so the outputs equal those of committing the groups one by one, in any order:
//! with seeded randomness, [`commit_many_with`] on [`Executor::Serial`] (the reference) and
//! on [`Executor::Parallel`] give byte-identical results (tested below).

use super::{CommitOptions, CommitOutput, Group};
use crate::batch::Executor;
use crate::error::Result;

/// Commit `options` in every group, in parallel on rayon's pool; result `i` is that of
/// `groups[i]` (on error that group is unchanged, the others are not affected).
pub fn commit_many(groups: &mut [Group], options: &CommitOptions) -> Vec<Result<CommitOutput>> {
    commit_many_with(groups, options, Executor::default())
}

/// [`commit_many`] on `executor`: [`Executor::Serial`] commits the groups one by one, in
/// order, on the calling thread.
pub fn commit_many_with(
    groups: &mut [Group],
    options: &CommitOptions,
    executor: Executor,
) -> Vec<Result<CommitOutput>> {
    // One group per task: a commit is hundreds of microseconds at the least.
    executor.map_mut(groups, 1, |_, g| g.commit(options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CipherSuite, Provider, Secret};
    use crate::group::{GroupConfig, Randomness};
    use crate::key_package::{default_lifetime, key_package_from_seed, Clock};

    const NOW: u64 = 1_800_000_000;

    /// `n` groups of different sizes (1 to 9 members), each with its own seed.
    fn groups(n: u32) -> Vec<Group> {
        let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
        (0..n)
            .map(|g| {
                let mut seed = vec![0x4d; 32];
                seed[..4].copy_from_slice(&g.to_be_bytes());
                let config = GroupConfig {
                    clock: Clock::Fixed(NOW),
                    executor: Executor::Serial,
                    randomness: Randomness::Seeded(Secret::new(seed)),
                    ..GroupConfig::default()
                };
                let (signer, _) = p.signature_key_pair_from_seed(&[g as u8; 32]).unwrap();
                let mut group =
                    Group::create(p, &g.to_be_bytes(), b"creator", signer, config).unwrap();
                let adds: Vec<_> = (0..g % 9)
                    .map(|i| {
                        let mut s = [0x21; 32];
                        s[..4].copy_from_slice(&(g * 100 + i).to_be_bytes());
                        key_package_from_seed(&p, b"m", &s, default_lifetime(NOW))
                            .unwrap()
                            .0
                    })
                    .collect();
                group
                    .commit(&CommitOptions::new().adds(adds))
                    .unwrap();
                group
            })
            .collect()
    }

    fn bytes(r: &Result<CommitOutput>) -> (Vec<u8>, Option<Vec<u8>>) {
        let o = r.as_ref().unwrap();
        (o.commit.clone(), o.welcome.clone())
    }

    #[test]
    fn serial_and_parallel_are_byte_identical_and_equal_one_by_one() {
        let options = CommitOptions::new().with_path();
        for n in [0, 1, 2, 5, 8] {
            let mut a = groups(n);
            let mut b = groups(n);
            let mut c = groups(n);
            let serial = commit_many_with(&mut a, &options, Executor::Serial);
            let parallel = commit_many_with(&mut b, &options, Executor::Parallel);
            let one_by_one: Vec<_> = c.iter_mut().rev().map(|g| g.commit(&options)).collect();
            assert_eq!(serial.len(), n as usize);
            for i in 0..n as usize {
                assert_eq!(bytes(&serial[i]), bytes(&parallel[i]));
                assert_eq!(bytes(&serial[i]), bytes(&one_by_one[n as usize - 1 - i]));
                assert_eq!(
                    a[i].epoch_authenticator().as_bytes(),
                    b[i].epoch_authenticator().as_bytes()
                );
            }
        }
    }

    #[test]
    fn a_failing_group_does_not_affect_the_others() {
        let mut gs = groups(3);
        // Removing leaf 5 fails in a group with fewer leaves.
        let options = CommitOptions::new().removes(vec![crate::tree::LeafIndex(5)]);
        let before: Vec<u64> = gs.iter().map(|g| g.epoch()).collect();
        let results = commit_many_with(&mut gs, &options, Executor::Parallel);
        for (i, r) in results.iter().enumerate() {
            assert!(r.is_err(), "group {i}");
            assert_eq!(gs[i].epoch(), before[i]);
        }
    }
}
