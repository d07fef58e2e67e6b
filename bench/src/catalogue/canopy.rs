//! Canopy's side of an operation: its inputs prepared once ([`Prepared`]), a fresh copy of
//! the start state per run ([`Prepared::input`], untimed), the operation alone
//! ([`Input::run`], the measured window) and the check and sizes of its result
//! ([`Prepared::sizes`], [`Prepared::seals`], untimed).

use anyhow::{anyhow, bail, ensure, Result};
use canopy_engine::codec::KeyPackage;
use canopy_engine::crypto::{CipherSuite, Provider, X25519Backend};
use canopy_engine::group::{CommitOptions, CommitOutput, Group, GroupConfig, ProcessOutcome};
use canopy_engine::key_package::KeyPackageSecrets;

use super::{
    numbered_kp, seals_in, Operation, Role, Sizes, Start, ADD1_KP, BUILD_CREATOR_SEED,
    BUILD_GROUP_ID, JOIN_KP,
};

/// The inputs of one operation, prepared so that a run does nothing but the operation on a
/// copy of them.
#[derive(Debug)]
pub struct Prepared {
    operation: Operation,
    inputs: Inputs,
}

#[derive(Debug)]
enum Inputs {
    /// `group.commit(options)`.
    Commit {
        group: Group,
        options: CommitOptions,
    },
    /// `group.process(message)`.
    Process { group: Group, message: Vec<u8> },
    /// `Group::join(welcome)`.
    Join {
        provider: Provider,
        welcome: Vec<u8>,
        kp: Box<KeyPackage>,
        secrets: Box<KeyPackageSecrets>,
        config: GroupConfig,
    },
}

/// A fresh copy of a [`Prepared`] operation's start state, consumed by one [`Input::run`].
#[derive(Debug)]
pub enum Input<'a> {
    /// A member about to commit.
    Commit {
        /// The committer, a copy of the start state's.
        group: Group,
        /// What it commits.
        options: &'a CommitOptions,
    },
    /// A member about to process a commit.
    Process {
        /// The receiver, a copy of the start state's.
        group: Group,
        /// The commit.
        message: &'a [u8],
    },
    /// A new member about to join.
    Join {
        /// The suite's provider.
        provider: Provider,
        /// The Welcome.
        welcome: &'a [u8],
        /// The joiner's KeyPackage.
        kp: &'a KeyPackage,
        /// Its private keys.
        secrets: &'a KeyPackageSecrets,
        /// The joined member's configuration (taken by the run).
        config: Option<GroupConfig>,
    },
}

/// What one run returned; dropped by the caller after the measured window (dropping a large
/// group state takes milliseconds).
#[derive(Debug)]
pub enum Ran {
    /// The commit made.
    Committed(CommitOutput),
    /// The outcome of processing.
    Processed(ProcessOutcome),
    /// The joined member, boxed so that every result is small: the gate's instruction tier
    /// counts each copy of the result out of the measured function, and a join (hundreds of
    /// millions of instructions) does not notice one allocation.
    Joined(Box<Group>),
}

impl Prepared {
    /// Prepare `operation` on `start` (`build` takes only the size, time and configuration
    /// from it).
    pub fn new(operation: Operation, start: &Start) -> Result<Self> {
        let inputs = match operation {
            Operation::Build => {
                return Prepared::build_in(
                    start.suite(),
                    start.state.config.members,
                    start.now,
                    &start.config,
                )
            }
            Operation::Commit | Operation::CommitCreator => Inputs::Commit {
                group: start.member(operation.actor())?.clone(),
                options: CommitOptions::new().with_path(),
            },
            Operation::Add1 | Operation::Add1Creator => {
                let (kp, _) = numbered_kp(&start.provider, ADD1_KP, start.now)?;
                Inputs::Commit {
                    group: start.member(operation.actor())?.clone(),
                    options: CommitOptions::new()
                        .adds(vec![kp])
                        .ratchet_tree_in_welcome(),
                }
            }
            Operation::Remove1 | Operation::Remove1Creator => Inputs::Commit {
                group: start.member(operation.actor())?.clone(),
                options: CommitOptions::new().removes(vec![start.victim()]),
            },
            Operation::Process => {
                let message = start
                    .member(Role::Creator)?
                    .clone()
                    .commit(&CommitOptions::new().with_path())?
                    .commit;
                Inputs::Process {
                    group: start.member(Role::Last)?.clone(),
                    message,
                }
            }
            Operation::Join => {
                let (kp, secrets) = numbered_kp(&start.provider, JOIN_KP, start.now)?;
                let welcome = start.welcome_for(kp.clone())?;
                Inputs::Join {
                    provider: start.provider,
                    welcome,
                    kp: Box::new(kp),
                    secrets: Box::new(secrets),
                    config: start.config.clone(),
                }
            }
        };
        Ok(Prepared { operation, inputs })
    }

    /// Prepare `build` of a `members`-member group in cipher suite 1: a new group whose
    /// creator has a fixed signature key, and KeyPackages `1..members` valid around `now`;
    /// the same inputs on every run, whatever ran before.
    pub fn build(members: u32, now: u64, config: &GroupConfig) -> Result<Self> {
        Self::build_in(
            CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
            members,
            now,
            config,
        )
    }

    /// [`Prepared::build`] in `suite`.
    pub fn build_in(
        suite: CipherSuite,
        members: u32,
        now: u64,
        config: &GroupConfig,
    ) -> Result<Self> {
        let provider = Provider::new(suite);
        let adds = (1..members)
            .map(|n| Ok(numbered_kp(&provider, n, now)?.0))
            .collect::<Result<Vec<_>>>()?;
        let (signer, _) = provider.derive_signature_key_pair(&BUILD_CREATOR_SEED)?;
        let group = Group::create(provider, BUILD_GROUP_ID, b"creator", signer, config.clone())?;
        Ok(Prepared {
            operation: Operation::Build,
            inputs: Inputs::Commit {
                group,
                options: CommitOptions::new().adds(adds).ratchet_tree_in_welcome(),
            },
        })
    }

    /// The same inputs with the operation's X25519 on `backend` (the acting member's, or the
    /// joiner's provider): the same bytes, another implementation. An error naming the
    /// backend if this host does not run it.
    pub fn with_x25519_backend(mut self, backend: X25519Backend) -> Result<Self> {
        match &mut self.inputs {
            Inputs::Commit { group, .. } | Inputs::Process { group, .. } => {
                group.set_x25519_backend(backend)?
            }
            Inputs::Join { provider, .. } => *provider = provider.with_x25519_backend(backend)?,
        }
        Ok(self)
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The commit options of a commit operation (what a peer commits too).
    pub fn commit_options(&self) -> Option<&CommitOptions> {
        match &self.inputs {
            Inputs::Commit { options, .. } => Some(options),
            _ => None,
        }
    }

    /// The commit a process operation processes (what a peer processes too).
    pub fn message(&self) -> Option<&[u8]> {
        match &self.inputs {
            Inputs::Process { message, .. } => Some(message),
            _ => None,
        }
    }

    /// A fresh copy of the start state (the untimed part of a run).
    pub fn input(&self) -> Input<'_> {
        match &self.inputs {
            Inputs::Commit { group, options } => Input::Commit {
                group: group.clone(),
                options,
            },
            Inputs::Process { group, message } => Input::Process {
                group: group.clone(),
                message,
            },
            Inputs::Join {
                provider,
                welcome,
                kp,
                secrets,
                config,
            } => Input::Join {
                provider: *provider,
                welcome,
                kp,
                secrets,
                config: Some(config.clone()),
            },
        }
    }

    /// Check a run's result and measure its messages (untimed): processing must have
    /// advanced the epoch.
    pub fn sizes(&self, input: &Input<'_>, ran: &Ran) -> Result<Sizes> {
        Ok(match (input, ran) {
            (_, Ran::Committed(out)) => {
                let commit_bytes = out.commit.len() as u64;
                let welcome_bytes = out.welcome.as_ref().map_or(0, |w| w.len() as u64);
                Sizes {
                    commit_bytes,
                    welcome_bytes,
                    message_bytes: commit_bytes + welcome_bytes,
                }
            }
            (Input::Process { group, message }, Ran::Processed(_)) => {
                let Inputs::Process { group: before, .. } = &self.inputs else {
                    bail!("internal: a process result for {}", self.operation);
                };
                ensure!(
                    group.epoch() == before.epoch() + 1,
                    "{}: processing did not advance the epoch",
                    self.operation
                );
                let bytes = message.len() as u64;
                Sizes {
                    commit_bytes: bytes,
                    welcome_bytes: 0,
                    message_bytes: bytes,
                }
            }
            (Input::Join { welcome, .. }, Ran::Joined(_)) => Sizes {
                commit_bytes: 0,
                welcome_bytes: welcome.len() as u64,
                message_bytes: welcome.len() as u64,
            },
            _ => bail!(
                "internal: a result of another operation than {}",
                self.operation
            ),
        })
    }

    /// The HPKE seals of a run's messages ([`Sizes`] says which). Separate from
    /// [`Prepared::sizes`] because counting them in a processed commit decodes it: the gate,
    /// which does not report seals, must not decode between its warm-up and its counted run,
    /// since the allocations left behind would shift the counted instructions.
    pub fn seals(&self, ran: &Ran) -> Result<u64> {
        Ok(match ran {
            Ran::Committed(out) => out.counts.hpke_seals,
            Ran::Processed(_) => seals_in(
                self.message()
                    .ok_or_else(|| anyhow!("internal: a process result for {}", self.operation))?,
            )?,
            Ran::Joined(_) => 0,
        })
    }
}

impl Input<'_> {
    /// The operation and nothing else: the measured window of every tool.
    pub fn run(&mut self) -> Result<Ran> {
        Ok(match self {
            Input::Commit { group, options } => Ran::Committed(group.commit(options)?),
            Input::Process { group, message } => Ran::Processed(group.process(message)?),
            Input::Join {
                provider,
                welcome,
                kp,
                secrets,
                config,
            } => {
                let config = config
                    .take()
                    .ok_or_else(|| anyhow!("a join input runs once"))?;
                Ran::Joined(Box::new(Group::join(
                    *provider, welcome, kp, secrets, config,
                )?))
            }
        })
    }
}
