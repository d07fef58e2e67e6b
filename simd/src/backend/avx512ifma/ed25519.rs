//! Eight Ed25519 double-base scalar multiplications `[s]B − [k]A` with AVX-512 IFMA, one per
//! 64-bit lane, on the field of the parent module (radix 2^52, the R/U/W bounds there).
//!
//! # Internal documentation
//!
//! Only the reduced form R is used here: every operation is `add`, `sub`, `mul` or `sqr`, each
//! of which takes and returns R, so no bound needs tracking beyond the parent's tests.
//!
//! Point forms and formulas are curve25519-dalek's serial ones (the extended, projective and
//! "completed" models of Hisil, Wong, Carter and Dawson 2008, with a = −1), which are complete
//! on the whole curve because d is not a square: torsion and the identity need no special case.
//!
//! - The key is decoded in the lanes: x = u·v³·(u·v⁷)^((p−5)/8), then v·x² is compared with
//!   ±u (canonical comparison), as ref10 and s2n-bignum do; the byte checks (`y < p`, negative
//!   zero) are the caller's, done serially.
//! - Scalars are recoded to 64 signed radix-16 digits. Per window: four doublings (three in
//!   projective form, the last to extended), then one addition from a per-lane table of
//!   `[0..8](−A)` (cached form, selected by mask blends, since every lane indexes its own
//!   table) and one from a shared table of `[0..8]B` (affine Niels form, selected per lane by
//!   `vpermt2q` across two registers). A negative digit swaps y + x with y − x and negates the
//!   T term. Digit 0 selects the identity entry, so every lane does the same operations.
//! - Everything here is public (keys, signatures, messages): variable time is fine, but the
//!   code has no data-dependent branch anyway.
//!
//! The same point arithmetic computes fixed-base X25519, [`x25519_base_lanes`]: `[k]B` by a
//! comb (ref10's `ge_scalarmult_base`, in lanes) and u = (Z + Y)/(Z − Y) at the end, about a
//! quarter of the Montgomery ladder's multiplications. Its scalars are secret, so it is
//! constant time as the ladder is: the digits come from branch-free arithmetic, every lane
//! adds one entry of every row whatever its digit (0 selects the identity by a mask), and the
//! entry is chosen by `vpermq` among eight entries held in a register, so no branch and no
//! memory address depends on the scalar.

use core::arch::x86_64::*;

use super::{gather, splat, Fe, LANES};
use crate::ed25519::{
    ed25519_key_bytes_ok, pow22523_chain, radix16, Comb, CombRow, DoubleBaseInput, Tables,
};
use crate::{bit_field, bytes_of_words, clamp, put_bits, u_words, X25519_LEN};
use zeroize::Zeroize;

/// Extended coordinates: x = X/Z, y = Y/Z, xy = T/Z.
#[derive(Clone, Copy)]
struct Ext {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// Projective coordinates: x = X/Z, y = Y/Z.
#[derive(Clone, Copy)]
struct Proj {
    x: Fe,
    y: Fe,
    z: Fe,
}

/// "Completed" coordinates: x = X/Z, y = Y/T.
#[derive(Clone, Copy)]
struct Completed {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// A point ready to be added: (Y + X, Y − X, Z, 2d·T).
#[derive(Clone, Copy)]
struct Cached {
    ypx: Fe,
    ymx: Fe,
    z: Fe,
    t2d: Fe,
}

impl Fe {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn neg(self) -> Fe {
        Fe::constant(0).sub(self)
    }

    /// The same limbs in every lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn splat_limbs(l: &[u64; 5]) -> Fe {
        Fe([
            splat(l[0]),
            splat(l[1]),
            splat(l[2]),
            splat(l[3]),
            splat(l[4]),
        ])
    }

    /// The lanes where a = b (mod p).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn eq_mask(self, b: Fe) -> __mmask8 {
        self.sub(b).zero_mask()
    }
}

impl Proj {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn double(self) -> Completed {
        let xx = self.x.sqr();
        let yy = self.y.sqr();
        let zz = self.z.sqr();
        let zz2 = zz.add(zz);
        let xpy2 = self.x.add(self.y).sqr();
        let yy_plus_xx = yy.add(xx);
        let yy_minus_xx = yy.sub(xx);
        Completed {
            x: xpy2.sub(yy_plus_xx),
            y: yy_plus_xx,
            z: yy_minus_xx,
            t: zz2.sub(yy_minus_xx),
        }
    }
}

impl Completed {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn to_proj(self) -> Proj {
        Proj {
            x: self.x.mul(self.t),
            y: self.y.mul(self.z),
            z: self.z.mul(self.t),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn to_ext(self) -> Ext {
        Ext {
            x: self.x.mul(self.t),
            y: self.y.mul(self.z),
            z: self.z.mul(self.t),
            t: self.x.mul(self.y),
        }
    }
}

impl Ext {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn identity() -> Ext {
        Ext {
            x: Fe::constant(0),
            y: Fe::constant(1),
            z: Fe::constant(1),
            t: Fe::constant(0),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn to_proj(self) -> Proj {
        Proj {
            x: self.x,
            y: self.y,
            z: self.z,
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn to_cached(self, d2: Fe) -> Cached {
        Cached {
            ypx: self.y.add(self.x),
            ymx: self.y.sub(self.x),
            z: self.z,
            t2d: self.t.mul(d2),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn add_cached(self, q: Cached) -> Completed {
        let pp = self.y.add(self.x).mul(q.ypx);
        let mm = self.y.sub(self.x).mul(q.ymx);
        let tt2d = self.t.mul(q.t2d);
        let zz = self.z.mul(q.z);
        let zz2 = zz.add(zz);
        Completed {
            x: pp.sub(mm),
            y: pp.add(mm),
            z: zz2.add(tt2d),
            t: zz2.sub(tt2d),
        }
    }

    /// Plus an affine Niels point (y + x, y − x, 2d·x·y): the cached addition with Z₂ = 1.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn add_niels(self, ypx: Fe, ymx: Fe, xy2d: Fe) -> Completed {
        let pp = self.y.add(self.x).mul(ypx);
        let mm = self.y.sub(self.x).mul(ymx);
        let txy2d = self.t.mul(xy2d);
        let z2 = self.z.add(self.z);
        Completed {
            x: pp.sub(mm),
            y: pp.add(mm),
            z: z2.add(txy2d),
            t: z2.sub(txy2d),
        }
    }
}

/// The lanes' signed digits of window `w`, as 64-bit integers.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn digits(d: &[[i8; 64]; LANES], w: usize) -> __m512i {
    let mut v = [0u64; LANES];
    for (vl, dl) in v.iter_mut().zip(d) {
        *vl = i64::from(dl[w]) as u64; // a bit pattern: sign-extended two's complement
    }
    gather(v)
}

/// Entry |digit| of each lane's own table, negated where the digit is negative.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn select_cached(table: &[Cached; 9], digit: __m512i) -> Cached {
    let neg = _mm512_cmplt_epi64_mask(digit, _mm512_setzero_si512());
    let abs = _mm512_abs_epi64(digit);
    let mut r = table[0];
    for (e, entry) in table.iter().enumerate().skip(1) {
        let m = _mm512_cmpeq_epi64_mask(abs, splat(e as u64));
        r = Cached {
            ypx: Fe::blend(m, r.ypx, entry.ypx),
            ymx: Fe::blend(m, r.ymx, entry.ymx),
            z: Fe::blend(m, r.z, entry.z),
            t2d: Fe::blend(m, r.t2d, entry.t2d),
        };
    }
    Cached {
        ypx: Fe::blend(neg, r.ypx, r.ymx),
        ymx: Fe::blend(neg, r.ymx, r.ypx),
        z: r.z,
        t2d: Fe::blend(neg, r.t2d, r.t2d.neg()),
    }
}

/// The base point's table: for coordinate c and limb i, entries 0..7 in `lo[c][i]` and entry
/// 8 in lane 0 of `hi[c][i]`, so that `vpermt2q` with index |digit| (0..8) picks one per lane.
struct BaseTable {
    lo: [[__m512i; 5]; 3],
    hi: [[__m512i; 5]; 3],
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn base_table(t: &Tables) -> BaseTable {
    let z = _mm512_setzero_si512();
    let mut b = BaseTable {
        lo: [[z; 5]; 3],
        hi: [[z; 5]; 3],
    };
    for c in 0..3 {
        for i in 0..5 {
            let mut v = [0u64; LANES];
            for (e, ve) in v.iter_mut().enumerate() {
                *ve = t.base[e][c][i];
            }
            b.lo[c][i] = gather(v);
            b.hi[c][i] = gather([t.base[8][c][i], 0, 0, 0, 0, 0, 0, 0]);
        }
    }
    b
}

/// Entry |digit| of the base point's table in each lane, negated where the digit is negative:
/// (y + x, y − x, 2d·x·y).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn select_base(b: &BaseTable, digit: __m512i) -> (Fe, Fe, Fe) {
    let neg = _mm512_cmplt_epi64_mask(digit, _mm512_setzero_si512());
    let abs = _mm512_abs_epi64(digit);
    let z = _mm512_setzero_si512();
    let mut coords = [Fe([z; 5]); 3];
    for (c, fe) in coords.iter_mut().enumerate() {
        for i in 0..5 {
            fe.0[i] = _mm512_permutex2var_epi64(b.lo[c][i], abs, b.hi[c][i]);
        }
    }
    let [ypx, ymx, xy2d] = coords;
    (
        Fe::blend(neg, ypx, ymx),
        Fe::blend(neg, ymx, ypx),
        Fe::blend(neg, xy2d, xy2d.neg()),
    )
}

/// Registers of eight lanes of [`crate::ed25519_double_base_batch`] (at most
/// [`crate::GROUP`]), or `None` when the CPU lacks AVX512F or AVX512IFMA.
pub(in crate::backend) fn double_base_lanes(
    inputs: &[[DoubleBaseInput; LANES]],
    tables: &Tables,
    out: &mut [[Option<[u8; 32]>; LANES]],
) -> Option<()> {
    if !super::super::host().avx512ifma {
        return None;
    }
    // SAFETY: `double_bases` needs AVX512F and AVX512IFMA, and `host()` has just reported
    // both (`is_x86_feature_detected!`, cached). It touches no memory but its arguments.
    unsafe { double_bases(inputs, tables, out) };
    Some(())
}

/// [`double_base`] per register, then one inversion for all of them ([`Fe::invert_batch`])
/// and the encodings.
#[target_feature(enable = "avx512f,avx512ifma")]
fn double_bases(
    inputs: &[[DoubleBaseInput; LANES]],
    t: &Tables,
    out: &mut [[Option<[u8; 32]>; LANES]],
) {
    let n = out.len().min(inputs.len());
    let mut points = [Ext::identity().to_proj(); crate::GROUP];
    let mut valid = [0 as __mmask8; crate::GROUP];
    let mut z = [Fe::constant(0); crate::GROUP];
    for r in 0..n {
        (points[r], valid[r]) = double_base(&inputs[r], t);
        z[r] = points[r].z;
    }
    // Z is never zero on the curve; the lanes whose key did not decode carry a point off it,
    // whose Z may be, and the batch inversion keeps such a lane to itself.
    Fe::invert_batch(&mut z[..n]);
    for r in 0..n {
        let rx = points[r].x.mul(z[r]).canonical().to_limbs();
        let ry = points[r].y.mul(z[r]).canonical().to_limbs();
        for l in 0..LANES {
            out[r][l] = (valid[r] & (1 << l) != 0).then(|| {
                let mut w = [0u64; 4];
                for (i, limb) in ry[l].iter().enumerate() {
                    put_bits(&mut w, 52 * i, *limb);
                }
                let mut enc = bytes_of_words(&w);
                enc[31] |= ((rx[l][0] & 1) as u8) << 7;
                enc
            });
        }
    }
}

/// `[s]B − [k]A` in eight lanes, projective, and the lanes whose key decoded.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn double_base(inputs: &[DoubleBaseInput; LANES], t: &Tables) -> (Proj, __mmask8) {
    let mut y_limbs = [[0u64; 5]; LANES];
    let mut sign = [0u64; LANES];
    let mut bytes_ok: __mmask8 = 0;
    let mut kd = [[0i8; 64]; LANES];
    let mut sd = [[0i8; 64]; LANES];
    for (l, input) in inputs.iter().enumerate() {
        let y = u_words(&input.key);
        y_limbs[l] = [
            bit_field(&y, 0, 52),
            bit_field(&y, 52, 52),
            bit_field(&y, 104, 52),
            bit_field(&y, 156, 52),
            bit_field(&y, 208, 47),
        ];
        sign[l] = u64::from(input.key[31] >> 7);
        if ed25519_key_bytes_ok(&input.key) {
            bytes_ok |= 1 << l;
        }
        kd[l] = radix16(&input.k);
        sd[l] = radix16(&input.s);
    }
    let d = Fe::splat_limbs(&t.d);
    let d2 = Fe::splat_limbs(&t.d2);
    let one = Fe::constant(1);

    // Decode A (y < 2^255, so its limbs are R).
    let y = Fe::from_limbs(&y_limbs);
    let yy = y.sqr();
    let u = yy.sub(one);
    let v = yy.mul(d).add(one);
    let v3 = v.sqr().mul(v);
    let v7 = v3.sqr().mul(v);
    let mut x = u
        .mul(v3)
        .mul(pow22523_chain!(u.mul(v7), Fe::mul, Fe::sqr_n));
    let vxx = v.mul(x.sqr());
    let root = vxx.eq_mask(u);
    let root_of_minus = vxx.eq_mask(u.neg());
    x = Fe::blend(root_of_minus & !root, x, x.mul(Fe::splat_limbs(&t.sqrt_m1)));
    let valid = bytes_ok & (root | root_of_minus);
    let x = x.canonical();
    let parity = _mm512_test_epi64_mask(x.0[0], splat(1));
    let sign_set = _mm512_test_epi64_mask(gather(sign), splat(1));
    let x = Fe::blend(parity ^ sign_set, x, x.neg());

    // −A, and its multiples 0..8 in cached form.
    let nx = x.neg();
    let minus_a = Ext {
        x: nx,
        y,
        z: one,
        t: nx.mul(y),
    };
    let id = Ext::identity().to_cached(d2);
    let one_a = minus_a.to_cached(d2);
    let mut table = [id; 9];
    table[1] = one_a;
    let mut multiple = minus_a.to_proj().double().to_ext();
    table[2] = multiple.to_cached(d2);
    for entry in table.iter_mut().skip(3) {
        multiple = multiple.add_cached(one_a).to_ext();
        *entry = multiple.to_cached(d2);
    }
    let base = base_table(t);

    // Straus over both scalars, most significant window first.
    let mut acc = Ext::identity().to_proj();
    for w in (0..64).rev() {
        let e = if w == 63 {
            Ext::identity()
        } else {
            let mut p = acc;
            for _ in 0..3 {
                p = p.double().to_proj();
            }
            p.double().to_ext()
        };
        let e = e.add_cached(select_cached(&table, digits(&kd, w))).to_ext();
        let (ypx, ymx, xy2d) = select_base(&base, digits(&sd, w));
        acc = e.add_niels(ypx, ymx, xy2d).to_proj();
    }

    (acc, valid)
}

/// Entry |digit| of a comb row in each lane (entry 0 the identity), negated where the digit is
/// negative: (y + x, y − x, 2d·x·y). Secret digits: selection by register permutation and
/// masks only.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn select_comb(row: &CombRow, digit: __m512i) -> (Fe, Fe, Fe) {
    let z = _mm512_setzero_si512();
    let neg = _mm512_cmplt_epi64_mask(digit, z);
    let abs = _mm512_abs_epi64(digit);
    let none = _mm512_cmpeq_epi64_mask(abs, z);
    // Entry j sits in lane j − 1; digit 0 reads lane 7 (the index's low three bits), which the
    // identity then replaces.
    let index = _mm512_sub_epi64(abs, splat(1));
    let mut coords = [Fe([z; 5]); 3];
    for (c, fe) in coords.iter_mut().enumerate() {
        for (l, limb) in fe.0.iter_mut().enumerate() {
            *limb = _mm512_permutexvar_epi64(index, gather(row[c][l]));
        }
    }
    let [ypx, ymx, xy2d] = coords;
    let one = Fe::constant(1);
    let (ypx, ymx, xy2d) = (
        Fe::blend(none, ypx, one),
        Fe::blend(none, ymx, one),
        Fe::blend(none, xy2d, Fe::constant(0)),
    );
    (
        Fe::blend(neg, ypx, ymx),
        Fe::blend(neg, ymx, ypx),
        Fe::blend(neg, xy2d, xy2d.neg()),
    )
}

/// Registers of eight lanes of fixed-base X25519, `X25519(k, 9)` each (RFC 7748 §6.1; at most
/// [`crate::GROUP`] registers), or `None` when the CPU lacks AVX512F or AVX512IFMA.
pub(in crate::backend) fn x25519_base_lanes(
    scalars: &[[[u8; X25519_LEN]; LANES]],
    comb: &Comb,
    out: &mut [[[u8; X25519_LEN]; LANES]],
) -> Option<()> {
    if !super::super::host().avx512ifma {
        return None;
    }
    // SAFETY: `fixed_bases` needs AVX512F and AVX512IFMA, and `host()` has just reported both
    // (`is_x86_feature_detected!`, cached). It touches no memory but its arguments.
    unsafe { fixed_bases(scalars, comb, out) };
    Some(())
}

/// [`fixed_base`] per register, then one inversion for all of them ([`Fe::invert_batch`]):
/// u = (Z + Y)/(Z − Y).
#[target_feature(enable = "avx512f,avx512ifma")]
fn fixed_bases(
    scalars: &[[[u8; X25519_LEN]; LANES]],
    comb: &Comb,
    out: &mut [[[u8; X25519_LEN]; LANES]],
) {
    let n = out.len().min(scalars.len());
    let mut num = [Fe::constant(0); crate::GROUP];
    let mut den = [Fe::constant(0); crate::GROUP];
    for r in 0..n {
        let p = fixed_base(&scalars[r], comb);
        num[r] = p.z.add(p.y);
        den[r] = p.z.sub(p.y);
    }
    Fe::invert_batch(&mut den[..n]);
    for r in 0..n {
        out[r] = num[r].mul(den[r]).canonical().to_bytes();
    }
    // The public keys are public, but projective coordinates can reveal bits of the scalar
    // (Naccache, Smart and Stern, "Projective coordinates leak", Eurocrypt 2004).
    super::wipe(&mut num);
    super::wipe(&mut den);
}

/// `[k]B` for each lane's clamped scalar k < 2^255, as the sum over its 64 signed radix-16
/// digits eᵢ of eᵢ·16^i·B: the odd digits from the 32 rows, times 16 (four doublings), then
/// the even digits (ref10's order). [`fixed_bases`] maps it to u = (1 + y)/(1 − y): every
/// clamped k is a nonzero multiple of 8 below 8ℓ, so [k]B is never the identity and Z − Y is
/// never zero.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn fixed_base(scalars: &[[u8; X25519_LEN]; LANES], comb: &Comb) -> Ext {
    let mut kd = [[0i8; 64]; LANES];
    for (d, k) in kd.iter_mut().zip(scalars) {
        let mut clamped = clamp(k);
        *d = radix16(&clamped);
        clamped.zeroize();
    }
    let mut acc = Ext::identity();
    for (i, row) in comb.rows.iter().enumerate() {
        let (ypx, ymx, xy2d) = select_comb(row, digits(&kd, 2 * i + 1));
        acc = acc.add_niels(ypx, ymx, xy2d).to_ext();
    }
    let mut p = acc.to_proj();
    for _ in 0..3 {
        p = p.double().to_proj();
    }
    acc = p.double().to_ext();
    for (i, row) in comb.rows.iter().enumerate() {
        let (ypx, ymx, xy2d) = select_comb(row, digits(&kd, 2 * i));
        acc = acc.add_niels(ypx, ymx, xy2d).to_ext();
    }
    // The digits are the scalars.
    kd.zeroize();
    acc
}
