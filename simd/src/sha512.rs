//! SHA-512 (FIPS 180-4 §6.4) of many messages at once: [`sha512_batch`]. Ed25519 verification
//! hashes `R ‖ A ‖ M` for every signature, and a batch of verifications (a joined tree's 50,001
//! leaves, a bulk add's KeyPackages) hashes as many short messages, each two or three blocks.
//! One message's blocks form a chain, but eight messages are eight independent chains: on
//! AVX-512 they run in the eight 64-bit lanes of a register, SHA-512's words being 64 bits.
//!
//! This module is the portable reference (one message at a time, plain safe Rust) and the
//! batching around the lanes: each message is given as parts that are hashed as if
//! concatenated (`R`, `A` and `M` without copying `M` behind the other two), and each lane gets
//! its own padded blocks; a lane whose message has fewer blocks than its neighbours' keeps its
//! state while they finish. Everything hashed here is public (signatures, keys, messages).

use crate::backend;
use crate::{host_features, Backend, Error};

/// Bytes of a SHA-512 digest.
pub const SHA512_LEN: usize = 64;

/// Bytes of a SHA-512 block.
pub(crate) const BLOCK: usize = 128;

/// The initial hash value H(0) (FIPS 180-4 §5.3.5).
pub(crate) const H0: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// The round constants K (FIPS 180-4 §4.2.3).
pub(crate) const K: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

/// `out[i]` = SHA-512 of the concatenation of `messages[i]`'s parts. Any batch length works; on
/// [`Backend::Avx512Ifma`] eight messages run at once (AVX512F is all it uses), on the other
/// backends one at a time (the portable reference).
///
/// Errors: [`Error::LengthMismatch`] if `messages` and `out` differ in length,
/// [`Error::Unavailable`] if this CPU does not run `backend`.
pub fn sha512_batch(
    backend: Backend,
    messages: &[&[&[u8]]],
    out: &mut [[u8; SHA512_LEN]],
) -> Result<(), Error> {
    if messages.len() != out.len() {
        return Err(Error::LengthMismatch {
            scalars: messages.len(),
            points: messages.len(),
            outputs: out.len(),
        });
    }
    backend.require()?;
    match backend {
        Backend::Portable | Backend::Avx2 => {
            for (m, o) in messages.iter().zip(out.iter_mut()) {
                *o = sha512(m);
            }
        }
        Backend::Avx512Ifma => {
            for (m, o) in messages.chunks(8).zip(out.chunks_mut(8)) {
                backend::avx512_sha512(m, o).ok_or_else(|| Error::Unavailable {
                    backend,
                    features: host_features(),
                })?;
            }
        }
    }
    Ok(())
}

/// The total length of a message's parts.
pub(crate) fn message_len(parts: &[&[u8]]) -> usize {
    parts.iter().map(|p| p.len()).sum()
}

/// The number of padded blocks of a message of `len` bytes: the message, the byte 0x80 and the
/// 16-byte length (FIPS 180-4 §5.1.2).
pub(crate) fn blocks(len: usize) -> usize {
    (len + 17).div_ceil(BLOCK)
}

/// Padded block `b` of the message made of `parts` (of `len` bytes in all), as 16 big-endian
/// words: the message's bytes `128·b ..`, then 0x80, zeros and the length in bits.
pub(crate) fn block_words(parts: &[&[u8]], len: usize, b: usize) -> [u64; 16] {
    let mut block = [0u8; BLOCK];
    let start = b * BLOCK;
    // The message's bytes in this block, part by part.
    let mut offset = 0;
    for part in parts {
        let (lo, hi) = (offset, offset + part.len());
        let from = lo.max(start);
        let to = hi.min(start + BLOCK);
        if from < to {
            block[from - start..to - start].copy_from_slice(&part[from - lo..to - lo]);
        }
        offset = hi;
    }
    if (start..start + BLOCK).contains(&len) {
        block[len - start] = 0x80;
    }
    if b + 1 == blocks(len) {
        // Lengths here are far below 2^64 bytes: the high half of the 128-bit length is zero.
        block[BLOCK - 8..].copy_from_slice(&((len as u64) << 3).to_be_bytes());
    }
    let mut words = [0u64; 16];
    for (w, chunk) in words.iter_mut().zip(block.chunks_exact(8)) {
        let mut b8 = [0u8; 8];
        b8.copy_from_slice(chunk);
        *w = u64::from_be_bytes(b8);
    }
    words
}

/// SHA-512 of the concatenation of `parts`, one block at a time: the reference.
pub(crate) fn sha512(parts: &[&[u8]]) -> [u8; SHA512_LEN] {
    let len = message_len(parts);
    let mut h = H0;
    for b in 0..blocks(len) {
        compress(&mut h, &block_words(parts, len, b));
    }
    let mut out = [0u8; SHA512_LEN];
    for (o, w) in out.chunks_exact_mut(8).zip(h) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// The compression function (FIPS 180-4 §6.4.2) on one block.
fn compress(h: &mut [u64; 8], block: &[u64; 16]) {
    let mut w = [0u64; 80];
    w[..16].copy_from_slice(block);
    for t in 16..80 {
        let s0 = w[t - 15].rotate_right(1) ^ w[t - 15].rotate_right(8) ^ (w[t - 15] >> 7);
        let s1 = w[t - 2].rotate_right(19) ^ w[t - 2].rotate_right(61) ^ (w[t - 2] >> 6);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for t in 0..80 {
        let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        hh = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *x = x.wrapping_add(y);
    }
}
