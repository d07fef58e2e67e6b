//! RFC 9420 wire codec: every MLS wire struct (RFC 9420 §§5–12) in the TLS presentation
//! language with MLS variable-length vector headers (§2.1.2), built on `tls_codec`.
//!
//! Decoding always goes through the `std::io::Read` based [`tls_codec::Deserialize`] path:
//! that path enforces the MLS varint rules (minimal encoding, 30-bit maximum, no `0b11`
//! prefix, with the `mls` feature) and never pre-allocates more than 4 KiB from a length
//! header, so a header claiming 1 GiB in front of 10 bytes fails with
//! [`CodecError::Truncated`] after reading those 10 bytes. (The slice based
//! `DeserializeBytes` path of tls_codec 0.5 neither checks the 30-bit limit nor avoids a
//! `debug_assert` on truncated `VLBytes`, so Canopy does not use it.)
//!
//! Use [`encode`] / [`encode_into`] and [`decode`] rather than the raw trait methods: they
//! map errors into the typed [`CodecError`] and [`decode`] rejects trailing bytes.
//!
//! The "to-be-signed" and hash inputs ([`LeafNodeTbs`], [`FramedContentTbs`],
//! [`TreeHashInput`], ...) borrow the structures they cover and only implement
//! [`tls_codec::Serialize`], so signing or hashing never clones a tree node or message.

#[macro_use]
mod macros;
mod big_bytes;
mod framing;
mod primitives;
mod proposals;
#[cfg(test)]
mod tests;
mod tree;
mod welcome;

pub use big_bytes::BigBytes;
pub use framing::*;
pub use primitives::*;
pub use proposals::*;
pub use tree::*;
pub use welcome::*;

pub use tls_codec::{Deserialize, Serialize, Size, VLBytes};

pub use crate::error::CodecError;

/// Fields that can carry an unknown enumerated value; the index is packed into the
/// `tls_codec::Error::UnknownValue` payload so [`CodecError::UnknownValue`] can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Field {
    WireFormat = 1,
    ContentType,
    SenderType,
    ProposalType,
    CredentialType,
    LeafNodeSource,
    NodeType,
    PskType,
    ResumptionPskUsage,
    ProposalOrRefType,
}

const FIELD_NAMES: [&str; 11] = [
    "discriminant",
    "wire_format",
    "content_type",
    "sender_type",
    "proposal_type",
    "credential_type",
    "leaf_node_source",
    "node_type",
    "psktype",
    "resumption_psk_usage",
    "proposal_or_ref_type",
];

/// Marker carried in `tls_codec::Error::DecodingError` for non-zero padding.
const PADDING_MARKER: &str = "canopy: non-zero padding";
/// Prefix carried in `tls_codec::Error::EncodingError` for inconsistent structures.
const INCONSISTENT_PREFIX: &str = "canopy: inconsistent: ";

/// The tls_codec error for an unknown value of `field`.
pub(crate) fn unknown(field: Field, value: u64) -> tls_codec::Error {
    // Enumerated MLS values are at most 16 bits, so the low 32 bits hold the value.
    tls_codec::Error::UnknownValue(((field as u64) << 32) | (value & 0xffff_ffff))
}

/// The tls_codec error for an inconsistent structure at encoding time.
pub(crate) fn inconsistent(what: &'static str) -> tls_codec::Error {
    tls_codec::Error::EncodingError(format!("{INCONSISTENT_PREFIX}{what}"))
}

/// The tls_codec error for non-zero padding.
pub(crate) fn bad_padding() -> tls_codec::Error {
    tls_codec::Error::DecodingError(PADDING_MARKER.to_string())
}

/// Map a tls_codec error from the decoding path.
fn from_decode_error(e: tls_codec::Error) -> CodecError {
    use tls_codec::Error as E;
    match e {
        E::EndOfStream => CodecError::Truncated,
        E::InvalidVectorLength => CodecError::InvalidVarint,
        E::TrailingData => CodecError::TrailingBytes { remaining: 0 },
        E::UnknownValue(v) => {
            let idx = (v >> 32) as usize;
            match FIELD_NAMES.get(idx) {
                Some(&field) if idx != 0 => CodecError::UnknownValue {
                    field,
                    value: v & 0xffff_ffff,
                },
                _ => CodecError::UnknownValue {
                    field: FIELD_NAMES[0],
                    value: v,
                },
            }
        }
        E::DecodingError(s) if s == PADDING_MARKER => CodecError::InvalidPadding,
        other => from_encode_error(other),
    }
}

/// Map a tls_codec error from the encoding path.
pub(crate) fn from_encode_error(e: tls_codec::Error) -> CodecError {
    use tls_codec::Error as E;
    match e {
        E::InvalidVectorLength => CodecError::LengthTooLarge,
        E::EncodingError(s) => match s.strip_prefix(INCONSISTENT_PREFIX) {
            Some(_) => CodecError::Inconsistent(inconsistent_static(&s)),
            None => CodecError::Other(s),
        },
        E::DecodingError(s) | E::InvalidWriteLength(s) => CodecError::Other(s),
        other => CodecError::Other(other.to_string()),
    }
}

/// Recover the `&'static str` of an [`inconsistent`] error.
fn inconsistent_static(s: &str) -> &'static str {
    INCONSISTENT_REASONS
        .iter()
        .copied()
        .find(|r| s.ends_with(r))
        .unwrap_or("structure parts disagree")
}

/// Every reason passed to [`inconsistent`], so the typed error can carry a `&'static str`.
const INCONSISTENT_REASONS: &[&str] = &[
    framing::NO_CONFIRMATION_TAG,
    framing::STRAY_CONFIRMATION_TAG,
    framing::NO_MEMBERSHIP_TAG,
    framing::STRAY_MEMBERSHIP_TAG,
    framing::NO_GROUP_CONTEXT,
    framing::STRAY_GROUP_CONTEXT,
];

/// RFC 9420 §13.4: an extension type appears at most once in an extension list. A list comes
/// from the wire and may be long, so the check sorts the types rather than comparing pairs.
pub fn check_unique_extensions(extensions: &[Extension]) -> Result<(), CodecError> {
    if extensions.len() < 2 {
        return Ok(());
    }
    let mut types: Vec<u16> = extensions.iter().map(|e| e.extension_type.0).collect();
    types.sort_unstable();
    match types.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(CodecError::DuplicateExtension {
            extension_type: w[0],
        }),
        None => Ok(()),
    }
}

/// Serialize `v` into a fresh buffer.
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(v.tls_serialized_len());
    encode_into(v, &mut out)?;
    Ok(out)
}

/// `SignContent { "MLS 1.0 " + label, encode(v) }` (RFC 9420 §5.1.2), with `v` serialized
/// straight into it: the same bytes as `labels::labeled_pair(label, &encode(v)?)` without the
/// intermediate copy of `v`'s encoding, for [`crate::crypto::Provider::sign_labeled`] and
/// [`crate::crypto::Provider::verify_labeled`].
pub fn encode_labeled<T: Serialize>(label: &[u8], v: &T) -> crate::Result<Vec<u8>> {
    let len = v.tls_serialized_len();
    let mut out = crate::crypto::labels::labeled_pair_header(label, len)?;
    let header = out.len();
    encode_into(v, &mut out)?;
    if out.len() - header != len {
        return Err(crate::Error::Internal(
            "tls_serialized_len disagrees with the serialization",
        ));
    }
    Ok(out)
}

/// Serialize `v`, appending to `out`; returns the number of bytes written. On error `out`
/// may hold a partial encoding.
pub fn encode_into<T: Serialize>(v: &T, out: &mut Vec<u8>) -> Result<usize, CodecError> {
    v.tls_serialize(out).map_err(from_encode_error)
}

/// Decode exactly one `T` from `bytes`: trailing bytes are an error
/// ([`CodecError::TrailingBytes`]).
pub fn decode<T: Deserialize>(bytes: &[u8]) -> Result<T, CodecError> {
    let (v, rest) = decode_prefix(bytes)?;
    if rest.is_empty() {
        Ok(v)
    } else {
        Err(CodecError::TrailingBytes {
            remaining: rest.len(),
        })
    }
}

/// Decode one `T` from the front of `bytes`, returning it and the unread rest.
pub fn decode_prefix<T: Deserialize>(bytes: &[u8]) -> Result<(T, &[u8]), CodecError> {
    let _hint = big_bytes::InputLenHint::set(bytes.len());
    let mut rest = bytes;
    let v = T::tls_deserialize(&mut rest).map_err(from_decode_error)?;
    Ok((v, rest))
}

/// Decode all of `bytes` as a `T<V>` vector (RFC 9420 §2.1.2), handing each element to `each`
/// as soon as it is decoded instead of collecting them: the elements, their order and the
/// errors are those of `decode::<Vec<T>>(bytes)` (this is its loop, over the same reader),
/// but only one element is alive at a time. For vectors too large to hold decoded, like a
/// 50,000-member `ratchet_tree`.
pub fn decode_vec_each<T: Deserialize>(
    bytes: &[u8],
    mut each: impl FnMut(T),
) -> Result<(), CodecError> {
    decode_vec_each_with_bytes(bytes, |element, _| each(element))
}

/// [`decode_vec_each`], handing each element over with the bytes it was decoded from.
pub fn decode_vec_each_with_bytes<T: Deserialize>(
    bytes: &[u8],
    mut each: impl FnMut(T, &[u8]),
) -> Result<(), CodecError> {
    let _hint = big_bytes::InputLenHint::set(bytes.len());
    let mut rest = bytes;
    let (length, _) = tls_codec::vlen::read_length(&mut rest).map_err(from_decode_error)?;
    let body = bytes.len() - rest.len();
    let mut sub = std::io::Read::take(&mut rest, length as u64);
    while sub.limit() > 0 {
        let before = sub.limit();
        let element = T::tls_deserialize(&mut sub).map_err(from_decode_error)?;
        // As the codec's vectors do: an element that reads nothing would loop forever.
        if sub.limit() == before {
            return Err(from_decode_error(tls_codec::Error::DecodingError(
                "Vector element consumed 0 bytes; refusing to loop".into(),
            )));
        }
        // The element's bytes: those the reader consumed for it, within the vector's body.
        let (start, end) = (length as u64 - before, length as u64 - sub.limit());
        each(element, &bytes[body + start as usize..body + end as usize]);
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(CodecError::TrailingBytes {
            remaining: rest.len(),
        })
    }
}

/// Decode an RFC 9420 §2.1.2 variable-length vector header from the front of `bytes`:
/// returns the length it encodes and the header's size (1, 2 or 4 bytes).
pub fn decode_varint_length(bytes: &[u8]) -> Result<(u32, usize), CodecError> {
    let first = *bytes.first().ok_or(CodecError::Truncated)?;
    let prefix = first >> 6;
    if prefix == 3 {
        return Err(CodecError::InvalidVarint);
    }
    let len = 1usize << prefix;
    let head = bytes.get(..len).ok_or(CodecError::Truncated)?;
    let value = head[1..]
        .iter()
        .fold(u32::from(first & 0x3f), |v, b| (v << 8) | u32::from(*b));
    // Minimal encoding: a value that would fit in the next shorter form is malformed.
    if prefix >= 1 && value < (1u32 << (8 * (len / 2) - 2)) {
        return Err(CodecError::InvalidVarint);
    }
    Ok((value, len))
}

/// The encoded length of an RFC 9420 §2.1.2 variable-length vector with `content_len` bytes
/// of content: its header and the content. For sizing a message without building it.
pub fn vl_length(content_len: usize) -> Result<usize, CodecError> {
    let mut header = Vec::with_capacity(4);
    encode_varint_length(content_len, &mut header)?;
    Ok(header.len() + content_len)
}

/// Encode an RFC 9420 §2.1.2 variable-length vector header for `length`.
pub fn encode_varint_length(length: usize, out: &mut Vec<u8>) -> Result<usize, CodecError> {
    tls_codec::vlen::write_length(out, length).map_err(from_encode_error)
}

#[cfg(test)]
mod varint_tests {
    use super::*;

    #[test]
    fn varint_rules() {
        assert_eq!(decode_varint_length(&[0x25]), Ok((37, 1)));
        assert_eq!(decode_varint_length(&[0x7b, 0xbd]), Ok((15293, 2)));
        assert_eq!(
            decode_varint_length(&[0x9d, 0x7f, 0x3e, 0x7d]),
            Ok((494_878_333, 4))
        );
        assert_eq!(
            decode_varint_length(&[0x40, 0x25]),
            Err(CodecError::InvalidVarint)
        );
        assert_eq!(
            decode_varint_length(&[0x80, 0, 0x3f, 0xff]),
            Err(CodecError::InvalidVarint)
        );
        assert_eq!(
            decode_varint_length(&[0xc0, 0, 0, 0, 0, 0, 0, 1]),
            Err(CodecError::InvalidVarint)
        );
        assert_eq!(decode_varint_length(&[0x80, 0]), Err(CodecError::Truncated));
        // tls_codec's vector path agrees.
        assert_eq!(
            decode::<VLBytes>(&[0x40, 0x01, 0xaa]),
            Err(CodecError::InvalidVarint)
        );
        assert_eq!(
            decode::<VLBytes>(&[0xc0, 0, 0, 0, 0, 0, 0, 1, 0xaa]),
            Err(CodecError::InvalidVarint)
        );
        assert_eq!(
            decode::<VLBytes>(&[0xc0, 0, 0, 0, 0x40, 0, 0, 0, 0xaa]),
            Err(CodecError::InvalidVarint)
        );
        let mut out = Vec::new();
        assert_eq!(
            encode_varint_length(1 << 30, &mut out),
            Err(CodecError::LengthTooLarge)
        );
    }

    #[test]
    fn trailing_and_truncated() {
        assert_eq!(
            decode::<VLBytes>(&[0x01, 0xaa, 0xbb]),
            Err(CodecError::TrailingBytes { remaining: 1 })
        );
        assert_eq!(decode::<VLBytes>(&[0x02, 0xaa]), Err(CodecError::Truncated));
        assert_eq!(
            decode::<VLBytes>(&[0xbf, 0xff, 0xff, 0xff, 1, 2]),
            Err(CodecError::Truncated)
        );
    }
}
