//! ECDH on the NIST curves P-256, P-384 and P-521, as DHKEM(P-256, HKDF-SHA256),
//! DHKEM(P-384, HKDF-SHA384) and DHKEM(P-521, HKDF-SHA512) use it (RFC 9180 §4.1, §7.1) for
//! MLS suites 2, 7 and 5.
//!
//! Encodings are those of RFC 9180 §7.1.1 (which MLS's HPKE keys use): a public key is the
//! uncompressed SEC1 point `0x04 || x || y` and nothing else (no compressed points, no
//! SubjectPublicKeyInfo); a private key is the big-endian scalar of exactly the field's byte
//! length; the shared secret is the x-coordinate, of that same length. aws-lc checks that a
//! peer's point is on the curve before multiplying (the invalid-curve attacks of Wycheproof).

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};

use super::PrimitiveError;
use crate::crypto::Secret;

/// A NIST curve used by the MLS suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256 (secp256r1), suite 2.
    P256,
    /// P-384 (secp384r1), suite 7.
    P384,
    /// P-521 (secp521r1), suite 5.
    P521,
}

impl Curve {
    /// The name errors carry.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "ECDH P-256",
            Curve::P384 => "ECDH P-384",
            Curve::P521 => "ECDH P-521",
        }
    }

    /// Bytes of a scalar, of a coordinate and of the shared secret (`Nsk` and `Ndh` of
    /// RFC 9180 §7.1).
    pub fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Bytes of an uncompressed public key (`Npk`): `1 + 2 * scalar_len`.
    pub fn public_key_len(self) -> usize {
        1 + 2 * self.scalar_len()
    }

    fn algorithm(self) -> &'static agreement::Algorithm {
        match self {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
            Curve::P521 => &agreement::ECDH_P521,
        }
    }
}

/// Refuse anything but an uncompressed SEC1 point of the curve's length. The point itself
/// (on the curve, not the identity) is checked by aws-lc when it is used.
pub fn check_public_key_encoding(curve: Curve, pk: &[u8]) -> Result<(), PrimitiveError> {
    if pk.len() != curve.public_key_len() || pk.first() != Some(&0x04) {
        return Err(PrimitiveError::InvalidPublicKey(curve.name()));
    }
    Ok(())
}

fn private_key(curve: Curve, sk: &[u8]) -> Result<agreement::PrivateKey, PrimitiveError> {
    if sk.len() != curve.scalar_len() {
        return Err(PrimitiveError::InvalidPrivateKey(curve.name()));
    }
    // aws-lc refuses zero and scalars not below the group order.
    agreement::PrivateKey::from_private_key(curve.algorithm(), sk)
        .map_err(|_| PrimitiveError::InvalidPrivateKey(curve.name()))
}

fn public_of(curve: Curve, sk: &agreement::PrivateKey) -> Result<Vec<u8>, PrimitiveError> {
    let pk = sk
        .compute_public_key()
        .map_err(|_| PrimitiveError::Backend(curve.name()))?;
    Ok(pk.as_ref().to_vec())
}

/// A fresh key pair: `(private scalar, uncompressed public key)`.
pub fn generate(curve: Curve) -> Result<(Secret, Vec<u8>), PrimitiveError> {
    let sk = agreement::PrivateKey::generate(curve.algorithm())
        .map_err(|_| PrimitiveError::Backend(curve.name()))?;
    let pk = public_of(curve, &sk)?;
    let scalar: EcPrivateKeyBin<'_> = sk
        .as_be_bytes()
        .map_err(|_| PrimitiveError::Backend(curve.name()))?;
    Ok((Secret::from_slice(scalar.as_ref()), pk))
}

/// The uncompressed public key of a private scalar.
pub fn public_key(curve: Curve, sk: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    public_of(curve, &private_key(curve, sk)?)
}

/// `DH(sk, pk)`: the x-coordinate of `sk * pk`. Fails for a private key out of range, a
/// public key not in uncompressed form, or a point not on the curve.
pub fn dh(curve: Curve, sk: &[u8], pk: &[u8]) -> Result<Secret, PrimitiveError> {
    check_public_key_encoding(curve, pk)?;
    let sk = private_key(curve, sk)?;
    let peer = agreement::UnparsedPublicKey::new(curve.algorithm(), pk);
    agreement::agree(
        &sk,
        peer,
        PrimitiveError::InvalidPublicKey(curve.name()),
        |shared| Ok(Secret::from_slice(shared)),
    )
}
