//! A member's live engine state ([`Group`]) in a generated group state.

use anyhow::Result;
use canopy_engine::group::{Group, GroupConfig};
use canopy_engine::kem::TreeKemPrivate;

use crate::states::GeneratedState;
use canopy_engine::tree::LeafIndex;

impl GeneratedState {
    /// The [`Group`] of the member at `leaf`: the generated tree and epoch, the member's
    /// private keys, and the key schedule run from the state's joiner secret, so every member
    /// built from one state is in the same epoch and agrees on every secret.
    pub fn member_group(&self, leaf: LeafIndex, config: GroupConfig) -> Result<Group> {
        let keys = self.member_keys(leaf)?;
        let mut private = TreeKemPrivate::new(leaf, keys.leaf_key);
        for (x, sk) in keys.path_keys {
            private.insert_path_key(x, sk);
        }
        Ok(Group::from_parts(
            self.provider,
            self.group_context(),
            self.tree.clone(),
            private,
            keys.signer,
            self.joiner_secret.clone(),
            config,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::{generate, StateConfig, StateKind};
    use canopy_engine::group::{CommitOptions, ProcessOutcome};
    use canopy_engine::key_package::Clock;

    /// Members built from a generated state are real MLS members: they agree on the epoch,
    /// and one's commit (with a path over the generated tree) is processed by the others.
    #[test]
    fn generated_members_commit_and_process() {
        for kind in [
            StateKind::Populated,
            StateKind::Removes50,
            StateKind::Fresh,
            StateKind::Unmerged,
        ] {
            let mut cfg = StateConfig::new(kind, 37, 5);
            cfg.now = 1_800_000_000;
            let state = generate(&cfg).unwrap();
            let config = GroupConfig {
                clock: Clock::Fixed(cfg.now),
                ..GroupConfig::default()
            };
            let leaves: Vec<LeafIndex> = state.members().collect();
            let mut a = state.member_group(leaves[0], config.clone()).unwrap();
            let last = *leaves.last().unwrap();
            let mut b = state.member_group(last, config.clone()).unwrap();
            assert_eq!(
                a.epoch_authenticator().as_bytes(),
                b.epoch_authenticator().as_bytes()
            );
            let out = a.commit(&CommitOptions::new().with_path()).unwrap();
            assert!(matches!(
                b.process(&out.commit).unwrap(),
                ProcessOutcome::Committed { .. }
            ));
            assert_eq!(
                a.epoch_authenticator().as_bytes(),
                b.epoch_authenticator().as_bytes(),
                "{kind:?}"
            );
            // And the other way round, with a remove.
            let out = b
                .commit(&CommitOptions::new().removes(vec![leaves[1]]))
                .unwrap();
            a.process(&out.commit).unwrap();
            assert_eq!(
                a.epoch_authenticator().as_bytes(),
                b.epoch_authenticator().as_bytes(),
                "{kind:?}"
            );
        }
    }
}
