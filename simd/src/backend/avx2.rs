//! Four X25519 lanes with AVX2: one Montgomery ladder per 64-bit lane of a 256-bit register.
//!
//! # Internal documentation
//!
//! A field element is ten `__m256i`, limb `i` of all four lanes in register `i`, in radix
//! 2^25.5: limb i sits at bit ⌈25.5·i⌉ (0, 26, 51, 77, …, 230) and holds 26 bits for even i, 25
//! for odd i — the representation of the curve25519 reference code ("ref10") and of
//! curve25519-dalek's AVX2 backend. Products use `vpmuludq`, which multiplies the low 32 bits
//! of each 64-bit lane into a 64-bit product, so **every operand of a multiplication must be
//! below 2^32**, and every column sum below 2^64. The published 4-way AVX2 ladders (Nath and
//! Sarkar, "Efficient 4-way vectorizations of the Montgomery ladder", IEEE TC 2021; Hisil et
//! al. before them) vectorise within one ladder, the multiplications of a step side by side;
//! this module runs one independent ladder per lane instead, which needs no shuffles and suits
//! batches. The bounds below are this module's own.
//!
//! 2^255 ≡ 19 (mod p): a product a_i·b_j with i + j ≥ 10 comes back at column i + j − 10 times
//! 19, and times 2 more when i and j are both odd (both offsets are 25.5·i rounded up by half
//! a bit, so their sum lies one bit above the column's offset). With b's multiples 19·b_j precomputed and a's odd limbs doubled:
//!
//! | form | even limbs | odd limbs | produced by |
//! |---|---|---|---|
//! | T (tight) | < 2^26 | < 2^25 + 2^18 | `carry`, so `mul`, `sqr`, `mul_a24`; decoding |
//! | M (multiplicand) | < 3·2^26 | < 3·2^25 + 2^18 | `add` and `sub` of two T |
//!
//! For M operands, 19·b_j < 2^31.84 and 38·b_odd < 2^31.84 fit the multiplier's 32 bits, and
//! the largest column (column 0, total weight 267 over the pairs) is below 2^62.14: products
//! need no carry before they are summed, and additions and subtractions need no carry at all.
//! So the carries are lazy: only the ten columns of a product (and a24·E) are carried, and
//! every sum or difference of two products feeds the next multiplication directly.

use core::arch::x86_64::*;

use zeroize::Zeroize;

use crate::{bit_field, bytes_of_words, clamped_words, put_bits, u_words, A24, X25519_LEN};

const LANES: usize = 4;
const MASK26: u64 = (1 << 26) - 1;
const MASK25: u64 = (1 << 25) - 1;

/// Bit position of limb i.
const OFFSET: [usize; 10] = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];
/// Bits of limb i.
const WIDTH: [usize; 10] = [26, 25, 26, 25, 26, 25, 26, 25, 26, 25];

/// 2p in radix 2^25.5, added before subtracting a T element so no limb goes negative: limb 0 is
/// 2^27 − 38, the other even limbs 2^27 − 2, the odd limbs 2^26 − 2; each is above T's bound.
const TWO_P: [u64; 10] = [
    (1 << 27) - 38,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
];

/// Four field elements, one per lane.
#[derive(Clone, Copy)]
struct Fe([__m256i; 10]);

/// X25519 in registers of four lanes (`out[r][l]` for `scalars[r][l]` and `points[r][l]`, at
/// most [`crate::GROUP`] registers), or `None` when the CPU lacks AVX2.
pub(super) fn x25519_lanes(
    scalars: &[[[u8; X25519_LEN]; LANES]],
    points: &[[[u8; X25519_LEN]; LANES]],
    out: &mut [[[u8; X25519_LEN]; LANES]],
) -> Option<()> {
    if !super::host().avx2 {
        return None;
    }
    // SAFETY: `ladders` needs AVX2, and `host()` has just reported it
    // (`is_x86_feature_detected!`, cached). It touches no memory but its arguments.
    unsafe { ladders(scalars, points, out) };
    Some(())
}

#[inline]
#[target_feature(enable = "avx2")]
fn splat(x: u64) -> __m256i {
    _mm256_set1_epi64x(x as i64) // a bit pattern, not a number: the cast keeps every bit
}

/// One register from four lane values (lane 0 first).
#[inline]
#[target_feature(enable = "avx2")]
fn gather(v: [u64; LANES]) -> __m256i {
    // Bit patterns: the casts keep every bit.
    _mm256_set_epi64x(v[3] as i64, v[2] as i64, v[1] as i64, v[0] as i64)
}

/// The four lane values of a register (lane 0 first).
#[inline]
#[target_feature(enable = "avx2")]
fn scatter(v: __m256i) -> [u64; LANES] {
    // Bit patterns: the casts keep every bit.
    [
        _mm256_extract_epi64::<0>(v) as u64,
        _mm256_extract_epi64::<1>(v) as u64,
        _mm256_extract_epi64::<2>(v) as u64,
        _mm256_extract_epi64::<3>(v) as u64,
    ]
}

#[inline]
#[target_feature(enable = "avx2")]
fn add64(a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi64(a, b)
}

/// The 64-bit product of the low 32 bits of a and b, per lane.
#[inline]
#[target_feature(enable = "avx2")]
fn mul32(a: __m256i, b: __m256i) -> __m256i {
    _mm256_mul_epu32(a, b)
}

/// 19·c for c < 2^44 (wider than the multiplier's 32 bits): c + 2c + 16c.
#[inline]
#[target_feature(enable = "avx2")]
fn times19(c: __m256i) -> __m256i {
    add64(
        add64(c, _mm256_slli_epi64::<1>(c)),
        _mm256_slli_epi64::<4>(c),
    )
}

/// Move the bits of limb i above its width into limb i + 1.
#[inline]
#[target_feature(enable = "avx2")]
fn carry_step(h: &mut [__m256i; 10], i: usize) {
    let (c, m) = if i.is_multiple_of(2) {
        (_mm256_srli_epi64::<26>(h[i]), MASK26)
    } else {
        (_mm256_srli_epi64::<25>(h[i]), MASK25)
    };
    h[i + 1] = add64(h[i + 1], c);
    h[i] = _mm256_and_si256(h[i], splat(m));
}

impl Fe {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn constant(x: u64) -> Fe {
        let z = _mm256_setzero_si256();
        let mut r = [z; 10];
        r[0] = splat(x);
        Fe(r)
    }

    /// Limb arrays per lane (lane-major) into registers (limb-major).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn from_limbs(limbs: &[[u64; 10]; LANES]) -> Fe {
        let mut r = [_mm256_setzero_si256(); 10];
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
    #[target_feature(enable = "avx2")]
    fn to_limbs(self) -> [[u64; 10]; LANES] {
        let mut out = [[0u64; 10]; LANES];
        for (i, r) in self.0.iter().enumerate() {
            for (o, v) in out.iter_mut().zip(scatter(*r)) {
                o[i] = v;
            }
        }
        out
    }

    /// Columns below 2^63.5 to T. Two interleaved chains (0 → 5 and 4 → 9, as in ref10), then
    /// limb 9's excess (< 2^38.5) comes back at limb 0 times 19 (< 2^43) and limb 0 carries once
    /// more (< 2^17 into limb 1). Limb 5 ends below 2^25 + 2^14 (limb 4 carried twice), limb 1
    /// below 2^25 + 2^17, every other limb within its width: T.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn carry(self) -> Fe {
        let mut h = self.0;
        carry_step(&mut h, 0);
        carry_step(&mut h, 4);
        carry_step(&mut h, 1);
        carry_step(&mut h, 5);
        carry_step(&mut h, 2);
        carry_step(&mut h, 6);
        carry_step(&mut h, 3);
        carry_step(&mut h, 7);
        carry_step(&mut h, 4);
        carry_step(&mut h, 8);
        let c = _mm256_srli_epi64::<25>(h[9]);
        h[9] = _mm256_and_si256(h[9], splat(MASK25));
        h[0] = add64(h[0], times19(c));
        carry_step(&mut h, 0);
        Fe(h)
    }

    /// a + b for T operands: M, no carry.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add(self, b: Fe) -> Fe {
        let mut r = self.0;
        for (ri, bi) in r.iter_mut().zip(b.0) {
            *ri = add64(*ri, bi);
        }
        Fe(r)
    }

    /// a − b + 2p for T operands: M, no carry (2p's limbs are at least T's bounds).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sub(self, b: Fe) -> Fe {
        let mut r = self.0;
        for ((ri, bi), k) in r.iter_mut().zip(b.0).zip(TWO_P) {
            *ri = _mm256_sub_epi64(add64(*ri, splat(k)), bi);
        }
        Fe(r)
    }

    /// a · b for T or M operands: T.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul(self, b: Fe) -> Fe {
        let f = self.0;
        let g = b.0;
        let nineteen = splat(19);
        let z = _mm256_setzero_si256();
        let mut f2 = [z; 10];
        let mut g19 = [z; 10];
        for i in 0..10 {
            f2[i] = add64(f[i], f[i]);
            g19[i] = mul32(g[i], nineteen);
        }
        let mut h = [z; 10];
        // Every (i, j) written out with constant indices, so the arrays stay in registers (a
        // 10 × 10 loop is not fully unrolled by the compiler and then indexes the stack).
        macro_rules! row {
            ($i:literal; $($j:literal)*) => {$({
                let a = if $i % 2 == 1 && $j % 2 == 1 { f2[$i] } else { f[$i] };
                let b = if $i + $j >= 10 { g19[$j] } else { g[$j] };
                h[($i + $j) % 10] = add64(h[($i + $j) % 10], mul32(a, b));
            })*};
        }
        row!(0; 0 1 2 3 4 5 6 7 8 9);
        row!(1; 0 1 2 3 4 5 6 7 8 9);
        row!(2; 0 1 2 3 4 5 6 7 8 9);
        row!(3; 0 1 2 3 4 5 6 7 8 9);
        row!(4; 0 1 2 3 4 5 6 7 8 9);
        row!(5; 0 1 2 3 4 5 6 7 8 9);
        row!(6; 0 1 2 3 4 5 6 7 8 9);
        row!(7; 0 1 2 3 4 5 6 7 8 9);
        row!(8; 0 1 2 3 4 5 6 7 8 9);
        row!(9; 0 1 2 3 4 5 6 7 8 9);
        Fe(h).carry()
    }

    /// a² for a T or M operand: T. Each cross product once, doubled through its operand.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sqr(self) -> Fe {
        let f = self.0;
        let z = _mm256_setzero_si256();
        let (nineteen, thirty_eight) = (splat(19), splat(38));
        let mut f2 = [z; 10];
        let mut f19 = [z; 10];
        let mut f38 = [z; 10];
        for i in 0..10 {
            f2[i] = add64(f[i], f[i]);
            f19[i] = mul32(f[i], nineteen);
            f38[i] = mul32(f[i], thirty_eight);
        }
        let mut h = [z; 10];
        // Weight of a_i·a_j (i ≤ j): 2 for a cross product, 2 for two odd limbs, 19 past 2^255.
        // The first goes on a (2f < 2^28), the others on b (38·f_odd, 19·f_even < 2^31.84).
        // Constant indices throughout, as in `mul`.
        macro_rules! row {
            ($i:literal; $($j:literal)*) => {$({
                let a = if $i < $j { f2[$i] } else { f[$i] };
                let b = match ($i % 2 == 1 && $j % 2 == 1, $i + $j >= 10) {
                    (false, false) => f[$j],
                    (true, false) => f2[$j],
                    (false, true) => f19[$j],
                    (true, true) => f38[$j],
                };
                h[($i + $j) % 10] = add64(h[($i + $j) % 10], mul32(a, b));
            })*};
        }
        row!(0; 0 1 2 3 4 5 6 7 8 9);
        row!(1; 1 2 3 4 5 6 7 8 9);
        row!(2; 2 3 4 5 6 7 8 9);
        row!(3; 3 4 5 6 7 8 9);
        row!(4; 4 5 6 7 8 9);
        row!(5; 5 6 7 8 9);
        row!(6; 6 7 8 9);
        row!(7; 7 8 9);
        row!(8; 8 9);
        row!(9; 9);
        Fe(h).carry()
    }

    /// a squared n times, in T.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sqr_n(self, n: u32) -> Fe {
        let mut x = self;
        for _ in 0..n {
            x = x.sqr();
        }
        x
    }

    /// a · a24 for an M operand: every limb product is below 3·2^26 · 2^17 = 2^44.5; carried to T.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul_a24(self) -> Fe {
        let k = splat(A24);
        let mut h = self.0;
        for hi in h.iter_mut() {
            *hi = mul32(*hi, k);
        }
        Fe(h).carry()
    }

    /// 1/a for a T operand (0 for a = 0): T.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn invert(self) -> Fe {
        crate::invert_chain!(self, Fe::mul, Fe::sqr_n)
    }

    /// 1/a for every a of `zs` (at most [`crate::GROUP`], each in T; 0 where a ≡ 0), with one
    /// inversion chain ([`crate::invert_batch`]): T.
    #[target_feature(enable = "avx2")]
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

    /// All ones in the lanes where a ≡ 0 (mod p), zero elsewhere, for a in T.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn zero_mask(self) -> __m256i {
        let c = self.canonical();
        let z = _mm256_setzero_si256();
        let mut m = _mm256_cmpeq_epi64(z, z);
        for l in c.0 {
            m = _mm256_and_si256(m, _mm256_cmpeq_epi64(l, z));
        }
        m
    }

    /// `b` in the lanes where `mask` is all ones, `a` where it is zero.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn blend(mask: __m256i, a: Fe, b: Fe) -> Fe {
        let mut r = a.0;
        for (ri, bi) in r.iter_mut().zip(b.0) {
            *ri = _mm256_blendv_epi8(*ri, bi, mask);
        }
        Fe(r)
    }

    /// The canonical value in [0, p) of each lane of a T element, as limbs within their widths.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn canonical(self) -> Fe {
        // T is below 2^255 + 2^143. A sequential carry leaves limbs 0..8 within their widths and
        // limb 9 below 2^25 + 1; its bit 25 (2^255 ≡ 19) goes back to limb 0 and a second carry
        // settles the value below 2^255 (if a bit was folded, the value had dropped below 2^143).
        let mut h = self.0;
        for i in 0..9 {
            carry_step(&mut h, i);
        }
        let top = _mm256_srli_epi64::<25>(h[9]);
        h[9] = _mm256_and_si256(h[9], splat(MASK25));
        h[0] = add64(h[0], times19(top));
        for i in 0..9 {
            carry_step(&mut h, i);
        }
        // v ≥ p exactly when v + 19 ≥ 2^255 (bit 25 of limb 9 of v + 19); then v − p is
        // (v + 19) − 2^255.
        let mut w = h;
        w[0] = add64(w[0], splat(19));
        for i in 0..9 {
            carry_step(&mut w, i);
        }
        let ge_p = _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_srli_epi64::<25>(w[9]));
        w[9] = _mm256_and_si256(w[9], splat(MASK25));
        for (hi, wi) in h.iter_mut().zip(w) {
            *hi = _mm256_blendv_epi8(*hi, wi, ge_p);
        }
        Fe(h)
    }
}

/// Swap a and b in the lanes where `mask` is all ones (it is all ones or zero per lane): xor and
/// and, no branch, no index.
#[inline]
#[target_feature(enable = "avx2")]
fn cswap(a: &mut Fe, b: &mut Fe, mask: __m256i) {
    for (x, y) in a.0.iter_mut().zip(b.0.iter_mut()) {
        let t = _mm256_and_si256(mask, _mm256_xor_si256(*x, *y));
        *x = _mm256_xor_si256(*x, t);
        *y = _mm256_xor_si256(*y, t);
    }
}

/// RFC 7748 §5 in registers of four lanes: decode, 255 ladder steps per register, one
/// inversion for all of them ([`Fe::invert_batch`]), encode.
#[target_feature(enable = "avx2")]
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
        let u = x[r].mul(z[r]).canonical();
        for (o, l) in out[r].iter_mut().zip(u.to_limbs()) {
            let mut w = [0u64; 4];
            for (i, limb) in l.iter().enumerate() {
                put_bits(&mut w, OFFSET[i], *limb);
            }
            *o = bytes_of_words(&w);
        }
    }
    // The projective outputs are as secret as the shared secrets.
    for fe in x.iter_mut().chain(z.iter_mut()) {
        // SAFETY: `fe` is a valid, aligned, exclusive reference to an `Fe`.
        unsafe { core::ptr::write_volatile(fe, Fe::constant(0)) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// RFC 7748 §5 in four lanes: decode and 255 ladder steps; the output u = x/z, as (x, z) in T.
#[inline]
#[target_feature(enable = "avx2")]
fn ladder(scalars: &[[u8; X25519_LEN]; LANES], points: &[[u8; X25519_LEN]; LANES]) -> (Fe, Fe) {
    let mut lane_words = [[0u64; 4]; LANES];
    let mut u_limbs = [[0u64; 10]; LANES];
    for l in 0..LANES {
        lane_words[l] = clamped_words(&scalars[l]);
        let u = u_words(&points[l]);
        // T: every limb within its width (bit 255 is cleared).
        for i in 0..10 {
            u_limbs[l][i] = bit_field(&u, OFFSET[i], WIDTH[i]);
        }
    }
    let mut k = [_mm256_setzero_si256(); 4];
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
    let zero = _mm256_setzero_si256();
    let one = splat(1);
    let mut swap = zero;
    for t in (0..255usize).rev() {
        // The bit position t is public; the bit's value only ever becomes a mask.
        let shift = _mm256_set1_epi64x((t % 64) as i64);
        let bit = _mm256_and_si256(_mm256_srlv_epi64(k[t / 64], shift), one);
        swap = _mm256_xor_si256(swap, bit);
        let mask = _mm256_sub_epi64(zero, swap);
        cswap(&mut x2, &mut x3, mask);
        cswap(&mut z2, &mut z3, mask);
        swap = bit;

        // x2, z2, x3, z3 are T; sums and differences are M and feed the products directly.
        let a = x2.add(z2);
        let b = x2.sub(z2);
        let c = x3.add(z3);
        let d = x3.sub(z3);
        let aa = a.sqr();
        let bb = b.sqr();
        let da = d.mul(a);
        let cb = c.mul(b);
        x3 = da.add(cb).sqr();
        z3 = x1.mul(da.sub(cb).sqr());
        x2 = aa.mul(bb);
        let e = aa.sub(bb);
        z2 = e.mul(aa.add(e.mul_a24()));
    }
    let mask = _mm256_sub_epi64(zero, swap);
    cswap(&mut x2, &mut x3, mask);
    cswap(&mut z2, &mut z3, mask);

    (x2, z2)
}

#[cfg(test)]
mod tests {
    //! The field operations at the edges of their documented input bounds, against the portable
    //! reference: the values must agree mod p and the outputs must respect the bounds of the
    //! form each operation promises. Random ladders never get near these edges.

    use super::*;
    use crate::portable;

    /// Largest limb values of each form, from the table in the module documentation.
    fn form_max(even: u64, odd: u64) -> [u64; 10] {
        core::array::from_fn(|i| if i % 2 == 0 { even } else { odd })
    }
    fn t_max() -> [u64; 10] {
        form_max(MASK26, (1 << 25) + (1 << 18) - 1)
    }
    fn m_max() -> [u64; 10] {
        form_max(3 * (1 << 26) - 1, 3 * (1 << 25) + (1 << 18) - 1)
    }

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Add,
        Canonical,
        Invert,
        Mul,
        MulA24,
        Sqr,
        Sub,
    }

    #[target_feature(enable = "avx2")]
    fn apply(op: Op, a: &[[u64; 10]; LANES], b: &[[u64; 10]; LANES]) -> [[u64; 10]; LANES] {
        let (x, y) = (Fe::from_limbs(a), Fe::from_limbs(b));
        let r = match op {
            Op::Add => x.add(y),
            Op::Canonical => x.canonical(),
            Op::Invert => x.invert(),
            Op::Mul => x.mul(y),
            Op::MulA24 => x.mul_a24(),
            Op::Sqr => x.sqr(),
            Op::Sub => x.sub(y),
        };
        r.to_limbs()
    }

    /// `apply` on this CPU, or `None` (printed) when it lacks AVX2.
    fn run(op: Op, a: &[[u64; 10]; LANES], b: &[[u64; 10]; LANES]) -> Option<[[u64; 10]; LANES]> {
        if !super::super::host().avx2 {
            println!(
                "UNTESTED: avx2 field operations (host: {})",
                crate::host_features()
            );
            return None;
        }
        // SAFETY: `apply` needs AVX2, which `host()` has just reported.
        Some(unsafe { apply(op, a, b) })
    }

    /// Σ limb[i] · 2^OFFSET[i] mod p, through the portable field.
    fn value(limbs: &[u64; 10]) -> portable::Fe {
        let mut acc = portable::Fe::ZERO;
        for (i, &l) in limbs.iter().enumerate() {
            // 2^OFFSET[i] as a field element: 2^(OFFSET mod 51) in limb OFFSET / 51.
            let mut b = [0u8; 32];
            b[OFFSET[i] / 8] = 1 << (OFFSET[i] % 8);
            let power = portable::Fe::from_bytes(&b);
            acc = acc.add(power.mul(portable::Fe::from_u64(l)));
        }
        acc
    }

    fn expected(op: Op, a: &[u64; 10], b: &[u64; 10]) -> [u8; 32] {
        let (x, y) = (value(a), value(b));
        match op {
            Op::Add => x.add(y),
            Op::Canonical => x,
            Op::Invert => x.invert(),
            Op::Mul => x.mul(y),
            Op::MulA24 => x.mul_small(A24),
            Op::Sqr => x.square(),
            Op::Sub => x.sub(y),
        }
        .to_bytes()
    }

    fn inputs(max: &[u64; 10], rounds: usize, seed: u64) -> Vec<[[u64; 10]; LANES]> {
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
            let mut reg = [[0u64; 10]; LANES];
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

    fn check(op: Op, a_max: &[u64; 10], b_max: &[u64; 10], out_max: &[u64; 10]) {
        for (a, b) in inputs(a_max, 300, 1).iter().zip(&inputs(b_max, 300, 2)) {
            let Some(r) = run(op, a, b) else { return };
            for lane in 0..LANES {
                let what = format!("{op:?}({:x?}, {:x?}) = {:x?}", a[lane], b[lane], r[lane]);
                let within = r[lane].iter().zip(out_max).all(|(l, m)| l <= m);
                assert!(within, "{what}: above the bound {out_max:x?}");
                assert_eq!(
                    value(&r[lane]).to_bytes(),
                    expected(op, &a[lane], &b[lane]),
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn products_of_m_operands_are_t_and_correct() {
        check(Op::Mul, &m_max(), &m_max(), &t_max());
        check(Op::Sqr, &m_max(), &m_max(), &t_max());
        check(Op::MulA24, &m_max(), &m_max(), &t_max());
    }

    #[test]
    fn sums_and_differences_of_t_are_m_and_correct() {
        check(Op::Add, &t_max(), &t_max(), &m_max());
        check(Op::Sub, &t_max(), &t_max(), &m_max());
    }

    #[test]
    fn canonical_and_inverse_of_t_are_correct() {
        let exact = form_max(MASK26, MASK25);
        check(Op::Canonical, &t_max(), &t_max(), &exact);
        check(Op::Invert, &t_max(), &t_max(), &t_max());
        // p − 1, p, p + 1, 2^255 − 1 (= p + 18).
        let p: [u64; 10] = core::array::from_fn(|i| match i {
            0 => MASK26 - 18,
            _ if i % 2 == 0 => MASK26,
            _ => MASK25,
        });
        let mut a = [p; LANES];
        a[0][0] -= 1;
        a[2][0] += 1;
        a[3][0] += 18;
        let Some(r) = run(Op::Canonical, &a, &a) else {
            return;
        };
        for lane in 0..LANES {
            let mut w = [0u64; 4];
            for (i, l) in r[lane].iter().enumerate() {
                put_bits(&mut w, OFFSET[i], *l);
            }
            assert_eq!(
                bytes_of_words(&w),
                expected(Op::Canonical, &a[lane], &a[lane]),
                "lane {lane}"
            );
        }
    }
}
