//! Which implementation runs the engine's Ed25519 verifications, chosen once per process from
//! `CANOPY_CRYPTO`.
//!
//! | `CANOPY_CRYPTO` | runs |
//! |---|---|
//! | unset, empty or `auto` | `avx512` where the CPU has AVX-512 IFMA, else `portable` |
//! | `portable` | aws-lc: the reference, the path every release before this one took |
//! | `avx2` | [`super::ed25519::verify`] on curve25519-dalek's AVX2 backend |
//! | `avx512` | [`super::ed25519::verify_lanes`] on canopy-simd's eight AVX-512 IFMA lanes |
//!
//! All three accept exactly the same signatures (the rule is written down in
//! [`super::ed25519`] and proven case by case, batches included, in
//! `engine/tests/ed25519_agreement.rs`), and the primitive counters count a verification the
//! same way whichever runs it.
//!
//! **Why `auto` picks these.** canopy-simd's lanes verify about four times faster than aws-lc
//! on the AVX-512 IFMA host measured (`cargo run --release -p canopy-simd --example
//! ed25519_throughput`), when the caller hands them batches ([`ed25519_verify_batch`]; a single
//! verification pads a register and costs about twice aws-lc's). dalek's AVX2 backend was about
//! as fast as aws-lc where it was measured, so AVX2-only hosts keep aws-lc.
//!
//! **Why not dalek's IFMA backend.** curve25519-dalek 1.1.0 to 5.0.0 carry RUSTSEC-2026-0620:
//! on its AVX-512 backend a scalar multiple of an attacker-chosen point can come out wrong,
//! and an Ed25519 key is an attacker-chosen point: a member that disagrees with its group.
//! This workspace therefore does not compile that backend (no `curve25519_dalek_backend` cfg),
//! so dalek runs AVX2 on every AVX2 host; a build that compiles it in anyway (its cfg in
//! `RUSTFLAGS`) has dalek choose IFMA by itself, and then `avx2` verifies on aws-lc instead,
//! because dalek cannot be told to run AVX2 ([`resolve`]).
//!
//! The same variable chooses the X25519 lanes ([`super::X25519Backend`]); a CPU that lacks the
//! instructions of a forced choice is an error naming the choice and the host's features, for
//! every primitive alike.
//!
// # Internal documentation
//
// `canopy-simd` reads the same variable for its batched X25519 with its own `Backend` enum;
// `CryptoBackend` is kept to the same three names so that the two can become one setting.

use std::sync::OnceLock;

use super::{awslc, ed25519, CryptoError};

/// The environment variable that selects the backend.
pub const ENV_VAR: &str = "CANOPY_CRYPTO";

/// An implementation of the engine's Ed25519 verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoBackend {
    /// curve25519-dalek on its AVX2 backend.
    Avx2,
    /// canopy-simd's eight-lane AVX-512 IFMA arithmetic.
    Avx512,
    /// aws-lc: the reference, available everywhere.
    Portable,
}

impl CryptoBackend {
    /// Every backend, reference first.
    pub const ALL: [CryptoBackend; 3] = [
        CryptoBackend::Portable,
        CryptoBackend::Avx2,
        CryptoBackend::Avx512,
    ];

    /// The name `CANOPY_CRYPTO` takes for it.
    pub fn name(self) -> &'static str {
        match self {
            CryptoBackend::Avx2 => "avx2",
            CryptoBackend::Avx512 => "avx512",
            CryptoBackend::Portable => "portable",
        }
    }

    /// `Ok` if this backend runs in this process, else why not (naming it and the host's
    /// features).
    pub fn check_available(self) -> Result<(), CryptoError> {
        check(self, HostFeatures::detect(), DalekBuild::current())
    }
}

/// What `CANOPY_CRYPTO` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The best backend for this host.
    Auto,
    /// This backend, or an error if it is unavailable.
    Exactly(CryptoBackend),
}

impl Setting {
    /// Parse a value of `CANOPY_CRYPTO` (empty means `auto`).
    pub fn parse(value: &str) -> Result<Setting, CryptoError> {
        // Spelled as the X25519 backend reads the same variable (`X25519Backend::from_choice`):
        // case and surrounding blanks do not matter, `avx512ifma` is `avx512`.
        let normal = value.trim().to_ascii_lowercase();
        match normal.as_str() {
            "" | "auto" => Ok(Setting::Auto),
            "avx512ifma" => Ok(Setting::Exactly(CryptoBackend::Avx512)),
            other => CryptoBackend::ALL
                .into_iter()
                .find(|b| b.name() == other)
                .map(Setting::Exactly)
                .ok_or_else(|| {
                    CryptoError::Backend(format!(
                        "{ENV_VAR}={other}: not a backend (auto, portable, avx2 or avx512)"
                    ))
                }),
        }
    }
}

/// The CPU features the vector backends need, as this process sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostFeatures {
    /// AVX2.
    pub avx2: bool,
    /// AVX-512 IFMA (52-bit integer multiply-add).
    pub avx512ifma: bool,
    /// AVX-512 VL (the 256-bit forms dalek's IFMA backend uses).
    pub avx512vl: bool,
    /// canopy-simd runs its AVX-512 IFMA lanes: the CPU has AVX512F and AVX512IFMA, and its
    /// testing aid `CANOPY_SIMD_HIDE` does not hide them (so a run "as on a host without
    /// AVX-512" takes both primitives off the lanes alike). The other fields are the CPU's own
    /// view, as curve25519-dalek sees it.
    pub lanes_avx512: bool,
}

impl HostFeatures {
    /// Detect them (std's run-time detection, which also checks that the OS saves the
    /// registers).
    pub fn detect() -> HostFeatures {
        #[cfg(target_arch = "x86_64")]
        {
            HostFeatures {
                avx2: std::is_x86_feature_detected!("avx2"),
                avx512ifma: std::is_x86_feature_detected!("avx512ifma"),
                avx512vl: std::is_x86_feature_detected!("avx512vl"),
                lanes_avx512: canopy_simd::Backend::Avx512Ifma.is_available(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            HostFeatures::default()
        }
    }

    fn describe(self) -> String {
        let names: Vec<&str> = [
            (self.avx2, "avx2"),
            (self.avx512ifma, "avx512ifma"),
            (self.avx512vl, "avx512vl"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect();
        if names.is_empty() {
            "none of avx2, avx512ifma, avx512vl".into()
        } else {
            names.join(" ")
        }
    }
}

/// Which of curve25519-dalek's vector backends this build compiled in. dalek decides in its
/// build script from the `curve25519_dalek_backend` cfg and the target; the engine sees the
/// same cfg and target, and repeats the decision here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DalekBuild {
    /// The AVX2 backend (dalek's `simd`): every 64-bit x86 build unless `serial` or `fiat` is
    /// forced.
    pub avx2: bool,
    /// The AVX-512 IFMA backend: with `curve25519_dalek_backend="avx512"`, or by default when
    /// the target itself has AVX-512 IFMA and VL.
    pub avx512: bool,
}

impl DalekBuild {
    /// This build's.
    pub const fn current() -> DalekBuild {
        let x86_64 = cfg!(all(target_arch = "x86_64", target_pointer_width = "64"));
        let forced_scalar = cfg!(any(
            curve25519_dalek_backend = "serial",
            curve25519_dalek_backend = "fiat"
        ));
        let ifma = cfg!(any(
            curve25519_dalek_backend = "avx512",
            all(target_feature = "avx512ifma", target_feature = "avx512vl")
        ));
        DalekBuild {
            avx2: x86_64 && !forced_scalar,
            avx512: x86_64 && !forced_scalar && ifma,
        }
    }
}

/// The backend curve25519-dalek runs, by its own rule (`get_selected_backend` in its
/// `src/backend.rs`): `None` for its serial code.
pub fn dalek_runs(host: HostFeatures, build: DalekBuild) -> Option<CryptoBackend> {
    if build.avx512 && host.avx512ifma && host.avx512vl {
        Some(CryptoBackend::Avx512)
    } else if build.avx2 && host.avx2 {
        Some(CryptoBackend::Avx2)
    } else {
        None
    }
}

/// Whether `backend` runs on `host` with `build`, and if not, why.
pub fn check(
    backend: CryptoBackend,
    host: HostFeatures,
    build: DalekBuild,
) -> Result<(), CryptoError> {
    let why = match backend {
        CryptoBackend::Portable => return Ok(()),
        CryptoBackend::Avx512 if host.lanes_avx512 => return Ok(()),
        CryptoBackend::Avx2 if dalek_runs(host, build) == Some(CryptoBackend::Avx2) => {
            return Ok(())
        }
        CryptoBackend::Avx512 => "this CPU lacks AVX-512 IFMA (or CANOPY_SIMD_HIDE hides it)",
        CryptoBackend::Avx2 if !build.avx2 => {
            "curve25519-dalek's AVX2 backend is not compiled into this build"
        }
        CryptoBackend::Avx2 if !host.avx2 => "this CPU lacks AVX2",
        // dalek runs IFMA here and cannot be told otherwise.
        CryptoBackend::Avx2 => {
            "this build compiles curve25519-dalek's AVX-512 IFMA backend, which dalek runs on \
             this CPU instead of AVX2 (and which this engine does not verify on)"
        }
    };
    Err(CryptoError::Backend(format!(
        "{ENV_VAR}={}: unavailable: {why}; host features: {}",
        backend.name(),
        host.describe()
    )))
}

/// The backend a setting selects on `host` with `build`.
pub fn resolve(
    setting: Setting,
    host: HostFeatures,
    build: DalekBuild,
) -> Result<CryptoBackend, CryptoError> {
    match setting {
        Setting::Auto => Ok(if host.lanes_avx512 {
            CryptoBackend::Avx512
        } else {
            CryptoBackend::Portable
        }),
        Setting::Exactly(backend) => match check(backend, host, build) {
            Ok(()) => Ok(backend),
            // One variable chooses every primitive's backend, and the X25519 lanes run AVX2
            // on any AVX2 CPU. Where the CPU has AVX2 but this build's dalek will not run its
            // AVX2 backend (a build with dalek's IFMA cfg), verification stays on the
            // reference, so that `avx2` still selects the X25519 lanes; `canopy compare` names
            // what verified (`crypto_ed25519`). A CPU that lacks the instructions is an error
            // for every primitive alike.
            Err(_) if host_has(backend, host) => Ok(CryptoBackend::Portable),
            Err(e) => Err(e),
        },
    }
}

/// Whether the CPU has the instructions `backend` needs, whatever dalek's build runs.
fn host_has(backend: CryptoBackend, host: HostFeatures) -> bool {
    match backend {
        CryptoBackend::Portable => true,
        CryptoBackend::Avx2 => host.avx2,
        CryptoBackend::Avx512 => host.lanes_avx512,
    }
}

/// The backend `CANOPY_CRYPTO` selects for this process, decided on first use and kept: an
/// invalid or unavailable setting is the same error every time.
pub fn selected() -> Result<CryptoBackend, CryptoError> {
    static SELECTED: OnceLock<Result<CryptoBackend, CryptoError>> = OnceLock::new();
    SELECTED
        .get_or_init(|| {
            let value = match std::env::var(ENV_VAR) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => String::new(),
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(CryptoError::Backend(format!("{ENV_VAR} is not UTF-8")))
                }
            };
            resolve(
                Setting::parse(&value)?,
                HostFeatures::detect(),
                DalekBuild::current(),
            )
        })
        .clone()
}

/// Ed25519 verification through `backend`, which must be available
/// ([`CryptoBackend::check_available`]): the agreement tests run every backend the host has
/// through this. The engine itself verifies through [`selected`].
pub fn ed25519_verify_with(
    backend: CryptoBackend,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    backend.check_available()?;
    ed25519_verify_on(backend, pk, msg, sig)
}

/// Ed25519 verification through the selected backend ([`selected`]), as the engine runs it
/// ([`ed25519_verify_by`]).
pub fn ed25519_verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    ed25519_verify_by(selected()?, pk, msg, sig)
}

/// Ed25519 verification as the engine runs it on `backend` (available: [`selected`] or
/// [`ed25519_for_x25519`] chose it). On `avx512` a lone verification runs on aws-lc: alone
/// in a register of eight lanes it would cost about twice as much (both decide alike, so
/// which one runs is a matter of speed only).
pub fn ed25519_verify_by(
    backend: CryptoBackend,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    match backend {
        CryptoBackend::Avx512 => awslc::ed25519_verify(pk, msg, sig),
        backend => ed25519_verify_on(backend, pk, msg, sig),
    }
}

/// The Ed25519 verifier that goes with an X25519 backend chosen by name, so that one choice
/// (`canopy compare --crypto`, [`super::Provider::with_x25519_backend`]) sets both: aws-lc
/// with aws-lc (and with canopy-simd's portable lanes, a testing aid), dalek's AVX2 with the
/// AVX2 lanes where this build's dalek runs it (else aws-lc, as [`resolve`] says), the
/// Ed25519 lanes with the X25519 lanes.
pub fn ed25519_for_x25519(x25519: super::X25519Backend) -> CryptoBackend {
    use super::X25519Backend as X;
    let asked = match x25519 {
        X::AwsLc | X::SimdPortable => return CryptoBackend::Portable,
        X::Avx2 => CryptoBackend::Avx2,
        X::Avx512Ifma => CryptoBackend::Avx512,
    };
    resolve(
        Setting::Exactly(asked),
        HostFeatures::detect(),
        DalekBuild::current(),
    )
    .unwrap_or(CryptoBackend::Portable)
}

/// The fewest verifications worth a register of the lanes: a register costs about what two
/// aws-lc verifications do on the host measured, so a batch's tail of one or two verifies on
/// aws-lc instead.
const LANES_MIN: usize = 3;

fn ed25519_verify_on(
    backend: CryptoBackend,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    match backend {
        CryptoBackend::Portable => awslc::ed25519_verify(pk, msg, sig),
        // Available means dalek runs exactly this backend.
        CryptoBackend::Avx2 => ed25519::verify(pk, msg, sig),
        CryptoBackend::Avx512 => ed25519::verify_lanes(&[(pk, msg, sig)])
            .pop()
            .unwrap_or(Err(CryptoError::InvalidSignature)),
    }
}

/// Many Ed25519 verifications, `(key, message, signature)` each, through the selected backend:
/// one result per item, in order, each what [`ed25519_verify`] returns for it. On `avx512`
/// the items share registers, eight at a time; the others verify one by one.
pub fn ed25519_verify_batch(items: &[(&[u8], &[u8], &[u8])]) -> Vec<Result<(), CryptoError>> {
    match selected() {
        Ok(backend) => ed25519_verify_batch_by(backend, items),
        Err(e) => vec![Err(e); items.len()],
    }
}

/// [`ed25519_verify_batch`] on `backend` (available), as the engine runs it: on `avx512`, full
/// registers and tails of at least three in the lanes, a tail of one or two on aws-lc.
pub fn ed25519_verify_batch_by(
    backend: CryptoBackend,
    items: &[(&[u8], &[u8], &[u8])],
) -> Vec<Result<(), CryptoError>> {
    match backend {
        CryptoBackend::Avx512 => {
            let tail = items.len() % 8;
            let in_lanes = if tail < LANES_MIN { items.len() - tail } else { items.len() };
            let (lanes, alone) = items.split_at(in_lanes);
            let mut results = ed25519::verify_lanes(lanes);
            results.extend(
                alone
                    .iter()
                    .map(|&(pk, msg, sig)| awslc::ed25519_verify(pk, msg, sig)),
            );
            results
        }
        backend => ed25519_verify_batch_on(backend, items),
    }
}

/// [`ed25519_verify_batch`] through `backend`, which must be available (else every item gets
/// the error of [`CryptoBackend::check_available`]). Unlike the selected path, `avx512` runs
/// every item in the lanes, however few: this is what the agreement tests call.
pub fn ed25519_verify_batch_with(
    backend: CryptoBackend,
    items: &[(&[u8], &[u8], &[u8])],
) -> Vec<Result<(), CryptoError>> {
    match backend.check_available() {
        Ok(()) => ed25519_verify_batch_on(backend, items),
        Err(e) => vec![Err(e); items.len()],
    }
}

fn ed25519_verify_batch_on(
    backend: CryptoBackend,
    items: &[(&[u8], &[u8], &[u8])],
) -> Vec<Result<(), CryptoError>> {
    match backend {
        CryptoBackend::Avx512 => ed25519::verify_lanes(items),
        _ => items
            .iter()
            .map(|&(pk, msg, sig)| ed25519_verify_on(backend, pk, msg, sig))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: HostFeatures = HostFeatures {
        avx2: false,
        avx512ifma: false,
        avx512vl: false,
        lanes_avx512: false,
    };
    const ZEN3: HostFeatures = HostFeatures {
        avx2: true,
        avx512ifma: false,
        avx512vl: false,
        lanes_avx512: false,
    };
    const ICELAKE: HostFeatures = HostFeatures {
        avx2: true,
        avx512ifma: true,
        avx512vl: true,
        lanes_avx512: true,
    };
    const WITH_IFMA: DalekBuild = DalekBuild {
        avx2: true,
        avx512: true,
    };
    const WITHOUT_IFMA: DalekBuild = DalekBuild {
        avx2: true,
        avx512: false,
    };
    const SERIAL: DalekBuild = DalekBuild {
        avx2: false,
        avx512: false,
    };

    fn error(r: Result<CryptoBackend, CryptoError>) -> String {
        match r {
            Err(CryptoError::Backend(m)) => m,
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[test]
    fn settings_parse_and_reject_unknown_names() {
        assert_eq!(Setting::parse("").unwrap(), Setting::Auto);
        assert_eq!(Setting::parse("auto").unwrap(), Setting::Auto);
        for b in CryptoBackend::ALL {
            assert_eq!(Setting::parse(b.name()).unwrap(), Setting::Exactly(b));
        }
        // Spelled as X25519Backend::from_choice reads the same variable.
        assert_eq!(
            Setting::parse(" AVX512 ").unwrap(),
            Setting::Exactly(CryptoBackend::Avx512)
        );
        assert_eq!(
            Setting::parse("avx512ifma").unwrap(),
            Setting::Exactly(CryptoBackend::Avx512)
        );
        let e = error(Setting::parse("sse4").map(|_| CryptoBackend::Portable));
        assert!(e.contains("CANOPY_CRYPTO=sse4") && e.contains("auto, portable"), "{e}");
    }

    /// dalek's own selection: IFMA needs the build and both CPU features, AVX2 the build and
    /// the CPU, else serial.
    #[test]
    fn dalek_runs_what_its_build_and_the_cpu_allow() {
        assert_eq!(dalek_runs(ICELAKE, WITH_IFMA), Some(CryptoBackend::Avx512));
        assert_eq!(dalek_runs(ICELAKE, WITHOUT_IFMA), Some(CryptoBackend::Avx2));
        let no_vl = HostFeatures {
            avx512vl: false,
            ..ICELAKE
        };
        assert_eq!(dalek_runs(no_vl, WITH_IFMA), Some(CryptoBackend::Avx2));
        assert_eq!(dalek_runs(ZEN3, WITH_IFMA), Some(CryptoBackend::Avx2));
        assert_eq!(dalek_runs(NONE, WITH_IFMA), None);
        assert_eq!(dalek_runs(ICELAKE, SERIAL), None);
    }

    #[test]
    fn auto_runs_the_lanes_where_the_cpu_has_ifma_and_aws_lc_elsewhere() {
        for build in [WITH_IFMA, WITHOUT_IFMA, SERIAL] {
            assert_eq!(
                resolve(Setting::Auto, ICELAKE, build).unwrap(),
                CryptoBackend::Avx512
            );
            // AVX2-only hosts keep aws-lc: dalek's AVX2 is not faster there.
            for host in [ZEN3, NONE] {
                assert_eq!(
                    resolve(Setting::Auto, host, build).unwrap(),
                    CryptoBackend::Portable
                );
            }
        }
    }

    /// A forced choice runs where its implementation runs; otherwise the reference verifies
    /// where the CPU has the instructions, and the error names the choice, the reason and the
    /// host's features where it does not.
    #[test]
    fn forced_choices_run_where_they_can_and_stay_on_the_reference_where_only_the_build_lacks_them(
    ) {
        let forced = |b, host, build| resolve(Setting::Exactly(b), host, build);
        for (host, build) in [(NONE, SERIAL), (ZEN3, WITH_IFMA), (ICELAKE, WITH_IFMA)] {
            assert_eq!(
                forced(CryptoBackend::Portable, host, build).unwrap(),
                CryptoBackend::Portable
            );
        }
        // The lanes are canopy-simd's: dalek's build does not matter to them.
        for build in [WITH_IFMA, WITHOUT_IFMA, SERIAL] {
            assert_eq!(
                forced(CryptoBackend::Avx512, ICELAKE, build).unwrap(),
                CryptoBackend::Avx512
            );
        }
        assert_eq!(
            forced(CryptoBackend::Avx2, ZEN3, WITH_IFMA).unwrap(),
            CryptoBackend::Avx2
        );
        assert_eq!(
            forced(CryptoBackend::Avx2, ICELAKE, WITHOUT_IFMA).unwrap(),
            CryptoBackend::Avx2
        );
        // dalek would run its IFMA backend (RUSTSEC-2026-0620) or its serial code: the
        // reference verifies (the same variable still selects the X25519 lanes).
        assert_eq!(
            forced(CryptoBackend::Avx2, ICELAKE, WITH_IFMA).unwrap(),
            CryptoBackend::Portable
        );
        assert_eq!(
            forced(CryptoBackend::Avx2, ZEN3, SERIAL).unwrap(),
            CryptoBackend::Portable
        );

        // A CPU without the instructions is an error naming them.
        let e = error(forced(CryptoBackend::Avx512, ZEN3, WITH_IFMA));
        assert!(e.starts_with("CANOPY_CRYPTO=avx512: unavailable"), "{e}");
        assert!(e.contains("lacks AVX-512 IFMA") && e.ends_with("host features: avx2"), "{e}");
        let e = error(forced(CryptoBackend::Avx2, NONE, WITH_IFMA));
        assert!(e.contains("lacks AVX2"), "{e}");
        assert!(e.ends_with("none of avx2, avx512ifma, avx512vl"), "{e}");
        // The direct check (what the agreement tests call) refuses what dalek will not run.
        let e = check(CryptoBackend::Avx2, ICELAKE, WITH_IFMA).unwrap_err().to_string();
        assert!(e.contains("instead of AVX2"), "{e}");
    }

    /// The workspace does not compile curve25519-dalek's AVX-512 IFMA backend (module docs),
    /// so no verification can reach it: not through `avx2`, and `avx512` is canopy-simd's.
    #[test]
    fn this_build_has_no_dalek_ifma_backend() {
        assert!(!DalekBuild::current().avx512);
    }

    /// The selected path's batches, whatever their length (full registers, tails verified in
    /// the lanes or on aws-lc), give each item what aws-lc gives it alone.
    #[test]
    fn selected_batches_of_every_length_decide_each_item_as_alone() {
        let p = crate::crypto::Provider::new(
            crate::crypto::CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
        );
        let mut cases: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = Vec::new();
        for i in 0..20u8 {
            let (sk, pk) = p.signature_key_pair_from_seed(&[i; 32]).unwrap();
            let msg = vec![i; 1 + usize::from(i) * 7];
            let mut sig = p.sign_labeled(&sk, &msg).unwrap();
            if i % 3 == 1 {
                sig[usize::from(i)] ^= 0x10;
            }
            cases.push((pk, msg, sig));
        }
        let alone: Vec<_> = cases
            .iter()
            .map(|(pk, msg, sig)| awslc::ed25519_verify(pk, msg, sig))
            .collect();
        assert!(alone.iter().any(|r| r.is_ok()) && alone.iter().any(|r| r.is_err()));
        for len in 0..=cases.len() {
            let items: Vec<(&[u8], &[u8], &[u8])> = cases[..len]
                .iter()
                .map(|(pk, msg, sig)| (&pk[..], &msg[..], &sig[..]))
                .collect();
            assert_eq!(ed25519_verify_batch(&items), alone[..len], "batch of {len}");
        }
    }

    /// One choice sets both primitives: aws-lc with aws-lc, the lanes with the lanes, and
    /// dalek's AVX2 with the AVX2 lanes where this build's dalek runs it.
    #[test]
    fn the_x25519_choice_brings_its_ed25519_verifier() {
        use crate::crypto::X25519Backend as X;
        assert_eq!(ed25519_for_x25519(X::AwsLc), CryptoBackend::Portable);
        assert_eq!(ed25519_for_x25519(X::SimdPortable), CryptoBackend::Portable);
        if X::Avx512Ifma.require().is_ok() {
            assert_eq!(ed25519_for_x25519(X::Avx512Ifma), CryptoBackend::Avx512);
        }
        if X::Avx2.require().is_ok() {
            let dalek_avx2 =
                dalek_runs(HostFeatures::detect(), DalekBuild::current()) == Some(CryptoBackend::Avx2);
            assert_eq!(
                ed25519_for_x25519(X::Avx2),
                if dalek_avx2 { CryptoBackend::Avx2 } else { CryptoBackend::Portable }
            );
        }
    }

    /// The verifier behind each available backend, and the error for each unavailable one.
    #[test]
    fn verify_with_runs_available_backends_and_refuses_others() {
        let p = crate::crypto::Provider::new(
            crate::crypto::CipherSuite::Mls128X25519Aes128GcmSha256Ed25519,
        );
        let (sk, pk) = p.signature_key_pair_from_seed(&[7; 32]).unwrap();
        let sig = p.sign_labeled(&sk, b"content").unwrap();
        for b in CryptoBackend::ALL {
            match b.check_available() {
                Ok(()) => {
                    ed25519_verify_with(b, &pk, b"content", &sig).unwrap();
                    assert_eq!(
                        ed25519_verify_with(b, &pk, b"other", &sig),
                        Err(CryptoError::InvalidSignature)
                    );
                }
                Err(e) => assert_eq!(ed25519_verify_with(b, &pk, b"content", &sig), Err(e)),
            }
        }
    }
}
