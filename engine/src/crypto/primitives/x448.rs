//! X448 (RFC 7748 §5), as DHKEM(X448, HKDF-SHA512) uses it (RFC 9180 §4.1, §7.1) for MLS
//! suites 4 and 6.
//!
//! # Why crrl
//!
//! aws-lc has neither X448 nor Ed448, so both come from one pure-Rust crate. The candidates
//! on crates.io:
//!
//! - `crrl` (Thomas Pornin, author of BearSSL): X448 and Ed448 over one constant-time
//!   `GF448` (no secret-dependent branch or memory access, by design and by its
//!   documentation), a stable release, only `sha2`, `sha3` and `rand_core` as dependencies,
//!   and each curve behind its own feature so nothing else is compiled. It presents itself as
//!   a research library whose code "should be fine for production", and it has not been
//!   audited.
//! - `ed448-goldilocks` / `x448` (RustCrypto): maintained by a team, constant-time through
//!   `subtle`, but Ed448 signing exists only in 0.14 pre-releases (the last stable release,
//!   0.9, has none), whose API moves between pre-releases and which pull in the 0.14
//!   `elliptic-curve` stack. Not audited either.
//! - `ed448-rust` and the older `x448` 0.6 (on `ed448-goldilocks` 0.8): unmaintained.
//!
//! crrl is the one stable, constant-time release with both curves and a small dependency
//! set; its output is held to Wycheproof (`x448_test.json`, `ed448_test.json`) here, and the
//! choice is to be revisited once RustCrypto's Ed448 is released stable.
//!
//! Encodings: keys and the shared secret are 56 bytes, little-endian, as in RFC 7748; a
//! public key is any 56 bytes (non-canonical u-coordinates are reduced, as §5 requires).
//! RFC 9180 §7.1.4 requires the all-zero output (a low-order public key) to be rejected.

use super::{all_zero, random_bytes, PrimitiveError};
use zeroize::Zeroizing;

use crate::crypto::Secret;

const NAME: &str = "X448";

/// Bytes of a private key, a public key and the shared secret.
pub const KEY_LEN: usize = 56;

fn array(bytes: &[u8]) -> Option<[u8; KEY_LEN]> {
    bytes.try_into().ok()
}

/// A fresh key pair: `(private key, public key)`.
pub fn generate() -> Result<(Secret, Vec<u8>), PrimitiveError> {
    let sk = Secret::new(random_bytes(KEY_LEN, NAME)?);
    let pk = public_key(sk.as_bytes())?;
    Ok((sk, pk))
}

/// A private key as the fixed-size array crrl takes, wiped when dropped. crrl's own
/// intermediate values (field elements on its stack) are not wiped: it has no `zeroize`
/// support, a known gap of this back end.
fn secret_array(sk: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, PrimitiveError> {
    array(sk)
        .map(Zeroizing::new)
        .ok_or(PrimitiveError::InvalidPrivateKey(NAME))
}

/// The public key of a private key: `X448(sk, 5)`.
pub fn public_key(sk: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    let sk = secret_array(sk)?;
    Ok(crrl::x448::x448_base(&sk).to_vec())
}

/// `DH(sk, pk) = X448(sk, pk)`, refusing the all-zero result.
pub fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, PrimitiveError> {
    let sk = secret_array(sk)?;
    let pk = array(pk).ok_or(PrimitiveError::InvalidPublicKey(NAME))?;
    let shared = Zeroizing::new(crrl::x448::x448(&pk, &sk));
    let shared = Secret::from_slice(&*shared);
    if all_zero(shared.as_bytes()) {
        return Err(PrimitiveError::ZeroSharedSecret(NAME));
    }
    Ok(shared)
}
