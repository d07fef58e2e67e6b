//! Malformed-input robustness of the RFC 9420 codec: truncations, bit flips, trailing bytes
//! and oversized / non-minimal / 8-byte length headers, for every wire type exercised by
//! `messages.json`. Every input must give a typed `CodecError` (or, for bit flips, a value
//! that re-encodes to the flipped bytes), never a panic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use canopy_engine::codec::{
    self, Add, CodecError, Commit, ExternalInit, GroupContextExtensions, GroupSecrets, MlsMessage,
    PreSharedKey, RatchetTree, ReInit, Remove, Update, VLBytes,
};

/// Decode as the named field's type, re-encode.
type RoundTrip = fn(&[u8]) -> Result<Vec<u8>, CodecError>;

fn rt<T: codec::Deserialize + codec::Serialize>(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    let v: T = codec::decode(bytes)?;
    codec::encode(&v)
}

/// messages.json field, decoder, offset of the first vector length header (if any).
const FIELDS: &[(&str, RoundTrip, Option<usize>)] = &[
    ("mls_welcome", rt::<MlsMessage>, Some(6)),
    ("mls_group_info", rt::<MlsMessage>, Some(8)),
    ("mls_key_package", rt::<MlsMessage>, Some(8)),
    ("ratchet_tree", rt::<RatchetTree>, Some(0)),
    ("group_secrets", rt::<GroupSecrets>, Some(0)),
    ("add_proposal", rt::<Add>, Some(4)),
    ("update_proposal", rt::<Update>, Some(0)),
    ("remove_proposal", rt::<Remove>, None),
    ("pre_shared_key_proposal", rt::<PreSharedKey>, None),
    ("re_init_proposal", rt::<ReInit>, Some(0)),
    ("external_init_proposal", rt::<ExternalInit>, Some(0)),
    (
        "group_context_extensions_proposal",
        rt::<GroupContextExtensions>,
        Some(0),
    ),
    ("commit", rt::<Commit>, Some(0)),
    ("public_message_application", rt::<MlsMessage>, Some(4)),
    ("public_message_proposal", rt::<MlsMessage>, Some(4)),
    ("public_message_commit", rt::<MlsMessage>, Some(4)),
    ("private_message", rt::<MlsMessage>, Some(4)),
];

/// Which messages.json cases to mutate.
const CASES: &[usize] = &[0, 1, 2, 299];

fn samples() -> Vec<(&'static str, RoundTrip, Option<usize>, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_vectors/mls/messages.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read messages.json")).expect("json");
    let mut out = Vec::new();
    for &i in CASES {
        for &(name, f, header) in FIELDS {
            let hex = json[i][name].as_str().expect("hex field");
            let bytes = hex::decode(hex).expect("hex");
            assert_eq!(
                f(&bytes).as_deref(),
                Ok(bytes.as_slice()),
                "{name} case {i} round trip"
            );
            out.push((name, f, header, bytes));
        }
    }
    out
}

#[test]
fn truncation_at_every_position() {
    let mut tried = 0usize;
    let mut expected = 0usize;
    for (name, f, _, bytes) in samples() {
        expected += bytes.len();
        for k in 0..bytes.len() {
            tried += 1;
            assert_eq!(
                f(&bytes[..k]),
                Err(CodecError::Truncated),
                "{name} truncated to {k}"
            );
        }
    }
    println!("truncations tried: {tried}");
    assert_eq!(tried, expected);
    assert!(tried > 10_000, "too few truncations: {tried}");
}

#[test]
fn single_bit_flips() {
    let (mut tried, mut rejected) = (0usize, 0usize);
    let mut expected = 0usize;
    for (name, f, _, bytes) in samples() {
        expected += bytes.len() * 8;
        for pos in 0..bytes.len() {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[pos] ^= 1 << bit;
                tried += 1;
                match f(&m) {
                    Err(_) => rejected += 1,
                    Ok(again) => {
                        assert_eq!(again, m, "{name}: flip {pos}.{bit} decoded non-canonically")
                    }
                }
            }
        }
    }
    println!("bit flips tried: {tried}, rejected: {rejected}");
    assert_eq!(tried, expected);
    assert!(rejected > 0 && rejected < tried);
}

#[test]
fn trailing_byte() {
    let mut tried = 0usize;
    for (name, f, _, bytes) in samples() {
        for extra in [0x00u8, 0x01, 0xff] {
            let mut m = bytes.clone();
            m.push(extra);
            tried += 1;
            assert_eq!(
                f(&m),
                Err(CodecError::TrailingBytes { remaining: 1 }),
                "{name}"
            );
        }
    }
    println!("trailing-byte inputs tried: {tried}");
    assert_eq!(tried, CASES.len() * FIELDS.len() * 3);
}

/// Replace the varint header at `at` (of the original size) with `header`.
fn splice_header(bytes: &[u8], at: usize, header: &[u8]) -> Vec<u8> {
    let (_, used) = codec::decode_varint_length(&bytes[at..]).expect("a header at this offset");
    let mut m = bytes[..at].to_vec();
    m.extend_from_slice(header);
    m.extend_from_slice(&bytes[at + used..]);
    m
}

/// Non-minimal encoding of `len` (one size up).
fn non_minimal(len: u32) -> Vec<u8> {
    if len <= 0x3fff {
        let v = 0x8000_0000u32 | len;
        v.to_be_bytes().to_vec()
    } else {
        let v = 0xc000_0000_0000_0000u64 | u64::from(len);
        v.to_be_bytes().to_vec()
    }
}

#[test]
fn bad_length_headers() {
    let mut tried = 0usize;
    let mut expected = 0usize;
    for (name, f, header, bytes) in samples() {
        // Oversized header at the first vector of the structure: claims ~1 GiB.
        if let Some(at) = header {
            expected += 4;
            let (len, _) = codec::decode_varint_length(&bytes[at..]).expect("header");
            let huge = splice_header(&bytes, at, &[0xbf, 0xff, 0xff, 0xff]);
            let big = splice_header(&bytes, at, &[0x80, 0x01, 0x00, 0x00]); // 65536
            let eight = splice_header(&bytes, at, &[0xc0, 0, 0, 0, 0, 0, 0, len as u8]);
            let nonmin = splice_header(&bytes, at, &non_minimal(len));
            tried += 4;
            // The claimed bytes are missing; a vector of structs may fail on the element that
            // runs into the end (e.g. an unknown proposal type), so any typed error will do.
            assert!(f(&huge).is_err(), "{name}: 1 GiB header");
            assert!(f(&big).is_err(), "{name}: 64 KiB header");
            assert_eq!(
                f(&eight),
                Err(CodecError::InvalidVarint),
                "{name}: 0b11 prefix"
            );
            assert_eq!(
                f(&nonmin),
                Err(CodecError::InvalidVarint),
                "{name}: non-minimal"
            );
        }
        // At every position that parses as a header, splice in a 1 GiB claim: Err, or (if the
        // position was not really a header) a canonical value.
        for at in 0..bytes.len() {
            if codec::decode_varint_length(&bytes[at..]).is_err() {
                continue;
            }
            expected += 1;
            let m = splice_header(&bytes, at, &[0xbf, 0xff, 0xff, 0xff]);
            tried += 1;
            if let Ok(again) = f(&m) {
                assert_eq!(
                    again, m,
                    "{name}: 1 GiB header at {at} decoded non-canonically"
                );
            }
        }
    }
    println!("bad length headers tried: {tried}");
    assert_eq!(tried, expected);
    assert!(tried > 5_000, "too few header mutations: {tried}");
}

/// Peak virtual memory of the process in KiB (Linux), if available.
fn vm_peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPeak:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn gigabyte_header_does_not_allocate() {
    // A 4-byte header claiming 2^30 - 1 bytes, followed by 10 bytes.
    let mut input = vec![0xbf, 0xff, 0xff, 0xff];
    input.extend_from_slice(&[0x42; 10]);
    let before = vm_peak_kib();
    let start = Instant::now();
    for _ in 0..100 {
        assert_eq!(codec::decode::<VLBytes>(&input), Err(CodecError::Truncated));
        // Vectors of structs decode elements until the input runs out or an element is bad.
        assert!(codec::decode::<RatchetTree>(&input).is_err());
        assert!(codec::decode::<Commit>(&input).is_err());
        assert!(codec::decode::<GroupContextExtensions>(&input).is_err());
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "400 rejections took {elapsed:?}"
    );
    if let (Some(b), Some(a)) = (before, vm_peak_kib()) {
        // A 1 GiB reservation would raise VmPeak by ~1 GiB; allow for thread arenas.
        assert!(
            a.saturating_sub(b) < 512 * 1024,
            "VmPeak grew from {b} KiB to {a} KiB"
        );
    }
}
