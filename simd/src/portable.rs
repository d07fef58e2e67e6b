//! The serial reference: X25519 (RFC 7748 §5) in plain safe Rust, one scalar multiplication at
//! a time. Field elements mod p = 2^255 − 19 are five 51-bit limbs with `u128` products (the
//! representation of curve25519-donna and curve25519-dalek's serial backend). It favours
//! plainness over speed: every addition and subtraction is carried, squaring is a
//! multiplication. The SIMD backends are tested against it byte for byte.

use zeroize::Zeroize;

use crate::{bit_field, bytes_of_words, clamp, u_words, A24, X25519_LEN};

const MASK51: u64 = (1 << 51) - 1;

/// An element of GF(2^255 − 19): value = Σ limb[i] · 2^(51·i).
///
/// Invariant between operations ("carried"): every limb < 2^51 + 2^16, so each limb is below
/// 2^52 and the value below 2^256.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fe([u64; 5]);

/// 2p in radix 2^51, added before subtracting a carried element so no limb goes negative:
/// limb 0 is 2^52 − 38, limbs 1..4 are 2^52 − 2, each above the carried bound 2^51 + 2^16.
const TWO_P: [u64; 5] = [
    (1 << 52) - 38,
    (1 << 52) - 2,
    (1 << 52) - 2,
    (1 << 52) - 2,
    (1 << 52) - 2,
];

impl Fe {
    pub(crate) const ZERO: Fe = Fe([0; 5]);
    pub(crate) const ONE: Fe = Fe([1, 0, 0, 0, 0]);

    /// The little-endian u-coordinate with bit 255 ignored; values ≥ p are accepted and used
    /// modulo p (RFC 7748 §5).
    pub(crate) fn from_bytes(u: &[u8; X25519_LEN]) -> Fe {
        let w = u_words(u);
        Fe([
            bit_field(&w, 0, 51),
            bit_field(&w, 51, 51),
            bit_field(&w, 102, 51),
            bit_field(&w, 153, 51),
            bit_field(&w, 204, 51),
        ])
    }

    /// A small integer (< 2^64) as a field element.
    pub(crate) fn from_u64(x: u64) -> Fe {
        Fe([x & MASK51, x >> 51, 0, 0, 0])
    }

    /// The canonical encoding: the unique representative in [0, p), little-endian.
    pub(crate) fn to_bytes(self) -> [u8; X25519_LEN] {
        // Two carries leave every limb below 2^51 except limb 1 (< 2^51 + 1), so the value is
        // below 2^255 + 2^52 < 2p.
        let h = carry(carry(self.0));
        // q = ⌊(h + 19) / 2^255⌋: 1 exactly when h ≥ p (the carries are exact).
        let mut q = (h[0] + 19) >> 51;
        q = (h[1] + q) >> 51;
        q = (h[2] + q) >> 51;
        q = (h[3] + q) >> 51;
        q = (h[4] + q) >> 51;
        // h − q·p = h + 19q − q·2^255: add 19q, carry, and drop bit 255.
        let mut l = h;
        l[0] += 19 * q;
        for i in 0..4 {
            l[i + 1] += l[i] >> 51;
            l[i] &= MASK51;
        }
        l[4] &= MASK51;
        bytes_of_words(&[
            l[0] | (l[1] << 51),
            (l[1] >> 13) | (l[2] << 38),
            (l[2] >> 26) | (l[3] << 25),
            (l[3] >> 39) | (l[4] << 12),
        ])
    }

    pub(crate) fn add(self, rhs: Fe) -> Fe {
        let mut l = [0u64; 5];
        for (i, limb) in l.iter_mut().enumerate() {
            *limb = self.0[i] + rhs.0[i];
        }
        Fe(carry(l))
    }

    pub(crate) fn sub(self, rhs: Fe) -> Fe {
        let mut l = [0u64; 5];
        for (i, limb) in l.iter_mut().enumerate() {
            *limb = self.0[i] + TWO_P[i] - rhs.0[i];
        }
        Fe(carry(l))
    }

    pub(crate) fn mul(self, rhs: Fe) -> Fe {
        let a = self.0;
        let b = rhs.0;
        // 2^255 ≡ 19, so a limb product landing at 2^(51·(i+j)) with i + j ≥ 5 comes back at
        // 2^(51·(i+j−5)) times 19. Limbs < 2^52 and 19·b < 2^57: five terms < 2^111 per column.
        let m = |x: u64, y: u64| u128::from(x) * u128::from(y);
        let b19 = [0, 19 * b[1], 19 * b[2], 19 * b[3], 19 * b[4]];
        let c0 =
            m(a[0], b[0]) + m(a[1], b19[4]) + m(a[2], b19[3]) + m(a[3], b19[2]) + m(a[4], b19[1]);
        let c1 =
            m(a[0], b[1]) + m(a[1], b[0]) + m(a[2], b19[4]) + m(a[3], b19[3]) + m(a[4], b19[2]);
        let c2 = m(a[0], b[2]) + m(a[1], b[1]) + m(a[2], b[0]) + m(a[3], b19[4]) + m(a[4], b19[3]);
        let c3 = m(a[0], b[3]) + m(a[1], b[2]) + m(a[2], b[1]) + m(a[3], b[0]) + m(a[4], b19[4]);
        let c4 = m(a[0], b[4]) + m(a[1], b[3]) + m(a[2], b[2]) + m(a[3], b[1]) + m(a[4], b[0]);
        carry_wide([c0, c1, c2, c3, c4])
    }

    pub(crate) fn square(self) -> Fe {
        self.mul(self)
    }

    /// `self` squared `n` times.
    pub(crate) fn square_n(self, n: u32) -> Fe {
        let mut x = self;
        for _ in 0..n {
            x = x.square();
        }
        x
    }

    /// Multiplication by a constant below 2^32.
    pub(crate) fn mul_small(self, k: u64) -> Fe {
        debug_assert!(k < 1 << 32);
        let mut c = [0u128; 5];
        for (ci, &ai) in c.iter_mut().zip(&self.0) {
            *ci = u128::from(ai) * u128::from(k);
        }
        carry_wide(c)
    }

    pub(crate) fn invert(self) -> Fe {
        crate::invert_chain!(self, Fe::mul, Fe::square_n)
    }

    /// Swap `a` and `b` when `swap` is 1, leave them when it is 0, without a branch.
    fn cswap(a: &mut Fe, b: &mut Fe, swap: u64) {
        // black_box keeps the compiler from turning the all-ones-or-zero mask back into a
        // branch on the secret bit.
        let mask = std::hint::black_box(0u64.wrapping_sub(swap));
        for (x, y) in a.0.iter_mut().zip(b.0.iter_mut()) {
            let t = mask & (*x ^ *y);
            *x ^= t;
            *y ^= t;
        }
    }
}

/// One carry pass over limbs below 2^62: afterwards limb 1 ≤ 2^51 and the others < 2^51.
fn carry(mut l: [u64; 5]) -> [u64; 5] {
    for i in 0..4 {
        l[i + 1] += l[i] >> 51;
        l[i] &= MASK51;
    }
    let top = l[4] >> 51;
    l[4] &= MASK51;
    l[0] += 19 * top;
    l[1] += l[0] >> 51;
    l[0] &= MASK51;
    l
}

/// Carry 128-bit columns (each < 2^111) down to a carried element (limb 1 < 2^51 + 2^16, the
/// others < 2^51).
fn carry_wide(c: [u128; 5]) -> Fe {
    let mask = u128::from(MASK51);
    let mut l = [0u64; 5];
    let mut acc: u128 = 0;
    for i in 0..5 {
        acc += c[i];
        l[i] = (acc & mask) as u64; // masked to 51 bits: the cast keeps every bit
        acc >>= 51;
    }
    // acc < 2^61; 19·acc < 2^66 is folded into limb 0 (2^255 ≡ 19) and carried once more.
    let folded = u128::from(l[0]) + 19 * acc;
    l[0] = (folded & mask) as u64; // masked to 51 bits
    let up = (folded >> 51) as u64; // < 2^16
    l[1] += up;
    Fe(l)
}

/// X25519(k, u) of RFC 7748 §5: the Montgomery ladder over all 255 bits of the clamped scalar,
/// then one inversion.
pub(crate) fn x25519(scalar: &[u8; X25519_LEN], u: &[u8; X25519_LEN]) -> [u8; X25519_LEN] {
    let mut k = clamp(scalar);
    let x1 = Fe::from_bytes(u);
    let (mut x2, mut z2, mut x3, mut z3) = (Fe::ONE, Fe::ZERO, x1, Fe::ONE);
    let a24 = A24;
    let mut swap = 0u64;
    for t in (0..255).rev() {
        let bit = u64::from((k[t / 8] >> (t % 8)) & 1);
        swap ^= bit;
        Fe::cswap(&mut x2, &mut x3, swap);
        Fe::cswap(&mut z2, &mut z3, swap);
        swap = bit;

        let a = x2.add(z2);
        let aa = a.square();
        let b = x2.sub(z2);
        let bb = b.square();
        let e = aa.sub(bb);
        let c = x3.add(z3);
        let d = x3.sub(z3);
        let da = d.mul(a);
        let cb = c.mul(b);
        x3 = da.add(cb).square();
        z3 = x1.mul(da.sub(cb).square());
        x2 = aa.mul(bb);
        z2 = e.mul(aa.add(e.mul_small(a24)));
    }
    k.zeroize();
    Fe::cswap(&mut x2, &mut x3, swap);
    Fe::cswap(&mut z2, &mut z3, swap);
    x2.mul(z2.invert()).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p − 1 + k in radix 2^51, for small k, as little-endian bytes (the non-canonical encodings
    /// p .. 2^255 − 1 when k ≥ 1).
    fn p_minus_1_plus(k: u8) -> [u8; 32] {
        let mut b = [0xffu8; 32];
        b[31] = 0x7f;
        b[0] = 0xec + k; // p − 1 = 2^255 − 20 ends in 0xec
        b
    }

    #[test]
    fn canonical_encoding_reduces_values_at_and_above_p() {
        // p encodes as 0, p + 1 as 1, 2^255 − 1 = p + 18 as 18.
        assert_eq!(Fe::from_bytes(&p_minus_1_plus(1)).to_bytes(), [0; 32]);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(Fe::from_bytes(&p_minus_1_plus(2)).to_bytes(), one);
        let mut eighteen = [0u8; 32];
        eighteen[0] = 18;
        assert_eq!(Fe::from_bytes(&p_minus_1_plus(19)).to_bytes(), eighteen);
        // p − 1 stays.
        assert_eq!(
            Fe::from_bytes(&p_minus_1_plus(0)).to_bytes(),
            p_minus_1_plus(0)
        );
    }

    #[test]
    fn field_identities_hold() {
        let x = Fe::from_bytes(&[0xa7; 32]);
        let y = Fe::from_bytes(&p_minus_1_plus(0)); // −1
        assert_eq!(x.mul(x.invert()).to_bytes(), Fe::ONE.to_bytes());
        assert_eq!(x.mul(y).add(x).to_bytes(), [0; 32]);
        assert_eq!(x.sub(x).to_bytes(), [0; 32]);
        assert_eq!(y.square().to_bytes(), Fe::ONE.to_bytes());
        assert_eq!(
            x.mul_small(A24).to_bytes(),
            x.mul(Fe::from_u64(A24)).to_bytes()
        );
    }
}
