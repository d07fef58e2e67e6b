//! Groups that resume another (RFC 9420 §11.2, §11.3, §8.6): the successor of a group closed
//! by a ReInit, and a subgroup branched from a group. Either is a new group whose first commit
//! injects a resumption PSK of the old group (usage `reinit` or `branch`), so that only
//! members of the old group can join it; a joiner resolves that PSK from its state in the old
//! group and checks the new group against the old one.

use super::{Group, GroupConfig};
use crate::codec::{Credential, KeyPackage, PreSharedKeyId, PskSource, ResumptionPskUsage};
use crate::crypto::{CipherSuite, Provider, SignaturePrivateKey};
use crate::error::{ApiMisuse, PeerMisbehaved, Unsupported};
use crate::error::{Error, Result};

use super::commit::{CommitOptions, CommitOutput};

impl Group {
    /// Start the group that the ReInit committed in this group describes (RFC 9420 §11.2):
    /// its group id, version, cipher suite and extensions, this member as creator (same
    /// identity, signing with `signer`), and a first commit that adds `key_packages` (the
    /// other members' KeyPackages for the new suite) and injects this group's
    /// `resumption_psk` of the current epoch with usage `reinit`. Returns the new group in
    /// epoch 1 and the commit with its Welcome (tree included) for the joiners, who join with
    /// [`Group::join`] with [`JoinOptions::resuming`](super::JoinOptions::resuming).
    pub fn reinit_successor(
        &self,
        signer: SignaturePrivateKey,
        key_packages: Vec<KeyPackage>,
        config: GroupConfig,
    ) -> Result<(Group, CommitOutput)> {
        let reinit = self
            .public.reinit
            .clone()
            .ok_or(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                "no ReInit has been committed in this group",
            )))?;
        let suite = CipherSuite::try_from(reinit.cipher_suite.0)?;
        if reinit.version != crate::codec::ProtocolVersion::MLS10 {
            return Err(Unsupported::ProtocolVersion(reinit.version.0).into());
        }
        self.resume(
            Provider::new(suite),
            reinit.group_id.as_slice(),
            ResumptionPskUsage::Reinit,
            (!reinit.extensions.is_empty()).then(|| reinit.extensions.clone()),
            signer,
            key_packages,
            config,
        )
    }

    /// Branch a subgroup from this group (RFC 9420 §11.3): a new group `group_id` with the same
    /// version, cipher suite and extensions, this member as creator, and a first commit that
    /// adds `key_packages` (fresh KeyPackages of the members to take along) and injects this
    /// epoch's `resumption_psk` with usage `branch`.
    pub fn branch(
        &self,
        group_id: &[u8],
        signer: SignaturePrivateKey,
        key_packages: Vec<KeyPackage>,
        config: GroupConfig,
    ) -> Result<(Group, CommitOutput)> {
        if self.removed {
            return Err(ApiMisuse::NotAMember.into());
        }
        let extensions = self.public.context.extensions.clone();
        self.resume(
            self.public.provider,
            group_id,
            ResumptionPskUsage::Branch,
            (!extensions.is_empty()).then_some(extensions),
            signer,
            key_packages,
            config,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn resume(
        &self,
        provider: Provider,
        group_id: &[u8],
        usage: ResumptionPskUsage,
        extensions: Option<Vec<crate::codec::Extension>>,
        signer: SignaturePrivateKey,
        key_packages: Vec<KeyPackage>,
        config: GroupConfig,
    ) -> Result<(Group, CommitOutput)> {
        let identity = match self.public.tree.leaf(self.own_leaf()).map(|l| l.decode().credential) {
            Some(Credential::Basic { identity }) => identity.as_slice().to_vec(),
            _ => {
                return Err(Error::ApiMisuse(ApiMisuse::InvalidArgument(
                    "resumption needs a basic credential",
                )))
            }
        };
        let mut group = Group::create(provider, group_id, &identity, signer, config)?;
        let nonce = group
            .rng
            .secret(&provider, b"resumption psk nonce", provider.hash_len())?;
        let id = PreSharedKeyId {
            source: PskSource::Resumption {
                usage,
                psk_group_id: self.public.context.group_id.clone(),
                psk_epoch: self.public.context.epoch,
            },
            psk_nonce: nonce.as_bytes().to_vec().into(),
        };
        group.linked_psk = Some((
            self.public.context.group_id.as_slice().to_vec(),
            self.public.context.epoch,
            self.secrets.resumption_psk.clone(),
        ));
        let options = CommitOptions::new()
            .adds(key_packages)
            .psk(id)
            .with_path()
            .ratchet_tree_in_welcome()
            .group_context_extensions(extensions);
        let result = group.commit(&options);
        // The old group's secret is needed for the first commit only.
        group.linked_psk = None;
        Ok((group, result?))
    }

    /// The checks of a join that resumes `old` ([`JoinOptions::resuming`](super::JoinOptions::resuming)) once the new group's state is known: `psks` are
    /// the Welcome's PSKs.
    pub(super) fn check_resumption(&self, old: &Group, psks: &[PreSharedKeyId]) -> Result<()> {
        let mismatch = |what| Err(PeerMisbehaved::ResumptionMismatch(what).into());
        let linked: Vec<(&ResumptionPskUsage, u64)> = psks
            .iter()
            .filter_map(|id| match &id.source {
                PskSource::Resumption {
                    usage: usage @ (ResumptionPskUsage::Reinit | ResumptionPskUsage::Branch),
                    psk_group_id,
                    psk_epoch,
                } if psk_group_id.as_slice() == old.public.context.group_id.as_slice() => {
                    Some((usage, *psk_epoch))
                }
                _ => None,
            })
            .collect();
        let [(usage, epoch)] = linked.as_slice() else {
            return mismatch("no reinit or branch PSK of the old group");
        };
        let ctx = &self.public.context;
        match usage {
            ResumptionPskUsage::Reinit => {
                let Some(r) = &old.public.reinit else {
                    return mismatch("reinit PSK but the old group has no ReInit");
                };
                if *epoch != old.public.context.epoch {
                    return mismatch("reinit PSK not of the epoch after the ReInit");
                }
                if r.group_id != ctx.group_id
                    || r.version != ctx.version
                    || r.cipher_suite != ctx.cipher_suite
                    || r.extensions != ctx.extensions
                {
                    return mismatch("group parameters differ from the ReInit");
                }
            }
            _ => {
                if ctx.version != old.public.context.version
                    || ctx.cipher_suite != old.public.context.cipher_suite
                {
                    return mismatch("branch with another version or cipher suite");
                }
                // The default notion of "the same participant": identical credentials.
                let encoded = |c: &Credential| crate::codec::encode(c);
                let old_credentials = old
                    .public.tree
                    .leaves()
                    .map(|(_, l)| encoded(&l.decode().credential))
                    .collect::<Result<std::collections::HashSet<_>, _>>()?;
                let mut new_credentials = self.public.tree.leaves().map(|(_, l)| encoded(&l.decode().credential));
                if new_credentials.any(|c| c.map_or(true, |c| !old_credentials.contains(&c))) {
                    return mismatch("a subgroup member who is not a member of the old group");
                }
            }
        }
        Ok(())
    }
}
