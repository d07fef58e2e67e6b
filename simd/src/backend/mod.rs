//! The SIMD backends, one module per instruction set, and the CPU feature detection that gates
//! them. These two modules are the only place in the workspace where `unsafe` is allowed: a
//! `#[target_feature]` function may only be called once the CPU is known to have the feature,
//! which the safe wrappers here check (BLAKE3's `platform.rs` and curve25519-dalek's
//! `backend/vector/` are organised the same way).

use std::sync::OnceLock;

use crate::X25519_LEN;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512ifma;

/// What this CPU offers the backends, detected once.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) avx2: bool,
    pub(crate) avx512f: bool,
    /// AVX512F and AVX512IFMA together: the AVX-512 backend needs both.
    pub(crate) avx512ifma: bool,
    /// What `CANOPY_SIMD_HIDE` hid, as it was spelled.
    hidden: Vec<String>,
}

impl Host {
    pub(crate) fn describe(&self) -> String {
        if !cfg!(target_arch = "x86_64") {
            return format!("{}: (no x86 SIMD)", std::env::consts::ARCH);
        }
        let mut found = Vec::new();
        for (name, has) in [
            ("avx2", self.avx2),
            ("avx512f", self.avx512f),
            ("avx512ifma", self.avx512ifma),
        ] {
            if has {
                found.push(name);
            }
        }
        if found.is_empty() {
            found.push("no AVX2 or AVX-512");
        }
        let mut text = format!("{}: {}", std::env::consts::ARCH, found.join(" "));
        if !self.hidden.is_empty() {
            text.push_str(&format!(
                " (hidden by {}={})",
                crate::HIDE_ENV,
                self.hidden.join(",")
            ));
        }
        text
    }
}

/// The host's features, detected on first use and cached for the process.
pub(crate) fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(detect)
}

/// Which backends `CANOPY_SIMD_HIDE` hides: (avx2, avx512, the names as given). Unknown
/// names hide nothing and are listed as given, so a typo shows in [`Host::describe`].
fn hidden() -> (bool, bool, Vec<String>) {
    let value = std::env::var(crate::HIDE_ENV).unwrap_or_default();
    let names: Vec<String> = value
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let avx2 = names.iter().any(|n| n == "avx2");
    let avx512 = names.iter().any(|n| n == "avx512" || n == "avx512ifma");
    (avx2, avx512, names)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Host {
    let (hide_avx2, hide_avx512, hidden) = hidden();
    let avx512f = !hide_avx512 && std::arch::is_x86_feature_detected!("avx512f");
    Host {
        avx2: !hide_avx2 && std::arch::is_x86_feature_detected!("avx2"),
        avx512f,
        avx512ifma: avx512f && std::arch::is_x86_feature_detected!("avx512ifma"),
        hidden,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Host {
    Host {
        avx2: false,
        avx512f: false,
        avx512ifma: false,
        hidden: hidden().2,
    }
}

/// X25519 in registers of four lanes with AVX2 (`out[r][l]` for `scalars[r][l]` and
/// `points[r][l]`, at most [`crate::GROUP`] registers), or `None` when the CPU lacks AVX2.
pub(crate) fn avx2_lanes(
    scalars: &[[[u8; X25519_LEN]; 4]],
    points: &[[[u8; X25519_LEN]; 4]],
    out: &mut [[[u8; X25519_LEN]; 4]],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        avx2::x25519_lanes(scalars, points, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (scalars, points, out);
        None
    }
}

/// X25519 in registers of eight lanes with AVX-512 IFMA (as [`avx2_lanes`]), or `None` when
/// the CPU lacks AVX512F or AVX512IFMA.
pub(crate) fn avx512ifma_lanes(
    scalars: &[[[u8; X25519_LEN]; 8]],
    points: &[[[u8; X25519_LEN]; 8]],
    out: &mut [[[u8; X25519_LEN]; 8]],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        avx512ifma::x25519_lanes(scalars, points, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (scalars, points, out);
        None
    }
}

/// Fixed-base X25519 in registers of eight lanes with AVX-512 IFMA (a comb on the Edwards
/// form; at most [`crate::GROUP`] registers), or `None` when the CPU lacks AVX512F or
/// AVX512IFMA.
pub(crate) fn avx512ifma_base_lanes(
    scalars: &[[[u8; X25519_LEN]; 8]],
    comb: &crate::ed25519::Comb,
    out: &mut [[[u8; X25519_LEN]; 8]],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        avx512ifma::x25519_base_lanes(scalars, comb, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (scalars, comb, out);
        None
    }
}

/// Ed25519 double-base lanes in registers of eight with AVX-512 IFMA (at most
/// [`crate::GROUP`] registers), or `None` when the CPU lacks AVX512F or AVX512IFMA.
pub(crate) fn avx512ifma_double_base(
    inputs: &[[crate::ed25519::DoubleBaseInput; 8]],
    tables: &crate::ed25519::Tables,
    out: &mut [[Option<[u8; X25519_LEN]>; 8]],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        avx512ifma::double_base_lanes(inputs, tables, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (inputs, tables, out);
        None
    }
}

/// SHA-512 of up to eight messages in the lanes of AVX-512 registers (each message the
/// concatenation of its parts), or `None` when the CPU lacks AVX512F or AVX512IFMA.
pub(crate) fn avx512_sha512(
    messages: &[&[&[u8]]],
    out: &mut [[u8; crate::sha512::SHA512_LEN]],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        avx512ifma::sha512_lanes(messages, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (messages, out);
        None
    }
}
