//! Which implementation runs the engine's Ed25519 verifications: aws-lc (the reference) or
//! curve25519-dalek on a vector backend, chosen once per process from `CANOPY_CRYPTO`.
//!
//! | `CANOPY_CRYPTO` | runs |
//! |---|---|
//! | unset, empty or `auto` | the best choice for this host (see below) |
//! | `portable` | aws-lc, the path every release before this one took |
//! | `avx2` | [`super::ed25519::verify`] on dalek's AVX2 backend |
//! | `avx512` | [`super::ed25519::verify`] on dalek's AVX-512 IFMA backend |
//!
//! Both implementations accept exactly the same signatures (the rule is written down in
//! [`super::ed25519`] and proven case by case in `engine/tests/ed25519_agreement.rs`), and the
//! primitive counters count a verification the same way whichever runs it.
//!
//! curve25519-dalek chooses its backend itself, at run time, from the backends compiled in
//! (AVX-512 IFMA only with the `curve25519_dalek_backend="avx512"` cfg that
//! `.cargo/config.toml` sets) and the CPU: IFMA if the CPU has AVX-512 IFMA and VL, else AVX2,
//! else its serial code. It offers no way to force one. The same variable chooses the X25519
//! backend ([`super::X25519Backend`]), so a forced choice means: verify on that dalek backend
//! if dalek runs it (IFMA only where it is trusted, below); if the CPU has the instructions
//! but this build's dalek runs another backend (on an IFMA host, `avx2`), verify on aws-lc,
//! and `canopy compare` names it in its `crypto_ed25519` field; if the CPU lacks the
//! instructions, an error naming the choice and the host's features, for every primitive
//! alike.
//!
//! `auto` runs aws-lc on every host for now. dalek's AVX2 backend is no faster than aws-lc
//! where it was measured, and its AVX-512 IFMA backend, about twice as fast on the Xeon measured, has a known
//! miscomputation: RUSTSEC-2026-0620 (curve25519-dalek 1.1.0 to 5.0.0 can compute a wrong
//! scalar multiple of an attacker-chosen point on that backend, fixed in 5.1.0). An Ed25519
//! key is an attacker-chosen point, and a wrong result is a member that disagrees with the
//! rest of its group. 5.0.0 is the newest release this workspace can resolve, so neither
//! `auto` nor `avx512` verifies on IFMA until [`AUTO_PREFERS_IFMA`] is turned on with an
//! upgrade; `avx512` still selects the X25519 lanes, and verifies on aws-lc. Measuring the
//! IFMA verifier takes [`UNSAFE_IFMA_ENV`]`=1` besides.
//!
// # Internal documentation
//
// `canopy-simd` reads the same variable for its batched X25519 with its own `Backend` enum;
// `CryptoBackend` is kept to the same three names so that the two can become one setting.

use std::sync::OnceLock;

use super::{awslc, ed25519, CryptoError};

/// The environment variable that selects the backend.
pub const ENV_VAR: &str = "CANOPY_CRYPTO";

/// Whether `auto` chooses dalek's AVX-512 IFMA backend on a host where dalek runs it. Off
/// while the workspace resolves curve25519-dalek 5.0.0, which RUSTSEC-2026-0620 covers (module
/// docs); turn it on together with a dependency of at least 5.1.0.
pub const AUTO_PREFERS_IFMA: bool = false;

/// Set to `1`, lets `CANOPY_CRYPTO=avx512` (and `auto`) verify on dalek's IFMA backend while
/// [`AUTO_PREFERS_IFMA`] is off: for measuring that backend, never for members of real groups.
pub const UNSAFE_IFMA_ENV: &str = "CANOPY_UNSAFE_DALEK_IFMA";

/// An implementation of the engine's Ed25519 verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoBackend {
    /// curve25519-dalek on its AVX2 backend.
    Avx2,
    /// curve25519-dalek on its AVX-512 IFMA backend.
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
    if backend == CryptoBackend::Portable || dalek_runs(host, build) == Some(backend) {
        return Ok(());
    }
    let why = match backend {
        CryptoBackend::Avx512 if !build.avx512 => {
            "curve25519-dalek's AVX-512 IFMA backend is not compiled into this build (it \
             needs the curve25519_dalek_backend=\"avx512\" cfg of .cargo/config.toml, which a \
             RUSTFLAGS variable replaces)"
        }
        CryptoBackend::Avx512 => "this CPU lacks AVX-512 IFMA or VL",
        CryptoBackend::Avx2 if !build.avx2 => {
            "curve25519-dalek's AVX2 backend is not compiled into this build"
        }
        CryptoBackend::Avx2 if !host.avx2 => "this CPU lacks AVX2",
        // dalek runs IFMA here and cannot be told otherwise.
        _ => {
            "curve25519-dalek runs its AVX-512 IFMA backend on this CPU and cannot be forced \
             to AVX2 (a build without the avx512 cfg, e.g. with RUSTFLAGS set, runs AVX2 here)"
        }
    };
    Err(CryptoError::Backend(format!(
        "{ENV_VAR}={}: unavailable: {why}; host features: {}",
        backend.name(),
        host.describe()
    )))
}

/// The backend a setting selects on `host` with `build`. `ifma_trusted` says whether
/// dalek's IFMA backend may verify: [`AUTO_PREFERS_IFMA`], or [`UNSAFE_IFMA_ENV`] set to `1`
/// for measurement; outside those it is never chosen, not even by `avx512`.
pub fn resolve(
    setting: Setting,
    host: HostFeatures,
    build: DalekBuild,
    ifma_trusted: bool,
) -> Result<CryptoBackend, CryptoError> {
    match setting {
        Setting::Auto => Ok(
            if ifma_trusted && dalek_runs(host, build) == Some(CryptoBackend::Avx512) {
                CryptoBackend::Avx512
            } else {
                CryptoBackend::Portable
            },
        ),
        Setting::Exactly(backend) => match check(backend, host, build) {
            // `avx512` is also how an operator forces the X25519 lanes; that must not put
            // every signature through a backend known to miscompute on attacker-chosen
            // points (module docs), so it verifies on the reference unless IFMA is trusted.
            Ok(()) if backend == CryptoBackend::Avx512 && !ifma_trusted => {
                Ok(CryptoBackend::Portable)
            }
            Ok(()) => Ok(backend),
            // One variable chooses every primitive's backend, and the X25519 lanes run AVX2
            // on any AVX2 CPU. Where the CPU has the instructions but this build's dalek will
            // not run that backend (it runs IFMA whenever it can), verification stays on the
            // reference, so that `avx2` still selects the X25519 lanes on an IFMA host;
            // `canopy compare` names what verified (`crypto_ed25519`). A CPU that lacks the
            // instructions is an error for every primitive alike.
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
        CryptoBackend::Avx512 => host.avx512ifma && host.avx512vl,
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
            let unsafe_ifma = std::env::var(UNSAFE_IFMA_ENV).is_ok_and(|v| v.trim() == "1");
            resolve(
                Setting::parse(&value)?,
                HostFeatures::detect(),
                DalekBuild::current(),
                AUTO_PREFERS_IFMA || unsafe_ifma,
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

/// Ed25519 verification through the selected backend ([`selected`]).
pub fn ed25519_verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    ed25519_verify_on(selected()?, pk, msg, sig)
}

fn ed25519_verify_on(
    backend: CryptoBackend,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    match backend {
        CryptoBackend::Portable => awslc::ed25519_verify(pk, msg, sig),
        // Available means dalek runs exactly this backend.
        CryptoBackend::Avx2 | CryptoBackend::Avx512 => ed25519::verify(pk, msg, sig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: HostFeatures = HostFeatures {
        avx2: false,
        avx512ifma: false,
        avx512vl: false,
    };
    const ZEN3: HostFeatures = HostFeatures {
        avx2: true,
        avx512ifma: false,
        avx512vl: false,
    };
    const ICELAKE: HostFeatures = HostFeatures {
        avx2: true,
        avx512ifma: true,
        avx512vl: true,
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
    fn auto_keeps_awslc_unless_ifma_is_preferred_and_runs() {
        for (host, build) in [(ICELAKE, WITH_IFMA), (ZEN3, WITH_IFMA), (ICELAKE, SERIAL)] {
            assert_eq!(
                resolve(Setting::Auto, host, build, false).unwrap(),
                CryptoBackend::Portable
            );
        }
        assert_eq!(
            resolve(Setting::Auto, ICELAKE, WITH_IFMA, true).unwrap(),
            CryptoBackend::Avx512
        );
        // AVX2-only hosts keep aws-lc: dalek's AVX2 is not faster there.
        assert_eq!(
            resolve(Setting::Auto, ZEN3, WITH_IFMA, true).unwrap(),
            CryptoBackend::Portable
        );
        assert_eq!(
            resolve(Setting::Auto, ICELAKE, WITHOUT_IFMA, true).unwrap(),
            CryptoBackend::Portable
        );
    }

    /// A forced choice runs exactly when dalek would run it; otherwise the error names the
    /// choice, the reason and the host's features.
    #[test]
    fn forced_choices_run_where_dalek_runs_them_and_stay_on_the_reference_where_only_the_build_lacks_them(
    ) {
        let forced = |b, host, build| resolve(Setting::Exactly(b), host, build, false);
        for (host, build) in [(NONE, SERIAL), (ZEN3, WITH_IFMA), (ICELAKE, WITH_IFMA)] {
            assert_eq!(
                forced(CryptoBackend::Portable, host, build).unwrap(),
                CryptoBackend::Portable
            );
        }
        // IFMA verifies only where it is trusted; `avx512` alone keeps the reference.
        assert_eq!(
            forced(CryptoBackend::Avx512, ICELAKE, WITH_IFMA).unwrap(),
            CryptoBackend::Portable
        );
        assert_eq!(
            resolve(
                Setting::Exactly(CryptoBackend::Avx512),
                ICELAKE,
                WITH_IFMA,
                true
            )
            .unwrap(),
            CryptoBackend::Avx512
        );
        assert_eq!(
            forced(CryptoBackend::Avx2, ZEN3, WITH_IFMA).unwrap(),
            CryptoBackend::Avx2
        );
        assert_eq!(
            forced(CryptoBackend::Avx2, ICELAKE, WITHOUT_IFMA).unwrap(),
            CryptoBackend::Avx2
        );
        // The CPU has the instructions, dalek's build does not run that backend: the reference
        // verifies (the same variable still selects the X25519 lanes).
        assert_eq!(
            forced(CryptoBackend::Avx512, ICELAKE, WITHOUT_IFMA).unwrap(),
            CryptoBackend::Portable
        );
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
        assert!(e.contains("lacks AVX-512") && e.ends_with("host features: avx2"), "{e}");
        let e = error(forced(CryptoBackend::Avx2, NONE, WITH_IFMA));
        assert!(e.contains("lacks AVX2"), "{e}");
        assert!(e.ends_with("none of avx2, avx512ifma, avx512vl"), "{e}");
        // The direct check (what the agreement tests call) still refuses what dalek will not run.
        let e = check(CryptoBackend::Avx2, ICELAKE, WITH_IFMA).unwrap_err().to_string();
        assert!(e.contains("cannot be forced to AVX2"), "{e}");
        let e = check(CryptoBackend::Avx512, ICELAKE, WITHOUT_IFMA).unwrap_err().to_string();
        assert!(e.contains("not compiled into this build"), "{e}");
    }

    /// `AUTO_PREFERS_IFMA` goes with the curve25519-dalek the workspace resolves: on exactly
    /// when it is 5.1.0 or newer (RUSTSEC-2026-0620), so neither an upgrade nor the switch
    /// can happen without the other.
    #[test]
    fn auto_prefers_ifma_exactly_with_a_fixed_dalek() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
        let lock = std::fs::read_to_string(path).unwrap();
        let versions: Vec<Vec<u32>> = lock
            .split("[[package]]")
            .filter(|p| p.contains("\nname = \"curve25519-dalek\"\n"))
            .filter_map(|p| p.split("\nversion = \"").nth(1)?.split('"').next())
            .map(|v| v.split(['.', '-']).map_while(|n| n.parse().ok()).collect())
            .filter(|v: &Vec<u32>| v.first() == Some(&5))
            .collect();
        assert_eq!(versions.len(), 1, "{path}: curve25519-dalek 5.x: {versions:?}");
        let fixed = versions[0] >= vec![5, 1, 0];
        assert_eq!(
            AUTO_PREFERS_IFMA, fixed,
            "curve25519-dalek {:?}: AUTO_PREFERS_IFMA must be {fixed}",
            versions[0]
        );
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
