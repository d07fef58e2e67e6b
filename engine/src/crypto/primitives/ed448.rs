//! Ed448 (RFC 8032 §5.2, the pure variant with an empty context), the signature scheme
//! `ed448` of MLS suites 4 and 6. The back end is crrl: why in [`super::x448`].
//!
//! Encodings are RFC 8032's: a private key is the 57-byte seed, a public key the 57-byte
//! point encoding, a signature 114 bytes. Verification refuses non-canonical point encodings
//! and `S >= L` (crrl decodes both strictly).

use super::{random_bytes, PrimitiveError};
use crate::crypto::Secret;

const NAME: &str = "Ed448";

/// Bytes of a private key (the seed).
pub const SEED_LEN: usize = 57;
/// Bytes of a public key.
pub const PUBLIC_KEY_LEN: usize = 57;
/// Bytes of a signature.
pub const SIGNATURE_LEN: usize = 114;

/// The parsed key crrl needs to sign, rebuilt from the seed for each signature. crrl has no
/// `zeroize` support, so this parsed key (the secret scalar and the nonce prefix) is dropped
/// without being wiped: a known gap of this back end, which only the seed avoids (it is a
/// [`Secret`] and wiped). aws-lc's Ed25519 and ECDSA keys are cleared by aws-lc.
fn private_key(seed: &[u8]) -> Result<crrl::ed448::PrivateKey, PrimitiveError> {
    crrl::ed448::PrivateKey::decode(seed).ok_or(PrimitiveError::InvalidPrivateKey(NAME))
}

/// A fresh key pair: `(seed, public key)`.
pub fn generate() -> Result<(Secret, Vec<u8>), PrimitiveError> {
    let seed = Secret::new(random_bytes(SEED_LEN, NAME)?);
    let pk = public_key(seed.as_bytes())?;
    Ok((seed, pk))
}

/// The public key of a seed.
pub fn public_key(seed: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    Ok(private_key(seed)?.public_key.encode().to_vec())
}

/// Sign `msg`.
pub fn sign(seed: &[u8], msg: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    Ok(private_key(seed)?.sign_raw(msg).to_vec())
}

/// Verify `sig` over `msg`.
pub fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), PrimitiveError> {
    if pk.len() != PUBLIC_KEY_LEN {
        return Err(PrimitiveError::InvalidPublicKey(NAME));
    }
    let pk = crrl::ed448::PublicKey::decode(pk).ok_or(PrimitiveError::InvalidPublicKey(NAME))?;
    if sig.len() != SIGNATURE_LEN || !pk.verify_raw(sig, msg) {
        return Err(PrimitiveError::InvalidSignature(NAME));
    }
    Ok(())
}
