//! # canopy-simd
//!
//! Batched X25519 (RFC 7748): many independent scalar multiplications at once, one per lane of a
//! SIMD register, with the instruction set chosen at run time; the fixed-base batch runs a
//! comb on the Edwards form on AVX-512 IFMA ([`x25519_base_batch`]). And the group arithmetic of
//! Ed25519 verification in the same lanes ([`ed25519_double_base_batch`]: the key decoded by
//! aws-lc's rule and `[s]B − [k]A`, eight per AVX-512 IFMA register; the other backends run its
//! serial reference), and the hash before it, SHA-512 of eight messages at once
//! ([`sha512_batch`]).
//!
//! | [`Backend`] | lanes | field arithmetic |
//! |---|---:|---|
//! | [`Backend::Portable`] | 1 | safe Rust, radix 2^51, `u128` products: the serial reference |
//! | [`Backend::Avx2`] | 4 | radix 2^25.5 (10 limbs), `vpmuludq` |
//! | [`Backend::Avx512Ifma`] | 8 | radix 2^52 (5 limbs), `vpmadd52luq` / `vpmadd52huq` |
//!
//! Every backend computes the same bytes: the SIMD paths are tested lane by lane against the
//! portable reference and against aws-lc (`simd/tests/`). Binaries stay portable: nothing is
//! compiled for the build host's CPU; [`Backend::detect`] asks the running CPU once and caches
//! the answer, and [`Backend::from_env`] lets `CANOPY_CRYPTO` force a choice.
//!
//! ```
//! use canopy_simd::{x25519_base_batch, x25519_batch, Backend};
//!
//! # fn main() -> Result<(), canopy_simd::Error> {
//! let backend = Backend::detect();
//! let alice = [[0x11; 32], [0x22; 32], [0x33; 32]];
//! let bob = [[0x44; 32], [0x55; 32], [0x66; 32]];
//! let mut alice_public = [[0; 32]; 3];
//! let mut bob_public = [[0; 32]; 3];
//! x25519_base_batch(backend, &alice, &mut alice_public)?.into_result()?;
//! x25519_base_batch(backend, &bob, &mut bob_public)?.into_result()?;
//!
//! let mut at_alice = [[0; 32]; 3];
//! let mut at_bob = [[0; 32]; 3];
//! x25519_batch(backend, &alice, &bob_public, &mut at_alice)?.into_result()?;
//! x25519_batch(backend, &bob, &alice_public, &mut at_bob)?.into_result()?;
//! assert_eq!(at_alice, at_bob);
//! # Ok(())
//! # }
//! ```
//!
//! An all-zero shared secret (the peer's key is a point of small order) is not an error of
//! the scalar multiplication, but HPKE (RFC 9180 §7.1.4) and so MLS must reject it: every batch
//! call returns the lanes whose output is all zero ([`ZeroLanes`], `#[must_use]`).
//!
//! # Constant time
//!
//! No backend branches on or indexes memory by secret data: the scalar's bits drive masked
//! swaps only, the ladder always runs 255 steps, and the inversion is a fixed addition chain.
//! `simd/tests/constant_time.rs` checks this statistically (fixed against random scalars).

// # Internal documentation
//
// `portable` is the reference (safe code). `backend::avx512ifma` and `backend::avx2` hold every
// `unsafe` block of the crate: the `#[target_feature]` ladders, and the safe wrappers that check
// the CPU before calling them. This file splits a batch into calls of up to `GROUP` registers,
// whose inversions the backend shares, and pads the last register to full width (the padding
// lanes are computed and discarded).

#![deny(unsafe_op_in_unsafe_fn)]

use std::fmt;
use std::sync::OnceLock;

use zeroize::Zeroize;

mod backend;
mod ed25519;
mod portable;
mod sha512;

pub use ed25519::{ed25519_double_base_batch, ed25519_key_bytes_ok, DoubleBaseInput};
pub use sha512::{sha512_batch, SHA512_LEN};

/// Bytes of an X25519 scalar, u-coordinate or shared secret.
pub const X25519_LEN: usize = 32;

/// The u-coordinate of the base point (RFC 7748 §4.1): 9.
pub const BASE_POINT: [u8; X25519_LEN] = {
    let mut u = [0u8; X25519_LEN];
    u[0] = 9;
    u
};

/// The name of the environment variable read by [`Backend::from_env`].
pub const BACKEND_ENV: &str = "CANOPY_CRYPTO";

/// The name of a testing aid: backends listed in it (`avx2`, `avx512`, comma-separated) are
/// treated as absent from the CPU, as on a host without them. Read once, at the first
/// detection; it can only take backends away. `CANOPY_SIMD_HIDE=avx2,avx512 cargo test -p
/// canopy-simd` runs the suite as a host without SIMD would.
pub const HIDE_ENV: &str = "CANOPY_SIMD_HIDE";

/// An implementation of the X25519 lanes.
///
/// Variants are listed from the most portable to the widest, not alphabetically: the order is
/// the preference of [`Backend::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// One scalar multiplication at a time in safe Rust; runs everywhere.
    Portable,
    /// Four lanes in 256-bit AVX2 registers (x86-64 with AVX2).
    Avx2,
    /// Eight lanes in 512-bit registers with the AVX-512 IFMA multiply-add (x86-64 with
    /// AVX512F and AVX512IFMA).
    Avx512Ifma,
}

impl Backend {
    /// Every backend, in order of preference from the least to the most.
    pub const ALL: [Backend; 3] = [Backend::Portable, Backend::Avx2, Backend::Avx512Ifma];

    /// The best backend this CPU runs. Detected once per process and cached.
    pub fn detect() -> Backend {
        static DETECTED: OnceLock<Backend> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            Backend::ALL
                .into_iter()
                .rev()
                .find(|b| b.is_available())
                .unwrap_or(Backend::Portable)
        })
    }

    /// The backends this CPU runs, [`Backend::Portable`] first.
    pub fn available() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }

    /// Whether this CPU runs the backend (cached CPU feature detection).
    pub fn is_available(self) -> bool {
        match self {
            Backend::Portable => true,
            Backend::Avx2 => backend::host().avx2,
            Backend::Avx512Ifma => backend::host().avx512ifma,
        }
    }

    /// The backend chosen by `CANOPY_CRYPTO` (`auto`, `portable`, `avx2` or `avx512`); unset or
    /// empty means `auto`, which is [`Backend::detect`]. See [`Backend::from_choice`] for the
    /// errors.
    pub fn from_env() -> Result<Backend, Error> {
        match std::env::var(BACKEND_ENV) {
            Ok(value) => Backend::from_choice(&value),
            Err(std::env::VarError::NotPresent) => Ok(Backend::detect()),
            Err(std::env::VarError::NotUnicode(raw)) => Err(Error::UnknownBackend {
                value: raw.to_string_lossy().into_owned(),
            }),
        }
    }

    /// Parse a choice as `CANOPY_CRYPTO` spells it: `auto` (or empty), `portable`, `avx2` or
    /// `avx512`, case-insensitive. A backend this CPU does not run is
    /// [`Error::Unavailable`] (naming the backend and the host's features), never a silent
    /// fallback; anything else is [`Error::UnknownBackend`].
    pub fn from_choice(value: &str) -> Result<Backend, Error> {
        let chosen = match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => return Ok(Backend::detect()),
            "portable" => Backend::Portable,
            "avx2" => Backend::Avx2,
            "avx512" | "avx512ifma" => Backend::Avx512Ifma,
            _ => {
                return Err(Error::UnknownBackend {
                    value: value.to_owned(),
                })
            }
        };
        chosen.require()?;
        Ok(chosen)
    }

    /// The number of scalar multiplications one register holds: 1, 4 or 8.
    pub fn lanes(self) -> usize {
        match self {
            Backend::Portable => 1,
            Backend::Avx2 => 4,
            Backend::Avx512Ifma => 8,
        }
    }

    /// The name `CANOPY_CRYPTO` uses for the backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Avx2 => "avx2",
            Backend::Avx512Ifma => "avx512",
        }
    }

    fn require(self) -> Result<(), Error> {
        if self.is_available() {
            Ok(())
        } else {
            Err(Error::Unavailable {
                backend: self,
                features: host_features(),
            })
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The CPU features the backends look for, as this host reports them: for example
/// `"x86_64: avx2 avx512f avx512ifma"`, or `"aarch64: (no x86 SIMD)"`.
pub fn host_features() -> String {
    backend::host().describe()
}

/// Errors of the batch functions and of the backend choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `CANOPY_CRYPTO` (or [`Backend::from_choice`]) named no backend.
    #[error("CANOPY_CRYPTO={value:?}: expected one of auto, portable, avx2, avx512")]
    UnknownBackend {
        /// The value given.
        value: String,
    },
    /// The backend needs CPU features this host lacks.
    #[error("the {backend} X25519 backend does not run on this host (CPU features: {features})")]
    Unavailable {
        /// The backend asked for.
        backend: Backend,
        /// What the host has ([`host_features`]).
        features: String,
    },
    /// The scalars, points and outputs of a batch differ in number.
    #[error("X25519 batch: {scalars} scalars, {points} points and {outputs} outputs")]
    LengthMismatch {
        /// Number of scalars.
        scalars: usize,
        /// Number of points (equal to `scalars` for the fixed-base batch).
        points: usize,
        /// Number of output slots.
        outputs: usize,
    },
    /// Lanes whose shared secret is all zero ([`ZeroLanes::into_result`]).
    #[error("X25519: all-zero shared secret in lanes {lanes:?} (RFC 9180 §7.1.4 rejects it)")]
    ZeroSharedSecret {
        /// Positions in the batch, ascending.
        lanes: Vec<usize>,
    },
}

/// The lanes of a batch whose output is all zero: the peer's u-coordinate was a small-order
/// point (or the output is otherwise the identity). HPKE and MLS must reject those lanes.
#[must_use = "an all-zero shared secret must be rejected (RFC 9180 §7.1.4)"]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZeroLanes {
    lanes: Vec<usize>,
}

impl ZeroLanes {
    /// No lane of the batch produced an all-zero output.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Whether lane `lane` produced an all-zero output.
    pub fn contains(&self, lane: usize) -> bool {
        self.lanes.binary_search(&lane).is_ok()
    }

    /// The all-zero lanes, ascending.
    pub fn lanes(&self) -> &[usize] {
        &self.lanes
    }

    /// `Ok` when no lane is all zero, otherwise [`Error::ZeroSharedSecret`] naming the lanes.
    pub fn into_result(self) -> Result<(), Error> {
        if self.lanes.is_empty() {
            Ok(())
        } else {
            Err(Error::ZeroSharedSecret { lanes: self.lanes })
        }
    }
}

/// X25519 (RFC 7748 §5) in every lane: `out[i] = X25519(scalars[i], points[i])`.
///
/// Scalars are clamped here and the top bit of each u-coordinate is ignored, as RFC 7748
/// requires; any batch length works (full registers, then a padded tail). The outputs are
/// written whatever they are; the lanes whose output is all zero are returned and must be
/// rejected by protocols that require contributory behaviour (HPKE, MLS).
///
/// Errors: [`Error::LengthMismatch`] if the three slices differ in length,
/// [`Error::Unavailable`] if this CPU does not run `backend`.
pub fn x25519_batch(
    backend: Backend,
    scalars: &[[u8; X25519_LEN]],
    points: &[[u8; X25519_LEN]],
    out: &mut [[u8; X25519_LEN]],
) -> Result<ZeroLanes, Error> {
    if scalars.len() != points.len() || scalars.len() != out.len() {
        return Err(Error::LengthMismatch {
            scalars: scalars.len(),
            points: points.len(),
            outputs: out.len(),
        });
    }
    backend.require()?;
    match backend {
        Backend::Portable => {
            for ((k, u), o) in scalars.iter().zip(points).zip(out.iter_mut()) {
                *o = portable::x25519(k, u);
            }
        }
        Backend::Avx2 => run_lanes::<4>(backend, scalars, Some(points), out, backend::avx2_lanes)?,
        Backend::Avx512Ifma => run_lanes::<8>(
            backend,
            scalars,
            Some(points),
            out,
            backend::avx512ifma_lanes,
        )?,
    }
    Ok(zero_lanes(out))
}

/// Fixed-base X25519 in every lane: `out[i] = X25519(scalars[i], 9)`, the public key of each
/// scalar (RFC 7748 §6.1). Same contract as [`x25519_batch`].
///
/// [`Backend::Avx512Ifma`] computes `[k]B` on the Edwards form with a precomputed comb (32
/// rows of eight multiples of the base point, built once per process by the serial
/// arithmetic) and maps it to u = (1 + y)/(1 − y): about a quarter of the ladder's field
/// multiplications, constant time like the ladder. The other backends run their ladder with
/// u = 9, which is what the lanes are tested against.
pub fn x25519_base_batch(
    backend: Backend,
    scalars: &[[u8; X25519_LEN]],
    out: &mut [[u8; X25519_LEN]],
) -> Result<ZeroLanes, Error> {
    if scalars.len() != out.len() {
        return Err(Error::LengthMismatch {
            scalars: scalars.len(),
            points: scalars.len(),
            outputs: out.len(),
        });
    }
    if backend == Backend::Avx512Ifma {
        backend.require()?;
        // The comb has the base point built in: no points to pass.
        run_lanes::<8>(backend, scalars, None, out, |k, _, o| {
            backend::avx512ifma_base_lanes(k, ed25519::comb(), o)
        })?;
        return Ok(zero_lanes(out));
    }
    let points = vec![BASE_POINT; scalars.len()];
    x25519_batch(backend, scalars, &points, out)
}

/// Registers per call into a backend (eight lanes each on AVX-512 IFMA, four on AVX2): their
/// final inversions share one exponentiation ([`invert_batch`]), which a register alone spends
/// on its lanes. With eight registers a register's share of the inversion falls from about a
/// tenth of a ladder to about 1.5%, and from a third of the fixed-base comb to about 6%; the
/// arrays they need stay a few KiB on the stack.
const GROUP: usize = 8;

/// Up to [`GROUP`] registers' worth of lanes: `out[r][l]` for `scalars[r][l]` and
/// `points[r][l]`, the three slices equally long. `None` means the CPU lacks the features
/// (checked again by the backend's safe wrapper, whatever the caller believed).
type LanesFn<const N: usize> = fn(
    &[[[u8; X25519_LEN]; N]],
    &[[[u8; X25519_LEN]; N]],
    &mut [[[u8; X25519_LEN]; N]],
) -> Option<()>;

/// `points` is `None` where `lanes` has its point built in (the fixed-base comb): the lanes
/// then get zero points, which they do not read. Otherwise it is as long as `scalars`.
fn run_lanes<const N: usize>(
    backend: Backend,
    scalars: &[[u8; X25519_LEN]],
    points: Option<&[[u8; X25519_LEN]]>,
    out: &mut [[u8; X25519_LEN]],
    lanes: LanesFn<N>,
) -> Result<(), Error> {
    let unavailable = || Error::Unavailable {
        backend,
        features: host_features(),
    };
    let per_call = N * GROUP;
    for (call, (k, o)) in scalars
        .chunks(per_call)
        .zip(out.chunks_mut(per_call))
        .enumerate()
    {
        // The last register is padded with zero scalars and points: computed, then discarded.
        let registers = k.len().div_ceil(N);
        let mut kk = [[[0u8; X25519_LEN]; N]; GROUP];
        let mut uu = [[[0u8; X25519_LEN]; N]; GROUP];
        let mut rr = [[[0u8; X25519_LEN]; N]; GROUP];
        for (i, scalar) in k.iter().enumerate() {
            kk[i / N][i % N] = *scalar;
        }
        if let Some(points) = points {
            let start = call * per_call;
            for (i, point) in points[start..start + k.len()].iter().enumerate() {
                uu[i / N][i % N] = *point;
            }
        }
        let result = lanes(&kk[..registers], &uu[..registers], &mut rr[..registers]);
        // The padded scalars are secret, and so are a Diffie-Hellman's outputs.
        kk.zeroize();
        if result.is_none() {
            return Err(unavailable());
        }
        for (i, o) in o.iter_mut().enumerate() {
            *o = rr[i / N][i % N];
        }
        rr.zeroize();
    }
    Ok(())
}

fn zero_lanes(out: &[[u8; X25519_LEN]]) -> ZeroLanes {
    // Whether an output is zero is public: the protocol aborts on it.
    let lanes = out
        .iter()
        .enumerate()
        .filter(|(_, o)| o.iter().fold(0u8, |acc, b| acc | b) == 0)
        .map(|(i, _)| i)
        .collect();
    ZeroLanes { lanes }
}

/// RFC 7748 §5 `decodeScalar25519`: clear the three low bits and the top bit, set bit 254.
fn clamp(scalar: &[u8; X25519_LEN]) -> [u8; X25519_LEN] {
    let mut k = *scalar;
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    k
}

/// The 256 bits of `bytes` as four little-endian 64-bit words.
fn words(bytes: &[u8; X25519_LEN]) -> [u64; 4] {
    let mut w = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        w[i] = u64::from_le_bytes(b);
        // A scalar's bytes when `bytes` is one.
        b.zeroize();
    }
    w
}

/// The four words of the clamped `scalar` (RFC 7748 §5), with the clamped copy wiped.
fn clamped_words(scalar: &[u8; X25519_LEN]) -> [u64; 4] {
    let mut k = clamp(scalar);
    let w = words(&k);
    k.zeroize();
    w
}

/// The u-coordinate's words with bit 255 cleared (RFC 7748 §5 `decodeUCoordinate`).
fn u_words(u: &[u8; X25519_LEN]) -> [u64; 4] {
    let mut w = words(u);
    w[3] &= (1 << 63) - 1;
    w
}

/// Bits `offset .. offset + width` of a 256-bit little-endian number (`width` ≤ 64; offsets
/// are constants of a radix, never secrets).
fn bit_field(w: &[u64; 4], offset: usize, width: usize) -> u64 {
    let (i, s) = (offset / 64, offset % 64);
    let mut v = w[i] >> s;
    if s != 0 && i + 1 < 4 {
        v |= w[i + 1] << (64 - s);
    }
    if width == 64 {
        v
    } else {
        v & ((1u64 << width) - 1)
    }
}

/// Four little-endian 64-bit words as 32 bytes.
fn bytes_of_words(w: &[u64; 4]) -> [u8; X25519_LEN] {
    let mut out = [0u8; X25519_LEN];
    for (chunk, word) in out.chunks_exact_mut(8).zip(w) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// z^(p − 2) = 1/z by Fermat's little theorem, with the addition chain of the curve25519
/// reference code (254 squarings, 11 multiplications): the same sequence of operations for
/// every input. `$mul(a, b)` multiplies, `$sqn(a, n)` squares n ≥ 1 times.
macro_rules! invert_chain {
    ($z:expr, $mul:expr, $sqn:expr) => {{
        let z = $z;
        let z2 = $sqn(z, 1); // 2
        let z9 = $mul($sqn(z2, 2), z); // 9
        let z11 = $mul(z9, z2); // 11
        let z_5_0 = $mul($sqn(z11, 1), z9); // 2^5 - 1
        let z_10_0 = $mul($sqn(z_5_0, 5), z_5_0); // 2^10 - 1
        let z_20_0 = $mul($sqn(z_10_0, 10), z_10_0); // 2^20 - 1
        let z_40_0 = $mul($sqn(z_20_0, 20), z_20_0); // 2^40 - 1
        let z_50_0 = $mul($sqn(z_40_0, 10), z_10_0); // 2^50 - 1
        let z_100_0 = $mul($sqn(z_50_0, 50), z_50_0); // 2^100 - 1
        let z_200_0 = $mul($sqn(z_100_0, 100), z_100_0); // 2^200 - 1
        let z_250_0 = $mul($sqn(z_200_0, 50), z_50_0); // 2^250 - 1
        $mul($sqn(z_250_0, 5), z11) // 2^255 - 21 = p - 2
    }};
}
pub(crate) use invert_chain;

/// Montgomery's trick ("Speeding the Pollard and elliptic curve methods of factorization",
/// Mathematics of Computation, 1987), lane by lane across registers: every element of the
/// slice `$zs` (at most `$max` of them) is replaced by its inverse with one inversion chain
/// and 3n multiplications, where n separate inversions would take n chains. An element that is zero
/// in a lane (an X25519 output at a small-order point) stays zero there, as the chain gives
/// 1/0 = 0, and does not spoil the other elements' inverses in that lane: such lanes enter the
/// products as 1. Constant time: the zero lanes are found and replaced by masks, and every
/// element takes the same operations.
///
/// `$one` and `$zero` are the constants, `$is_zero(z)` the mask of the lanes where z ≡ 0,
/// `$select(mask, a, b)` b in the masked lanes and a elsewhere, `$mul` and `$invert` the
/// field's; outputs are in the form `$mul` returns.
macro_rules! invert_batch {
    ($zs:expr, $max:expr, $one:expr, $zero:expr, $is_zero:expr, $select:expr, $mul:expr, $invert:expr) => {{
        let zs = $zs;
        let one = $one;
        // prefix[i] = z_0 · … · z_(i−1), with the zero lanes as 1.
        let mut prefix = [one; $max];
        let mut zero_at = [$is_zero(one); $max];
        let mut run = one;
        for (i, z) in zs.iter_mut().enumerate() {
            zero_at[i] = $is_zero(*z);
            *z = $select(zero_at[i], *z, one);
            prefix[i] = run;
            run = $mul(run, *z);
        }
        // 1/(z_0 · … · z_(i)) as i falls.
        let mut inverse = $invert(run);
        for (i, z) in zs.iter_mut().enumerate().rev() {
            let z_inverse = $mul(inverse, prefix[i]);
            inverse = $mul(inverse, *z);
            *z = $select(zero_at[i], z_inverse, $zero);
        }
    }};
}
// Only the SIMD backends use it.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]
pub(crate) use invert_batch;

/// `a24` of RFC 7748 §5 for curve25519: (486662 − 2) / 4.
const A24: u64 = 121_665;

/// Or `value` into a 256-bit little-endian number at bit `offset` (constant offsets of a radix;
/// bits beyond 256 are dropped).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the SIMD backends use it
fn put_bits(w: &mut [u64; 4], offset: usize, value: u64) {
    let (i, s) = (offset / 64, offset % 64);
    w[i] |= value << s;
    if s != 0 && i + 1 < 4 {
        w[i + 1] |= value >> (64 - s);
    }
}
