//! The labelled structures of RFC 9420 §5.1 and §8 (`KDFLabel`, `SignContent`,
//! `EncryptContext`, `RefHashInput`), serialized in the TLS presentation language with
//! RFC 9420 §2.1.2 variable-length vector headers.
//!
//! These few structures are encoded here, not in the codec, so the crypto provider depends on
//! nothing else in the engine.

use super::CryptoError;

/// The prefix RFC 9420 §5.1.2, §5.1.3 and §8 put in front of every label.
pub const MLS_LABEL_PREFIX: &[u8] = b"MLS 1.0 ";

/// Largest length a variable-length vector header can express (RFC 9420 §2.1.2: 30 bits).
const MAX_VARINT: usize = (1 << 30) - 1;

/// Append the RFC 9420 §2.1.2 variable-length header for a vector of `len` bytes.
fn put_varint(out: &mut Vec<u8>, len: usize) -> Result<(), CryptoError> {
    if len < 1 << 6 {
        // Invariant: len < 64, so it fits the 6 usable bits of a 1-byte header.
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&(0x4000 | len as u16).to_be_bytes());
    } else if len <= MAX_VARINT {
        out.extend_from_slice(&(0x8000_0000 | len as u32).to_be_bytes());
    } else {
        return Err(CryptoError::InvalidLength(
            "vector longer than 2^30 - 1 bytes",
        ));
    }
    Ok(())
}

/// Append `opaque v<V>` whose contents are the concatenation of `parts`.
fn put_vector(out: &mut Vec<u8>, parts: &[&[u8]]) -> Result<(), CryptoError> {
    let len = parts.iter().map(|p| p.len()).sum();
    put_varint(out, len)?;
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(())
}

/// `struct { opaque label<V> = "MLS 1.0 " + label; opaque second<V>; }`: the shape shared by
/// `SignContent` (§5.1.2) and `EncryptContext` (§5.1.3).
pub fn labeled_pair(label: &[u8], second: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(MLS_LABEL_PREFIX.len() + label.len() + second.len() + 8);
    put_vector(&mut out, &[MLS_LABEL_PREFIX, label])?;
    put_vector(&mut out, &[second])?;
    Ok(out)
}

/// The front of [`labeled_pair`] for a `second` of `second_len` bytes: the label vector and
/// the header of the second vector, in a buffer with room for `second_len` more bytes. Append
/// exactly `second_len` bytes to get `labeled_pair(label, second)` without building `second`
/// in a buffer of its own first: the GroupInfo signed for a Welcome with the ratchet tree is
/// ~12.7 MB at 50,000 members, and copying it once more costs a fresh 12.7 MB and its page
/// faults on every signature and verification.
pub fn labeled_pair_header(label: &[u8], second_len: usize) -> Result<Vec<u8>, CryptoError> {
    header_with_room(label, second_len, second_len)
}

/// [`labeled_pair_header`] in a buffer of its own size, for a `second` that is not appended
/// to it (hashed as it is written, [`super::Provider::labeled_verification`]).
pub(crate) fn labeled_header(label: &[u8], second_len: usize) -> Result<Vec<u8>, CryptoError> {
    header_with_room(label, second_len, 0)
}

/// The label vector and the header of a second vector of `second_len` bytes, with room for
/// `room` more bytes.
fn header_with_room(label: &[u8], second_len: usize, room: usize) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(MLS_LABEL_PREFIX.len() + label.len() + room + 8);
    put_vector(&mut out, &[MLS_LABEL_PREFIX, label])?;
    put_varint(&mut out, second_len)?;
    Ok(out)
}

/// `KDFLabel` (RFC 9420 §8): `uint16 length; opaque label<V> = "MLS 1.0 " + label;
/// opaque context<V>`.
pub fn kdf_label(label: &[u8], context: &[u8], length: u16) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(2 + MLS_LABEL_PREFIX.len() + label.len() + context.len() + 8);
    out.extend_from_slice(&length.to_be_bytes());
    put_vector(&mut out, &[MLS_LABEL_PREFIX, label])?;
    put_vector(&mut out, &[context])?;
    Ok(out)
}

/// `RefHashInput` (RFC 9420 §5.2): `opaque label<V>; opaque value<V>`. The label is used as
/// given: callers pass the full label, e.g. `"MLS 1.0 KeyPackage Reference"`.
pub fn ref_hash_input(label: &[u8], value: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(label.len() + value.len() + 8);
    put_vector(&mut out, &[label])?;
    put_vector(&mut out, &[value])?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_then_second_is_the_labeled_pair() {
        for len in [0usize, 1, 63, 64, 16_383, 16_384, 100_000] {
            let second: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut built = labeled_pair_header(b"GroupInfoTBS", len).unwrap();
            built.extend_from_slice(&second);
            assert_eq!(
                built,
                labeled_pair(b"GroupInfoTBS", &second).unwrap(),
                "len {len}"
            );
        }
    }

    #[test]
    fn varint_boundaries() {
        let enc = |n| {
            let mut v = Vec::new();
            put_varint(&mut v, n).map(|()| v)
        };
        assert_eq!(enc(0), Ok(vec![0x00]));
        assert_eq!(enc(63), Ok(vec![0x3f]));
        assert_eq!(enc(64), Ok(vec![0x40, 0x40]));
        assert_eq!(enc(16383), Ok(vec![0x7f, 0xff]));
        assert_eq!(enc(16384), Ok(vec![0x80, 0x00, 0x40, 0x00]));
        assert_eq!(enc(MAX_VARINT), Ok(vec![0xbf, 0xff, 0xff, 0xff]));
        assert!(enc(MAX_VARINT + 1).is_err());
    }

    #[test]
    fn kdf_label_layout() {
        let got = kdf_label(b"key", &[0xaa], 16).unwrap();
        let mut want = vec![0x00, 0x10, 11];
        want.extend_from_slice(b"MLS 1.0 key");
        want.extend_from_slice(&[0x01, 0xaa]);
        assert_eq!(got, want);
    }
}
