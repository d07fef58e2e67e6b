//! A peer's side of an operation, derived from Canopy's prepared inputs so that every system
//! does the same thing: processes the same commit, adds the same KeyPackages, removes the same
//! member. A peer's member sits where the joiner sits (the end of the tree), so it stands in
//! for the joiner; the `*-creator` operations have no peer side.
//!
//! [`PeerPrepared::input`] makes a fresh copy of the peer's start state (untimed; forking a
//! peer member costs a full state (de)serialization), [`PeerInput::run`] is the operation
//! alone, and [`PeerInput::sizes`] measures its messages (untimed). A [`PeerInput`] owns
//! everything it needs, so a caller can run it on another thread under a time limit.

use anyhow::{bail, ensure, Context, Result};
use canopy_engine::codec::KeyPackage;
use canopy_engine::TreeDelivery;

use super::canopy::Prepared;
use super::{key_package_of, kp_message, seals_in, Operation, Sizes, Start, BUILD_GROUP_ID};
use crate::peers::{new_member_in, CommitOp, CommitOutput, PeerKind, PeerMember};

/// A peer's inputs for one operation.
#[derive(Debug, Clone)]
pub struct PeerPrepared {
    kind: PeerKind,
    operation: Operation,
    action: Action,
}

#[derive(Debug, Clone)]
enum Action {
    /// The peer's member in the start state commits `op`.
    Commit { op: CommitOp, tree_in_welcome: bool },
    /// The peer's member processes the commit.
    Process(Vec<u8>),
    /// A new peer member joins from a Welcome made by the creator.
    Join,
    /// A new peer group's creator adds these KeyPackages (`MLSMessage`s), tree in the Welcome.
    Build(Vec<Vec<u8>>),
}

/// A fresh copy of a peer's start state for one run.
pub struct PeerInput {
    member: Box<dyn PeerMember>,
    step: Step,
}

impl std::fmt::Debug for PeerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerInput")
            .field("kind", &self.member.kind())
            .finish_non_exhaustive()
    }
}

enum Step {
    /// The op is taken by the run, so that nothing is copied inside the measured window.
    Commit {
        op: Option<CommitOp>,
        tree_in_welcome: bool,
    },
    Process(Vec<u8>),
    Join(Vec<u8>),
}

impl PeerPrepared {
    /// `kind`'s side of Canopy's prepared operation.
    pub fn new(kind: PeerKind, canopy: &Prepared) -> Result<Self> {
        let operation = canopy.operation();
        ensure!(
            operation.peers_run() || operation == Operation::Build,
            "{operation} is measured for Canopy only"
        );
        let adds = |adds: &[KeyPackage]| adds.iter().map(kp_message).collect::<Result<Vec<_>>>();
        let action = match operation {
            Operation::Build => {
                let options = canopy
                    .commit_options()
                    .context("internal: build without commit options")?;
                Action::Build(adds(&options.adds)?)
            }
            Operation::Join => Action::Join,
            Operation::Process => Action::Process(
                canopy
                    .message()
                    .context("internal: process without a message")?
                    .to_vec(),
            ),
            Operation::Commit | Operation::Add1 | Operation::Remove1 => {
                let options = canopy
                    .commit_options()
                    .context("internal: a commit without options")?;
                let removes: Vec<u32> = options.removes.iter().map(|l| l.0).collect();
                let op = match (options.adds.is_empty(), removes.is_empty()) {
                    (true, true) => CommitOp::Empty,
                    (false, true) => CommitOp::Add(adds(&options.adds)?),
                    (true, false) => CommitOp::Remove(removes),
                    (false, false) => CommitOp::Mixed {
                        adds: adds(&options.adds)?,
                        removes,
                    },
                };
                Action::Commit {
                    op,
                    tree_in_welcome: options.ratchet_tree == TreeDelivery::Included,
                }
            }
            Operation::Add1Creator | Operation::CommitCreator | Operation::Remove1Creator => {
                bail!("{operation} is measured for Canopy only")
            }
        };
        Ok(PeerPrepared {
            kind,
            operation,
            action,
        })
    }

    /// The peer.
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// A fresh copy of the peer's start state in `start` (untimed): a fork of its member, or a
    /// new member of the group's suite (with a Welcome made by the creator for `join`, a new
    /// group for `build`).
    pub fn input(&self, start: &Start) -> Result<PeerInput> {
        let kind = self.kind;
        let suite = start.suite().id();
        let (member, step) = match &self.action {
            Action::Commit {
                op,
                tree_in_welcome,
            } => (
                start.peer(kind)?,
                Step::Commit {
                    op: Some(op.clone()),
                    tree_in_welcome: *tree_in_welcome,
                },
            ),
            Action::Process(message) => (start.peer(kind)?, Step::Process(message.clone())),
            Action::Join => {
                let mut joiner = new_member_in(kind, suite, b"peer-joiner")?;
                let kp = key_package_of(&joiner.key_package()?)?;
                let welcome = start.welcome_for(kp)?;
                (joiner, Step::Join(welcome))
            }
            Action::Build(kps) => {
                let mut creator = new_member_in(kind, suite, b"creator")?;
                creator.create_group(BUILD_GROUP_ID)?;
                (
                    creator,
                    Step::Commit {
                        op: Some(CommitOp::Add(kps.clone())),
                        tree_in_welcome: true,
                    },
                )
            }
        };
        Ok(PeerInput { member, step })
    }
}

impl PeerInput {
    /// The operation and nothing else (the measured window): the commit made, if any.
    pub fn run(&mut self) -> Result<Option<CommitOutput>> {
        Ok(match &mut self.step {
            Step::Commit {
                op,
                tree_in_welcome,
            } => {
                let op = op.take().context("a peer input runs once")?;
                Some(self.member.commit(op, *tree_in_welcome)?)
            }
            Step::Process(message) => {
                self.member.process(message)?;
                None
            }
            Step::Join(welcome) => {
                self.member.join(welcome, None)?;
                None
            }
        })
    }

    /// The messages of a run (untimed): a commit's bytes include the Welcome and any tree
    /// sent out of band.
    pub fn sizes(&self, ran: Option<&CommitOutput>) -> Result<Sizes> {
        Ok(match (&self.step, ran) {
            (Step::Commit { .. }, Some(out)) => {
                let commit_bytes = out.commit.len() as u64;
                let welcome_bytes = out.welcome.as_ref().map_or(0, |w| w.len() as u64);
                let tree_bytes = out.ratchet_tree.as_ref().map_or(0, |t| t.len() as u64);
                Sizes {
                    commit_bytes,
                    welcome_bytes,
                    message_bytes: commit_bytes + welcome_bytes + tree_bytes,
                }
            }
            (Step::Process(message), None) => Sizes {
                commit_bytes: message.len() as u64,
                welcome_bytes: 0,
                message_bytes: message.len() as u64,
            },
            (Step::Join(welcome), None) => Sizes {
                commit_bytes: 0,
                welcome_bytes: welcome.len() as u64,
                message_bytes: welcome.len() as u64,
            },
            _ => bail!("internal: a result that does not match the operation"),
        })
    }

    /// The HPKE seals in a run's messages (untimed): the commit's and the Welcome's, the
    /// processed commit's, none for a join.
    pub fn seals(&self, ran: Option<&CommitOutput>) -> Result<u64> {
        match (&self.step, ran) {
            (Step::Commit { .. }, Some(out)) => {
                Ok(seals_in(&out.commit)? + out.welcome.as_deref().map_or(Ok(0), seals_in)?)
            }
            (Step::Process(message), None) => seals_in(message),
            (Step::Join(_), None) => Ok(0),
            _ => bail!("internal: a result that does not match the operation"),
        }
    }
}
