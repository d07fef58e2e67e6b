//! [`BigBytes`]: an `opaque <V>` field that can be megabytes long.
//!
//! tls_codec decodes a `VLBytes` through `io::Read` without trusting the length prefix: it
//! allocates 4 KiB and lets `read_to_end` double the buffer as bytes arrive. That is the right
//! default for small fields, but the two fields that carry the ratchet tree (a Welcome's
//! `encrypted_group_info` and a GroupInfo's `ratchet_tree` extension data) are ~12.7 MB at
//! 50,000 members, and there the doubling costs a dozen reallocations, ~2× the bytes copied and
//! fresh pages each time: ~0.1–0.2 s of a 50k join in profiles, mostly the kernel zeroing pages.
//!
//! [`BigBytes`] decodes the same bytes with the same errors, but sizes its buffer in one step:
//! `min(length prefix, input length)`, where the input length is that of the enclosing
//! [`super::decode_prefix`] call (a thread-local hint, set for the duration of the call). A
//! field can never be longer than the input it is decoded from, so a hostile length prefix
//! still cannot make the decoder reserve more than the message's own size; outside
//! `decode_prefix` the hint is absent and the buffer starts at 4 KiB as in tls_codec.

use std::cell::Cell;
use std::io::{Read, Write};

use tls_codec::{Deserialize, Error, Serialize, Size, VLBytes};

/// Initial capacity without a hint (tls_codec's own cap).
const NO_HINT_PREALLOC: usize = 4096;

thread_local! {
    static INPUT_LEN: Cell<usize> = const { Cell::new(0) };
}

/// Sets the input-length hint for the current thread until dropped, then restores the
/// previous value (decodes nest: a decoder may decode a sub-slice).
pub(super) struct InputLenHint(usize);

impl InputLenHint {
    pub(super) fn set(len: usize) -> Self {
        InputLenHint(INPUT_LEN.with(|c| c.replace(len)))
    }
}

impl Drop for InputLenHint {
    fn drop(&mut self) {
        INPUT_LEN.with(|c| c.set(self.0));
    }
}

/// `opaque data<V>` (RFC 9420 §2.1.2), encoded exactly like [`VLBytes`], decoded into a buffer
/// sized once: `min(length prefix, input length)`, where the input length is that of the
/// enclosing [`super::decode_prefix`] call. tls_codec's `VLBytes` starts at 4 KiB and doubles,
/// which for the 12.7 MB fields that carry a 50,000-member tree means a dozen reallocations and
/// fresh pages each time. Same bytes and errors as `VLBytes`; a hostile length prefix still
/// cannot make the decoder reserve more than the message's own size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigBytes(VLBytes);

impl Default for BigBytes {
    fn default() -> Self {
        BigBytes(VLBytes::new(Vec::new()))
    }
}

impl BigBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl From<Vec<u8>> for BigBytes {
    fn from(v: Vec<u8>) -> Self {
        BigBytes(v.into())
    }
}

impl From<VLBytes> for BigBytes {
    fn from(v: VLBytes) -> Self {
        BigBytes(v)
    }
}

impl From<BigBytes> for Vec<u8> {
    fn from(v: BigBytes) -> Self {
        v.0.into()
    }
}

impl Size for BigBytes {
    fn tls_serialized_len(&self) -> usize {
        self.0.tls_serialized_len()
    }
}

impl Serialize for BigBytes {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        self.0.tls_serialize(writer)
    }
}

impl Deserialize for BigBytes {
    fn tls_deserialize<R: Read>(bytes: &mut R) -> Result<Self, Error> {
        // The same length decoding (and errors) as `VLBytes`.
        let (len, _) = tls_codec::vlen::read_length(bytes)?;
        if len == 0 {
            return Ok(BigBytes::default());
        }
        if len > isize::MAX as usize {
            return Err(Error::InvalidVectorLength);
        }
        let hint = INPUT_LEN.with(Cell::get);
        let capacity = if hint == 0 {
            len.min(NO_HINT_PREALLOC)
        } else {
            len.min(hint)
        };
        let mut data = Vec::with_capacity(capacity);
        bytes.take(len as u64).read_to_end(&mut data)?;
        if data.len() != len {
            return Err(Error::EndOfStream);
        }
        Ok(data.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(bytes: &[u8]) -> (Result<Vec<u8>, String>, Result<Vec<u8>, String>) {
        let big = super::super::decode::<BigBytes>(bytes)
            .map(Vec::from)
            .map_err(|e| e.to_string());
        let vl = super::super::decode::<VLBytes>(bytes)
            .map(Vec::from)
            .map_err(|e| e.to_string());
        (big, vl)
    }

    /// Same bytes, same errors as `VLBytes`, on valid encodings at every header size and on
    /// truncated, over-long and malformed ones.
    #[test]
    fn decodes_like_vlbytes() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for len in [0usize, 1, 63, 64, 16_383, 16_384, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
            let enc = super::super::encode(&VLBytes::new(data)).unwrap();
            assert_eq!(
                super::super::encode(&BigBytes::from(enc[..].to_vec()))
                    .unwrap()
                    .len(),
                enc.len()
                    + if enc.len() < 64 {
                        1
                    } else if enc.len() < 16_384 {
                        2
                    } else {
                        4
                    }
            );
            cases.push(enc.clone());
            cases.push(enc[..enc.len() / 2].to_vec()); // truncated
            let mut long = enc.clone();
            long.push(0); // trailing byte
            cases.push(long);
        }
        cases.push(vec![]);
        cases.push(vec![0xc0, 0, 0, 1]); // invalid varint prefix
        cases.push(vec![0x40, 0x01, 0xaa]); // non-minimal length
        cases.push(vec![0x80, 0x10, 0, 0, 1, 2]); // claims 1 MiB, has 2 bytes
        for case in &cases {
            let (big, vl) = both(case);
            assert_eq!(big, vl, "input {:02x?}", &case[..case.len().min(8)]);
        }
    }

    #[test]
    fn capacity_is_bounded_by_the_input() {
        // A 6-byte input claiming 1 MiB reserves at most 6 bytes and fails like VLBytes.
        let bytes = [0x80, 0x10, 0, 0, 1, 2];
        let _hint = InputLenHint::set(bytes.len());
        let mut r = &bytes[..];
        assert!(matches!(
            BigBytes::tls_deserialize(&mut r),
            Err(Error::EndOfStream)
        ));
    }

    #[test]
    fn hint_nests_and_restores() {
        let outer = InputLenHint::set(100);
        {
            let _inner = InputLenHint::set(7);
            assert_eq!(INPUT_LEN.with(Cell::get), 7);
        }
        assert_eq!(INPUT_LEN.with(Cell::get), 100);
        drop(outer);
        assert_eq!(INPUT_LEN.with(Cell::get), 0);
    }
}
