//! SHA-512 of eight messages at once, one per 64-bit lane of a 512-bit register: FIPS 180-4's
//! compression function word for word, with `vprorq` for the rotations and `vpternlogq` for
//! the three-input functions (Ch, Maj, and the three-way XORs of Σ and σ): AVX512F
//! instructions only, though it runs with the backend's AVX512IFMA enabled, whose helpers it
//! shares. Each lane's padded blocks come from [`crate::sha512::block_words`]; a lane whose
//! message has run out of blocks keeps its state (a masked blend) while the others go on.

use core::arch::x86_64::*;

use super::{gather, scatter, splat, LANES};
use crate::sha512::{block_words, blocks, message_len, H0, K, SHA512_LEN};

/// SHA-512 of up to eight messages (each the concatenation of its parts), or `None` when the
/// CPU lacks AVX512F or AVX512IFMA (the backend that runs it needs both).
pub(in crate::backend) fn sha512_lanes(
    messages: &[&[&[u8]]],
    out: &mut [[u8; SHA512_LEN]],
) -> Option<()> {
    if !super::super::host().avx512ifma {
        return None;
    }
    // SAFETY: `hash` needs AVX512F (and AVX512IFMA for the helpers it shares with the field
    // arithmetic), and `host()` has just reported both
    // (`is_x86_feature_detected!`, cached). It touches no memory but its arguments.
    unsafe { hash(messages, out) };
    Some(())
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn hash(messages: &[&[&[u8]]], out: &mut [[u8; SHA512_LEN]]) {
    let n = messages.len().min(out.len()).min(LANES);
    let mut lens = [0usize; LANES];
    let mut counts = [0usize; LANES];
    for l in 0..n {
        lens[l] = message_len(messages[l]);
        counts[l] = blocks(lens[l]);
    }
    let most = counts.iter().copied().max().unwrap_or(0);
    let mut h = [_mm512_setzero_si512(); 8];
    for (hi, v) in h.iter_mut().zip(H0) {
        *hi = splat(v);
    }
    let mut words = [[0u64; LANES]; 16];
    for b in 0..most {
        let mut active: __mmask8 = 0;
        for l in 0..n {
            if b < counts[l] {
                active |= 1 << l;
                for (i, w) in block_words(messages[l], lens[l], b).into_iter().enumerate() {
                    words[i][l] = w;
                }
            }
        }
        let mut w = [_mm512_setzero_si512(); 16];
        for (wi, lanes) in w.iter_mut().zip(&words) {
            *wi = gather(*lanes);
        }
        let next = compress(&h, w);
        for (hi, ni) in h.iter_mut().zip(next) {
            *hi = _mm512_mask_blend_epi64(active, *hi, ni);
        }
    }
    let mut lanes = [[0u64; LANES]; 8];
    for (li, hi) in lanes.iter_mut().zip(h) {
        *li = scatter(hi);
    }
    for (l, o) in out.iter_mut().enumerate().take(n) {
        for (i, chunk) in o.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&lanes[i][l].to_be_bytes());
        }
    }
}

/// a ^ b ^ c.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi64::<0x96>(a, b, c)
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn add(a: __m512i, b: __m512i) -> __m512i {
    _mm512_add_epi64(a, b)
}

/// The compression function on one block per lane: the next state before the masked blend.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn compress(h: &[__m512i; 8], mut w: [__m512i; 16]) -> [__m512i; 8] {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for t in 0..80 {
        let wt = if t < 16 {
            w[t]
        } else {
            // w[t mod 16] holds w[t − 16]; the schedule's other terms are in the ring too.
            let w15 = w[(t - 15) % 16];
            let w2 = w[(t - 2) % 16];
            let s0 = xor3(
                _mm512_ror_epi64::<1>(w15),
                _mm512_ror_epi64::<8>(w15),
                _mm512_srli_epi64::<7>(w15),
            );
            let s1 = xor3(
                _mm512_ror_epi64::<19>(w2),
                _mm512_ror_epi64::<61>(w2),
                _mm512_srli_epi64::<6>(w2),
            );
            let next = add(add(w[t % 16], s0), add(w[(t - 7) % 16], s1));
            w[t % 16] = next;
            next
        };
        let s1 = xor3(
            _mm512_ror_epi64::<14>(e),
            _mm512_ror_epi64::<18>(e),
            _mm512_ror_epi64::<41>(e),
        );
        // Ch(e, f, g) = (e ∧ f) ⊕ (¬e ∧ g): e selects f or g.
        let ch = _mm512_ternarylogic_epi64::<0xca>(e, f, g);
        let t1 = add(add(hh, s1), add(ch, add(splat(K[t]), wt)));
        let s0 = xor3(
            _mm512_ror_epi64::<28>(a),
            _mm512_ror_epi64::<34>(a),
            _mm512_ror_epi64::<39>(a),
        );
        // Maj(a, b, c): the majority of the three bits.
        let maj = _mm512_ternarylogic_epi64::<0xe8>(a, b, c);
        let t2 = add(s0, maj);
        hh = g;
        g = f;
        f = e;
        e = add(d, t1);
        d = c;
        c = b;
        b = a;
        a = add(t1, t2);
    }
    let mut next = *h;
    for (x, y) in next.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *x = add(*x, y);
    }
    next
}
