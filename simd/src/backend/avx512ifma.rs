//! Eight X25519 lanes with AVX-512 IFMA: one Montgomery ladder per 64-bit lane of a 512-bit
//! register.
//!
//! # Internal documentation
//!
//! A field element is five `__m512i`, limb `i` of all eight lanes in register `i`, in radix
//! 2^52: value = Σ limb[i] · 2^(52·i). Products use `vpmadd52luq` / `vpmadd52huq`, which multiply
//! the low 52 bits of two lanes and add the low (resp. high) 52 bits of the 104-bit product to
//! a 64-bit accumulator. That is the representation of Intel's multi-buffer X25519
//! (ipp-crypto `crypto_mb/src/x25519/ifma_x25519.c`, eight lanes, 2^260 ≡ 608, a column above
//! 52 bits folded in two parts); this module follows the idea, not the code, and the bounds
//! below are its own (it also folds the top column's high half, which that code assumes small).
//!
//! Five limbs span 2^260 = 2^5 · 2^255 ≡ 32 · 19 = 608 (mod p), so a product column k ≥ 5 comes
//! back at column k − 5 times 608, and bits at or above 2^255 (bit 47 of limb 4) come back at
//! bit 0 times 19.
//!
//! The multiplier reads only 52 bits of each operand, so **every limb fed to a multiplication
//! must be below 2^52**. Three forms keep track of the bounds (lanes are independent, so every
//! bound holds per lane):
//!
//! | form | limbs 0..3 | limb 4 | produced by |
//! |---|---|---|---|
//! | R (reduced) | < 2^52 | < 2^47 + 2^16 | `reduce`, `carry`, `mul`, `sqr`, `add`, `sub`, decoding |
//! | U (unreduced product) | < 2^55 + 2^16 | < 2^47 + 2^15 | `mul_u`, `sqr_u` |
//! | W (small multiple) | < 2^52 + 2^23 | < 2^52 + 2^17 | `mul_a24` |
//!
//! Multiplications take R; `add` and `sub` take R or U (or W for `add`) and return R. So the
//! carries are lazy where the bounds allow: a product that only feeds an addition or a
//! subtraction (DA, CB, the new x2, z2, x3 and z3 of a ladder step) skips its carry chain, and
//! the addition's carry does the work once.

use core::arch::x86_64::*;

use zeroize::Zeroize;

use crate::{bit_field, bytes_of_words, clamped_words, put_bits, u_words, A24, X25519_LEN};

mod ed25519;
mod sha512;
pub(super) use ed25519::{double_base_lanes, x25519_base_lanes};
pub(super) use sha512::sha512_lanes;

const LANES: usize = 8;
const MASK52: u64 = (1 << 52) - 1;
const MASK47: u64 = (1 << 47) - 1;

/// 32p = 2^260 − 608 in radix 2^52 with every limb at least the U bound, so a − b + 32p has no
/// negative limb for any R or U operand b: limb 0 is 2^56 − 608, limbs 1..3 are 2^56 − 16,
/// limb 4 is 2^52 − 16. (2^56 − 608 + (2^56 − 16)(2^52 + 2^104 + 2^156) + (2^52 − 16) 2^208
/// telescopes to 2^260 − 608.)
const THIRTY_TWO_P: [u64; 5] = [
    (1 << 56) - 608,
    (1 << 56) - 16,
    (1 << 56) - 16,
    (1 << 56) - 16,
    (1 << 52) - 16,
];

/// Eight field elements, one per lane.
#[derive(Clone, Copy)]
struct Fe([__m512i; 5]);

/// X25519 in registers of eight lanes (`out[r][l]` for `scalars[r][l]` and `points[r][l]`, at
/// most [`crate::GROUP`] registers), or `None` when the CPU lacks AVX512F or AVX512IFMA.
pub(super) fn x25519_lanes(
    scalars: &[[[u8; X25519_LEN]; LANES]],
    points: &[[[u8; X25519_LEN]; LANES]],
    out: &mut [[[u8; X25519_LEN]; LANES]],
) -> Option<()> {
    if !super::host().avx512ifma {
        return None;
    }
    // SAFETY: `ladders` needs AVX512F and AVX512IFMA, and `host()` has just reported both
    // (`is_x86_feature_detected!`, cached). It touches no memory but its arguments.
    unsafe { ladders(scalars, points, out) };
    Some(())
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64) // a bit pattern, not a number: the cast keeps every bit
}

/// One register from eight lane values (lane 0 first).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn gather(v: [u64; LANES]) -> __m512i {
    // Bit patterns: the casts keep every bit.
    _mm512_set_epi64(
        v[7] as i64,
        v[6] as i64,
        v[5] as i64,
        v[4] as i64,
        v[3] as i64,
        v[2] as i64,
        v[1] as i64,
        v[0] as i64,
    )
}

/// The eight lane values of a register (lane 0 first).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn scatter(v: __m512i) -> [u64; LANES] {
    let lo = _mm512_extracti64x4_epi64::<0>(v);
    let hi = _mm512_extracti64x4_epi64::<1>(v);
    // Bit patterns: the casts keep every bit.
    [
        _mm256_extract_epi64::<0>(lo) as u64,
        _mm256_extract_epi64::<1>(lo) as u64,
        _mm256_extract_epi64::<2>(lo) as u64,
        _mm256_extract_epi64::<3>(lo) as u64,
        _mm256_extract_epi64::<0>(hi) as u64,
        _mm256_extract_epi64::<1>(hi) as u64,
        _mm256_extract_epi64::<2>(hi) as u64,
        _mm256_extract_epi64::<3>(hi) as u64,
    ]
}

/// acc + low 52 bits of (a mod 2^52)·(b mod 2^52).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn madd_lo(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    _mm512_madd52lo_epu64(acc, a, b)
}

/// acc + high 52 bits of (a mod 2^52)·(b mod 2^52).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn madd_hi(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    _mm512_madd52hi_epu64(acc, a, b)
}

impl Fe {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn constant(x: u64) -> Fe {
        let z = _mm512_setzero_si512();
        Fe([splat(x), z, z, z, z])
    }

    /// Limb arrays per lane (lane-major) into registers (limb-major).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn from_limbs(limbs: &[[u64; 5]; LANES]) -> Fe {
        let mut r = [_mm512_setzero_si512(); 5];
        for (i, ri) in r.iter_mut().enumerate() {
            let mut v = [0u64; LANES];
            for (vl, l) in v.iter_mut().zip(limbs) {
                *vl = l[i];
            }
            *ri = gather(v);
        }
        Fe(r)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn to_limbs(self) -> [[u64; 5]; LANES] {
        let mut out = [[0u64; 5]; LANES];
        for (i, r) in self.0.iter().enumerate() {
            for (o, v) in out.iter_mut().zip(scatter(*r)) {
                o[i] = v;
            }
        }
        out
    }

    /// Carry limbs 0 → 1 → 2 → 3 → 4. From U or W (limb 3 < 2^56, so the last carry is below
    /// 2^5 and limb 4 stays under 2^47 + 2^16 when it started under 2^47 + 2^15): gives R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn carry(self) -> Fe {
        let m = splat(MASK52);
        let [mut l0, mut l1, mut l2, mut l3, l4] = self.0;
        l1 = _mm512_add_epi64(l1, _mm512_srli_epi64::<52>(l0));
        l0 = _mm512_and_si512(l0, m);
        l2 = _mm512_add_epi64(l2, _mm512_srli_epi64::<52>(l1));
        l1 = _mm512_and_si512(l1, m);
        l3 = _mm512_add_epi64(l3, _mm512_srli_epi64::<52>(l2));
        l2 = _mm512_and_si512(l2, m);
        let l4 = _mm512_add_epi64(l4, _mm512_srli_epi64::<52>(l3));
        l3 = _mm512_and_si512(l3, m);
        Fe([l0, l1, l2, l3, l4])
    }

    /// Any limbs below 2^58 to R: fold the bits of limb 4 from 2^255 up (< 2^11 of them) into
    /// limb 0 times 19, then carry. Limb 0 is then below 2^58 + 2^16, every carry below 2^7,
    /// and limb 4 ends below 2^47 + 2^7.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn reduce(self) -> Fe {
        let [mut l0, l1, l2, l3, mut l4] = self.0;
        let top = _mm512_srli_epi64::<47>(l4);
        l4 = _mm512_and_si512(l4, splat(MASK47));
        l0 = madd_lo(l0, top, splat(19));
        Fe([l0, l1, l2, l3, l4]).carry()
    }

    /// a + b for a, b in R, U or W (limbs < 2^56.1, sum < 2^58): R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn add(self, b: Fe) -> Fe {
        let mut r = self.0;
        for (ri, bi) in r.iter_mut().zip(b.0) {
            *ri = _mm512_add_epi64(*ri, bi);
        }
        Fe(r).reduce()
    }

    /// a − b + 32p for a, b in R or U: every limb is non-negative because 32p's limbs are at
    /// least U's bounds, and below 2^56 + 2^56.1 < 2^58: R after `reduce`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sub(self, b: Fe) -> Fe {
        let mut r = self.0;
        for ((ri, bi), k) in r.iter_mut().zip(b.0).zip(THIRTY_TWO_P) {
            *ri = _mm512_sub_epi64(_mm512_add_epi64(*ri, splat(k)), bi);
        }
        Fe(r).reduce()
    }

    /// a · b for a, b with every limb below 2^52 (R): U.
    ///
    /// Column k of the 10-column schoolbook product gets the low halves of the a_i·b_j with
    /// i + j = k and the high halves of those with i + j = k − 1: at most 9 terms below 2^52,
    /// so every column is below 9 · 2^52 < 2^55.2 (column 9 below 2^52).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_u(self, b: Fe) -> Fe {
        let z = _mm512_setzero_si512();
        // Low and high halves accumulate apart: two shorter dependency chains per column.
        let mut lo = [z; 10];
        let mut hi = [z; 10];
        for i in 0..5 {
            for j in 0..5 {
                lo[i + j] = madd_lo(lo[i + j], self.0[i], b.0[j]);
                hi[i + j + 1] = madd_hi(hi[i + j + 1], self.0[i], b.0[j]);
            }
        }
        reduce_columns(lo, hi)
    }

    /// a² for a with every limb below 2^52 (R): U. The cross products are computed once and
    /// doubled, so every column has the same bound as in `mul_u`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sqr_u(self) -> Fe {
        let a = self.0;
        let z = _mm512_setzero_si512();
        let mut lo = [z; 10];
        let mut hi = [z; 10];
        for i in 0..5 {
            for j in i + 1..5 {
                lo[i + j] = madd_lo(lo[i + j], a[i], a[j]);
                hi[i + j + 1] = madd_hi(hi[i + j + 1], a[i], a[j]);
            }
        }
        for k in 0..10 {
            lo[k] = _mm512_add_epi64(lo[k], lo[k]);
            hi[k] = _mm512_add_epi64(hi[k], hi[k]);
        }
        for i in 0..5 {
            lo[2 * i] = madd_lo(lo[2 * i], a[i], a[i]);
            hi[2 * i + 1] = madd_hi(hi[2 * i + 1], a[i], a[i]);
        }
        reduce_columns(lo, hi)
    }

    /// a · b in R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul(self, b: Fe) -> Fe {
        self.mul_u(b).carry()
    }

    /// a² in R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sqr(self) -> Fe {
        self.sqr_u().carry()
    }

    /// a squared n times, in R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sqr_n(self, n: u32) -> Fe {
        let mut x = self;
        for _ in 0..n {
            x = x.sqr();
        }
        x
    }

    /// a · a24 for a in R: W. Limb i's product (< 2^52 · 2^17) splits into a low half at
    /// limb i and a high half below 2^17 at limb i + 1; the high half of limb 4's product
    /// (< 2^(47.01 + 17 − 52) = 2^12.1) lands at 2^260 and comes back at limb 0 times 608,
    /// below 2^22.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_a24(self) -> Fe {
        let a = self.0;
        let k = splat(A24);
        let z = _mm512_setzero_si512();
        let mut r = [z; 5];
        for i in 0..5 {
            r[i] = madd_lo(r[i], a[i], k);
        }
        for i in 0..4 {
            r[i + 1] = madd_hi(r[i + 1], a[i], k);
        }
        let top = madd_hi(z, a[4], k);
        r[0] = madd_lo(r[0], top, splat(608));
        Fe(r)
    }

    /// 1/a for a in R (0 for a = 0): R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn invert(self) -> Fe {
        crate::invert_chain!(self, Fe::mul, Fe::sqr_n)
    }

    /// 1/a for every a of `zs` (at most [`crate::GROUP`], each in R; 0 where a ≡ 0), with one
    /// inversion chain ([`crate::invert_batch`]): R.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn invert_batch(zs: &mut [Fe]) {
        crate::invert_batch!(
            zs,
            crate::GROUP,
            Fe::constant(1),
            Fe::constant(0),
            Fe::zero_mask,
            Fe::blend,
            Fe::mul,
            Fe::invert
        );
    }

    /// The lanes where a ≡ 0 (mod p), for a in R.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn zero_mask(self) -> __mmask8 {
        let c = self.canonical();
        let z = _mm512_setzero_si512();
        let mut m: __mmask8 = 0xff;
        for l in c.0 {
            m &= _mm512_cmpeq_epi64_mask(l, z);
        }
        m
    }

    /// `b` in the lanes whose bit of `mask` is set, `a` elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn blend(mask: __mmask8, a: Fe, b: Fe) -> Fe {
        let mut r = a.0;
        for (ri, bi) in r.iter_mut().zip(b.0) {
            *ri = _mm512_mask_blend_epi64(mask, *ri, bi);
        }
        Fe(r)
    }

    /// The lanes as 32 little-endian bytes each, for a canonical element.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn to_bytes(self) -> [[u8; X25519_LEN]; LANES] {
        let mut out = [[0u8; X25519_LEN]; LANES];
        for (o, limbs) in out.iter_mut().zip(self.to_limbs()) {
            let mut w = [0u64; 4];
            for (i, limb) in limbs.iter().enumerate() {
                put_bits(&mut w, 52 * i, *limb);
            }
            *o = bytes_of_words(&w);
        }
        out
    }

    /// The canonical value in [0, p) of each lane of an R element, as limbs below 2^52 (limb 4
    /// below 2^47).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn canonical(self) -> Fe {
        // R: limb 4 < 2^47 + 2^16, so at most one 2^255 to fold. After the fold the value is
        // below 2^255: either nothing was folded (limb 4 < 2^47 and the limbs below 2^52 carry
        // nothing), or limb 4 fell below 2^16 and the carries of +19 cannot reach bit 47.
        let v = self.reduce();
        // v ≥ p exactly when v + 19 ≥ 2^255, i.e. when bit 47 of limb 4 of (v + 19) is set;
        // then v − p = (v + 19) − 2^255.
        let mut w = v.0;
        w[0] = _mm512_add_epi64(w[0], splat(19));
        let w = Fe(w).carry().0;
        let ge_p: __mmask8 = _mm512_test_epi64_mask(w[4], splat(1 << 47));
        let w4 = _mm512_and_si512(w[4], splat(MASK47));
        let w = [w[0], w[1], w[2], w[3], w4];
        let mut r = v.0;
        for (ri, wi) in r.iter_mut().zip(w) {
            *ri = _mm512_mask_blend_epi64(ge_p, *ri, wi);
        }
        Fe(r)
    }
}

/// Columns lo[k] + hi[k] (k = 0..9, each < 2^55.2, column 9 < 2^52) of a product to U.
///
/// 1. Column 9 sits at 2^468 = 2^260 · 2^208 ≡ 608 · 2^208: its product with 608 (< 2^62)
///    goes to column 4 (low half) and column 5 (high half, < 2^10).
/// 2. Limb 4's bits from 2^255 up (column 4 < 10 · 2^52, so fewer than 2^8.4 of them) come
///    back at column 0 times 19 (< 2^13); limb 4 keeps its low 47 bits.
/// 3. Columns 5..8 sit at 2^260 · 2^(52(k−5)). The multiplier sees only c mod 2^52, so each is
///    folded in two parts: (c mod 2^52) · 608 into columns k − 5 (low half) and k − 4 (high
///    half, < 2^10), and (c >> 52) · 608 (< 2^4 · 608 < 2^14, exact) into column k − 4.
///
/// Afterwards: column 0 < 2^52 + 2^52 + 2^13; column 1 < 3 · 2^52 + 2^52 + 2^15;
/// column 2 < 6 · 2^52 + 2^15; column 3 < 8 · 2^52 + 2^15 = 2^55 + 2^15; column 4 < 2^47 + 2^15.
/// That is U.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn reduce_columns(lo: [__m512i; 10], hi: [__m512i; 10]) -> Fe {
    let mut c = [_mm512_setzero_si512(); 10];
    for k in 0..10 {
        c[k] = _mm512_add_epi64(lo[k], hi[k]);
    }
    let k608 = splat(608);
    c[4] = madd_lo(c[4], c[9], k608);
    c[5] = madd_hi(c[5], c[9], k608);
    let top = _mm512_srli_epi64::<47>(c[4]);
    c[4] = _mm512_and_si512(c[4], splat(MASK47));
    c[0] = madd_lo(c[0], top, splat(19));
    for k in 5..9 {
        c[k - 5] = madd_lo(c[k - 5], c[k], k608);
        c[k - 4] = madd_hi(c[k - 4], c[k], k608);
        c[k - 4] = madd_lo(c[k - 4], _mm512_srli_epi64::<52>(c[k]), k608);
    }
    Fe([c[0], c[1], c[2], c[3], c[4]])
}

/// Swap a and b in the lanes whose bit of `swap` is set: mask blends, no branch, no index.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn cswap(a: &mut Fe, b: &mut Fe, swap: __mmask8) {
    for (x, y) in a.0.iter_mut().zip(b.0.iter_mut()) {
        let t = *x;
        *x = _mm512_mask_blend_epi64(swap, *x, *y);
        *y = _mm512_mask_blend_epi64(swap, *y, t);
    }
}

/// RFC 7748 §5 in registers of eight lanes: decode, 255 ladder steps per register, one
/// inversion for all of them ([`Fe::invert_batch`]), encode.
#[target_feature(enable = "avx512f,avx512ifma")]
fn ladders(
    scalars: &[[[u8; X25519_LEN]; LANES]],
    points: &[[[u8; X25519_LEN]; LANES]],
    out: &mut [[[u8; X25519_LEN]; LANES]],
) {
    let n = out.len().min(scalars.len()).min(points.len());
    let mut x = [Fe::constant(0); crate::GROUP];
    let mut z = [Fe::constant(0); crate::GROUP];
    for r in 0..n {
        (x[r], z[r]) = ladder(&scalars[r], &points[r]);
    }
    Fe::invert_batch(&mut z[..n]);
    for r in 0..n {
        out[r] = x[r].mul(z[r]).canonical().to_bytes();
    }
    // The projective outputs are as secret as the shared secrets.
    wipe(&mut x);
    wipe(&mut z);
}

/// Overwrite `fes` with zeros in a way the compiler keeps (as `zeroize` does).
#[target_feature(enable = "avx512f,avx512ifma")]
fn wipe(fes: &mut [Fe]) {
    for fe in fes.iter_mut() {
        // SAFETY: `fe` is a valid, aligned, exclusive reference to an `Fe`.
        unsafe { core::ptr::write_volatile(fe, Fe::constant(0)) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// RFC 7748 §5 in eight lanes: decode and 255 ladder steps; the output u = x/z, as (x, z) in R.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn ladder(scalars: &[[u8; X25519_LEN]; LANES], points: &[[u8; X25519_LEN]; LANES]) -> (Fe, Fe) {
    // Scalar word w of every lane in register w.
    let mut lane_words = [[0u64; 4]; LANES];
    let mut u_limbs = [[0u64; 5]; LANES];
    for l in 0..LANES {
        lane_words[l] = clamped_words(&scalars[l]);
        let u = u_words(&points[l]);
        // R: limbs 0..3 below 2^52, limb 4 below 2^47 (bit 255 is cleared).
        u_limbs[l] = [
            bit_field(&u, 0, 52),
            bit_field(&u, 52, 52),
            bit_field(&u, 104, 52),
            bit_field(&u, 156, 52),
            bit_field(&u, 208, 47),
        ];
    }
    let mut k = [_mm512_setzero_si512(); 4];
    for (w, kw) in k.iter_mut().enumerate() {
        let mut v = [0u64; LANES];
        for (vl, lw) in v.iter_mut().zip(&lane_words) {
            *vl = lw[w];
        }
        *kw = gather(v);
        v.zeroize();
    }
    // The scalars' copies in memory; the registers above hold them until the ladder ends
    // (spills of registers are not wiped, as in aws-lc).
    lane_words.zeroize();

    let x1 = Fe::from_limbs(&u_limbs);
    let mut x2 = Fe::constant(1);
    let mut z2 = Fe::constant(0);
    let mut x3 = x1;
    let mut z3 = Fe::constant(1);
    let mut swap: __mmask8 = 0;
    for t in (0..255usize).rev() {
        // The bit position t is public; the bit's value only ever becomes a mask.
        let bit: __mmask8 = _mm512_test_epi64_mask(k[t / 64], splat(1 << (t % 64)));
        swap ^= bit;
        cswap(&mut x2, &mut x3, swap);
        cswap(&mut z2, &mut z3, swap);
        swap = bit;

        // x2, z2, x3, z3 are R (first step) or U; add and sub return R.
        let a = x2.add(z2);
        let b = x2.sub(z2);
        let c = x3.add(z3);
        let d = x3.sub(z3);
        let aa = a.sqr();
        let bb = b.sqr();
        let da = d.mul_u(a);
        let cb = c.mul_u(b);
        x3 = da.add(cb).sqr_u();
        z3 = x1.mul_u(da.sub(cb).sqr());
        x2 = aa.mul_u(bb);
        let e = aa.sub(bb);
        z2 = e.mul_u(aa.add(e.mul_a24()));
    }
    cswap(&mut x2, &mut x3, swap);
    cswap(&mut z2, &mut z3, swap);

    (x2.carry(), z2.carry())
}

#[cfg(test)]
mod tests {
    //! The field operations at the edges of their documented input bounds, against the portable
    //! reference: the values must agree mod p and the outputs must respect the bounds of the
    //! form each operation promises. Random ladders never get near these edges.

    use super::*;
    use crate::portable;

    const R_MAX: [u64; 5] = [MASK52, MASK52, MASK52, MASK52, (1 << 47) + (1 << 16) - 1];
    const U_MAX: [u64; 5] = [
        (1 << 55) + (1 << 16) - 1,
        (1 << 55) + (1 << 16) - 1,
        (1 << 55) + (1 << 16) - 1,
        (1 << 55) + (1 << 16) - 1,
        (1 << 47) + (1 << 15) - 1,
    ];
    const W_MAX: [u64; 5] = [
        (1 << 52) + (1 << 23) - 1,
        (1 << 52) + (1 << 23) - 1,
        (1 << 52) + (1 << 23) - 1,
        (1 << 52) + (1 << 23) - 1,
        (1 << 52) + (1 << 17) - 1,
    ];
    /// Any limbs the multiplier reads in full.
    const MUL_MAX: [u64; 5] = [MASK52; 5];

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Add,
        Canonical,
        Invert,
        Mul,
        MulA24,
        MulU,
        Reduce,
        SqrU,
        Sub,
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn apply(op: Op, a: &[[u64; 5]; LANES], b: &[[u64; 5]; LANES]) -> [[u64; 5]; LANES] {
        let (x, y) = (Fe::from_limbs(a), Fe::from_limbs(b));
        let r = match op {
            Op::Add => x.add(y),
            Op::Canonical => x.canonical(),
            Op::Invert => x.invert(),
            Op::Mul => x.mul(y),
            Op::MulA24 => x.mul_a24(),
            Op::MulU => x.mul_u(y),
            Op::Reduce => x.reduce(),
            Op::SqrU => x.sqr_u(),
            Op::Sub => x.sub(y),
        };
        r.to_limbs()
    }

    /// `apply` on this CPU, or `None` (printed) when it lacks the features.
    fn run(op: Op, a: &[[u64; 5]; LANES], b: &[[u64; 5]; LANES]) -> Option<[[u64; 5]; LANES]> {
        if !super::super::host().avx512ifma {
            println!(
                "UNTESTED: avx512 field operations (host: {})",
                crate::host_features()
            );
            return None;
        }
        // SAFETY: `apply` needs AVX512F and AVX512IFMA, which `host()` has just reported.
        Some(unsafe { apply(op, a, b) })
    }

    /// Σ limb[i] · 2^(52 i) mod p, through the portable field.
    fn value(limbs: &[u64; 5]) -> portable::Fe {
        let radix = portable::Fe::from_u64(1 << 52);
        let mut acc = portable::Fe::ZERO;
        for &l in limbs.iter().rev() {
            acc = acc.mul(radix).add(portable::Fe::from_u64(l));
        }
        acc
    }

    fn expected(op: Op, a: &[u64; 5], b: &[u64; 5]) -> [u8; 32] {
        let (x, y) = (value(a), value(b));
        match op {
            Op::Add => x.add(y),
            Op::Canonical | Op::Reduce => x,
            Op::Invert => x.invert(),
            Op::Mul | Op::MulU => x.mul(y),
            Op::MulA24 => x.mul_small(A24),
            Op::SqrU => x.square(),
            Op::Sub => x.sub(y),
        }
        .to_bytes()
    }

    fn below(limbs: &[u64; 5], bound: &[u64; 5]) -> bool {
        limbs.iter().zip(bound).all(|(l, b)| l <= b)
    }

    /// Inputs: the given maxima in every limb, then lanes mixing maxima, zeros and random limbs
    /// below the maxima (seeded), `rounds` registers of them.
    fn inputs(max: &[u64; 5], rounds: usize, seed: u64) -> Vec<[[u64; 5]; LANES]> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            // xorshift64*: test inputs only.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let mut out = vec![[*max; LANES]];
        for _ in 0..rounds {
            let mut reg = [[0u64; 5]; LANES];
            for lane in reg.iter_mut() {
                for (l, m) in lane.iter_mut().zip(max) {
                    *l = match next() % 4 {
                        0 => *m,
                        1 => 0,
                        _ => next() % (m + 1),
                    };
                }
            }
            out.push(reg);
        }
        out
    }

    fn check(op: Op, a_max: &[u64; 5], b_max: &[u64; 5], out_max: &[u64; 5]) {
        let a_regs = inputs(a_max, 300, 1);
        let b_regs = inputs(b_max, 300, 2);
        for (a, b) in a_regs.iter().zip(&b_regs) {
            let Some(r) = run(op, a, b) else { return };
            for lane in 0..LANES {
                let what = format!("{op:?}({:x?}, {:x?}) = {:x?}", a[lane], b[lane], r[lane]);
                assert!(
                    below(&r[lane], out_max),
                    "{what}: above the bound {out_max:x?}"
                );
                assert_eq!(
                    value(&r[lane]).to_bytes(),
                    expected(op, &a[lane], &b[lane]),
                    "{what}"
                );
            }
        }
    }

    const R_OUT: [u64; 5] = R_MAX;

    #[test]
    fn products_of_any_52_bit_limbs_are_u_and_correct() {
        check(Op::MulU, &MUL_MAX, &MUL_MAX, &U_MAX);
        check(Op::SqrU, &MUL_MAX, &MUL_MAX, &U_MAX);
        check(Op::Mul, &MUL_MAX, &MUL_MAX, &R_OUT);
    }

    #[test]
    fn sums_and_differences_of_u_and_w_are_r_and_correct() {
        check(Op::Add, &U_MAX, &U_MAX, &R_OUT);
        check(Op::Add, &R_MAX, &W_MAX, &R_OUT);
        check(Op::Sub, &U_MAX, &U_MAX, &R_OUT);
        check(Op::Sub, &R_MAX, &U_MAX, &R_OUT);
        // reduce takes any limbs below 2^58.
        check(Op::Reduce, &[(1 << 58) - 1; 5], &R_MAX, &R_OUT);
    }

    #[test]
    fn a24_multiples_of_r_are_w_and_correct() {
        check(Op::MulA24, &R_MAX, &R_MAX, &W_MAX);
    }

    #[test]
    fn canonical_and_inverse_of_r_are_correct() {
        let canonical_max = [MASK52, MASK52, MASK52, MASK52, MASK47];
        check(Op::Canonical, &R_MAX, &R_MAX, &canonical_max);
        check(Op::Invert, &R_MAX, &R_MAX, &R_OUT);
        // The values right at p: p − 1, p, p + 1, 2^255 − 1 and 2^255 + 2^52.
        let p = [MASK52 - 18, MASK52, MASK52, MASK52, MASK47];
        let near_p = |add: u64, carry4: u64| {
            let mut l = p;
            l[0] += add;
            l[4] += carry4;
            l
        };
        let mut a = [[0u64; 5]; LANES];
        a[0] = near_p(0, 0);
        a[1] = p;
        a[1][0] -= 1;
        a[2] = near_p(1, 0);
        a[3] = [MASK52, MASK52, MASK52, MASK52, MASK47];
        a[4] = [0, 1, 0, 0, 1 << 47];
        a[5] = R_MAX;
        a[6] = [18, 0, 0, 0, 1 << 47]; // 2^255 + 18 = p + 37
        a[7] = [0; 5];
        let Some(r) = run(Op::Canonical, &a, &a) else {
            return;
        };
        for lane in 0..LANES {
            let mut w = [0u64; 4];
            for (i, l) in r[lane].iter().enumerate() {
                put_bits(&mut w, 52 * i, *l);
            }
            assert_eq!(
                bytes_of_words(&w),
                expected(Op::Canonical, &a[lane], &a[lane]),
                "lane {lane}"
            );
        }
    }
}
