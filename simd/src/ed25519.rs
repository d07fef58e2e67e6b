//! The group arithmetic of an Ed25519 verification, [`ed25519_double_base_batch`]: many
//! independent `[s]B − [k]A`, one per lane, with the key `A` decoded as aws-lc decodes it.
//!
//! What this computes is the part of RFC 8032 §5.1.7 that costs: decoding the key and the two
//! scalar multiplications. The caller checks the lengths and `s < ℓ`, hashes
//! `k = SHA-512(R ‖ A ‖ M) mod ℓ`, and compares the encoding returned here with `R` byte for
//! byte. Members of one group must accept exactly the same signatures, so the caller's rule is
//! a fixed one (Canopy's is aws-lc's, see the engine's `crypto::ed25519`), and the key decoding
//! here is that rule's:
//!
//! - `y`, the low 255 bits, must be canonical (`y < p`): the 19 encodings `p ≤ y < 2²⁵⁵` are
//!   rejected, not reduced;
//! - `x² = (y² − 1)/(d·y² + 1)` must have a root;
//! - a root of 0 (`y = ±1`) with the sign bit set ("negative zero") is rejected;
//! - nothing checks the subgroup: small-order and mixed-order keys decode.
//!
//! The result is `−A` as a point (not `[ℓ − k]A`, which differs for a key with a torsion
//! component) multiplied by `k`, plus `[s]B`, encoded canonically (`y < p`, the sign of `x` in
//! bit 255).
//!
//! # Backends
//!
//! - [`Backend::Avx512Ifma`]: eight lanes; per lane a signed radix-16 window over both
//!   scalars at once (Straus), 252 doublings and 128 additions, a per-lane table of `−A`'s
//!   multiples and a shared table of `B`'s. Variable time: every input is public.
//! - [`Backend::Portable`] and [`Backend::Avx2`]: the serial reference below, a plain
//!   double-and-add on extended coordinates with the unified addition law, different on
//!   purpose from the lanes' windows and point forms, and several times slower than aws-lc.
//!   There are no AVX2 Ed25519 lanes (not written); the engine verifies on aws-lc or
//!   curve25519-dalek's AVX2 backend on such hosts.
//!
//! Both are tested against each other here (`tests/ed25519.rs`) and, through the engine's
//! verifier, against aws-lc case by case.
//!
//! The serial arithmetic here also builds the comb of the fixed-base X25519 lanes (`Comb`).

use crate::portable::Fe;
use crate::{backend, host_features, Backend, Error};

/// One lane's input: the key's 32 bytes as received and the two scalars, little-endian, each
/// below the group order ℓ (the caller has checked `s < ℓ` and reduced `k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoubleBaseInput {
    /// The public key `A` as received.
    pub key: [u8; 32],
    /// `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
    pub k: [u8; 32],
    /// The signature's `s`.
    pub s: [u8; 32],
}

/// `out[i]` = the canonical encoding of `[s]B − [k]A` for input `i`, or `None` where the key
/// does not decode (module docs). Any batch length works: full registers, then a padded tail.
///
/// Errors: [`Error::LengthMismatch`] if `inputs` and `out` differ in length,
/// [`Error::Unavailable`] if this CPU does not run `backend`.
pub fn ed25519_double_base_batch(
    backend: Backend,
    inputs: &[DoubleBaseInput],
    out: &mut [Option<[u8; 32]>],
) -> Result<(), Error> {
    if inputs.len() != out.len() {
        return Err(Error::LengthMismatch {
            scalars: inputs.len(),
            points: inputs.len(),
            outputs: out.len(),
        });
    }
    backend.require()?;
    match backend {
        Backend::Portable | Backend::Avx2 => {
            // d and B once per batch: each costs an exponentiation.
            let d = edwards_d();
            let b = Point::decode(&BASE_BYTES, d).expect("the base point decodes");
            for (i, o) in inputs.iter().zip(out.iter_mut()) {
                *o = double_base(i, d, b);
            }
        }
        Backend::Avx512Ifma => {
            let tables = tables();
            let per_call = 8 * crate::GROUP;
            for (chunk, o) in inputs.chunks(per_call).zip(out.chunks_mut(per_call)) {
                // The last register is padded with copies of the chunk's first input:
                // computed, then discarded.
                let registers = chunk.len().div_ceil(8);
                let mut lanes = [[chunk[0]; 8]; crate::GROUP];
                for (i, input) in chunk.iter().enumerate() {
                    lanes[i / 8][i % 8] = *input;
                }
                let mut r = [[None; 8]; crate::GROUP];
                backend::avx512ifma_double_base(&lanes[..registers], tables, &mut r[..registers])
                    .ok_or_else(|| Error::Unavailable {
                    backend,
                    features: host_features(),
                })?;
                for (i, o) in o.iter_mut().enumerate() {
                    *o = r[i / 8][i % 8];
                }
            }
        }
    }
    Ok(())
}

/// The checks of the key decoding (module docs) that look at the bytes alone: `y`, the low
/// 255 bits, is below p, and the key is not a "negative zero" (`y = ±1`, whose `x` is 0,
/// with the sign bit set). Whether `x² = (y² − 1)/(d·y² + 1)` has a root is the arithmetic's
/// to find out. Public so that a verifier on other arithmetic (the engine's on
/// curve25519-dalek, whose own decoding is more lenient) applies the same byte rule.
pub fn ed25519_key_bytes_ok(key: &[u8; 32]) -> bool {
    let mut y = *key;
    y[31] &= 0x7f;
    let sign = key[31] >> 7 == 1;
    let one = {
        let mut o = [0u8; 32];
        o[0] = 1;
        o
    };
    let minus_one = {
        let mut m = P_BYTES;
        m[0] = 0xec;
        m
    };
    less_than_p(&y) && !(sign && (y == one || y == minus_one))
}

/// p = 2²⁵⁵ − 19, little-endian.
const P_BYTES: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Whether the little-endian `y` (top bit clear) is below p. Public input: variable time.
fn less_than_p(y: &[u8; 32]) -> bool {
    for (a, b) in y.iter().rev().zip(P_BYTES.iter().rev()) {
        if a != b {
            return a < b;
        }
    }
    false
}

/// √−1 = 2^((p − 1)/4) mod p, little-endian (tested to square to −1).
pub(crate) const SQRT_M1: [u8; 32] = [
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
];

/// The base point's encoding (RFC 8032 §5.1): y = 4/5, x even.
const BASE_BYTES: [u8; 32] = {
    let mut b = [0x66; 32];
    b[0] = 0x58;
    b
};

/// d = −121665/121666.
fn edwards_d() -> Fe {
    Fe::ZERO
        .sub(Fe::from_u64(121_665))
        .mul(Fe::from_u64(121_666).invert())
}

/// z^((p − 5)/8) = z^(2²⁵² − 3): the chain of [`crate::invert_chain`] up to 2²⁵⁰ − 1, then
/// two squarings and a multiplication by z.
macro_rules! pow22523_chain {
    ($z:expr, $mul:expr, $sqn:expr) => {{
        let z = $z;
        let z2 = $sqn(z, 1);
        let z9 = $mul($sqn(z2, 2), z);
        let z11 = $mul(z9, z2);
        let z_5_0 = $mul($sqn(z11, 1), z9);
        let z_10_0 = $mul($sqn(z_5_0, 5), z_5_0);
        let z_20_0 = $mul($sqn(z_10_0, 10), z_10_0);
        let z_40_0 = $mul($sqn(z_20_0, 20), z_20_0);
        let z_50_0 = $mul($sqn(z_40_0, 10), z_10_0);
        let z_100_0 = $mul($sqn(z_50_0, 50), z_50_0);
        let z_200_0 = $mul($sqn(z_100_0, 100), z_100_0);
        let z_250_0 = $mul($sqn(z_200_0, 50), z_50_0);
        $mul($sqn(z_250_0, 2), z) // 2^252 − 3
    }};
}
pub(crate) use pow22523_chain;

/// A point in extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z.
#[derive(Clone, Copy)]
struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

impl Point {
    const IDENTITY: Point = Point {
        x: Fe::ZERO,
        y: Fe::ONE,
        z: Fe::ONE,
        t: Fe::ZERO,
    };

    /// The unified addition law for a = −1 (Hisil, Wong, Carter, Dawson 2008, "add-2008-hwcd-3"),
    /// complete on the curve because d is not a square: it also doubles and adds torsion.
    fn add(self, q: Point, d2: Fe) -> Point {
        let a = self.y.sub(self.x).mul(q.y.sub(q.x));
        let b = self.y.add(self.x).mul(q.y.add(q.x));
        let c = self.t.mul(d2).mul(q.t);
        let d = self.z.add(self.z).mul(q.z);
        let (e, f, g, h) = (b.sub(a), d.sub(c), d.add(c), b.add(a));
        Point {
            x: e.mul(f),
            y: g.mul(h),
            z: f.mul(g),
            t: e.mul(h),
        }
    }

    fn neg(self) -> Point {
        Point {
            x: Fe::ZERO.sub(self.x),
            t: Fe::ZERO.sub(self.t),
            ..self
        }
    }

    /// `[k]self`, most significant bit first. Variable time: public inputs only.
    fn mul(self, k: &[u8; 32], d2: Fe) -> Point {
        let mut acc = Point::IDENTITY;
        for bit in (0..256).rev() {
            acc = acc.add(acc, d2);
            if (k[bit / 8] >> (bit % 8)) & 1 == 1 {
                acc = acc.add(self, d2);
            }
        }
        acc
    }

    fn encode(self) -> [u8; 32] {
        let zi = self.z.invert();
        let x = self.x.mul(zi).to_bytes();
        let mut y = self.y.mul(zi).to_bytes();
        y[31] |= (x[0] & 1) << 7;
        y
    }

    /// The key decoding of the module docs, serially.
    fn decode(bytes: &[u8; 32], d: Fe) -> Option<Point> {
        if !ed25519_key_bytes_ok(bytes) {
            return None;
        }
        let y = Fe::from_bytes(bytes); // bit 255 ignored
        let yy = y.square();
        let u = yy.sub(Fe::ONE);
        let v = yy.mul(d).add(Fe::ONE);
        let v3 = v.square().mul(v);
        let v7 = v3.square().mul(v);
        let mut x = u
            .mul(v3)
            .mul(pow22523_chain!(u.mul(v7), Fe::mul, Fe::square_n));
        let vxx = v.mul(x.square()).to_bytes();
        if vxx == u.to_bytes() {
        } else if vxx == Fe::ZERO.sub(u).to_bytes() {
            x = x.mul(Fe::from_bytes(&SQRT_M1));
        } else {
            return None;
        }
        if x.to_bytes()[0] & 1 != bytes[31] >> 7 {
            x = Fe::ZERO.sub(x);
        }
        Some(Point {
            x,
            y,
            z: Fe::ONE,
            t: x.mul(y),
        })
    }
}

/// The serial reference of one lane, with the curve's d and its base point B.
fn double_base(input: &DoubleBaseInput, d: Fe, b: Point) -> Option<[u8; 32]> {
    let d2 = d.add(d);
    let a = Point::decode(&input.key, d)?;
    let r = b.mul(&input.s, d2).add(a.neg().mul(&input.k, d2), d2);
    Some(r.encode())
}

/// The constants of the eight-lane backend, computed once by the serial field: d, 2d, √−1,
/// and the affine Niels forms (y + x, y − x, 2d·x·y) of `[j]B` for j = 0..8, each as five
/// radix-2^52 limbs of the canonical value.
#[derive(Debug)]
pub(crate) struct Tables {
    pub(crate) d: [u64; 5],
    pub(crate) d2: [u64; 5],
    pub(crate) sqrt_m1: [u64; 5],
    /// `base[j][c]`: coordinate c (y + x, y − x, 2d·x·y) of `[j]B`.
    pub(crate) base: [[[u64; 5]; 3]; 9],
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let d = edwards_d();
        let d2 = d.add(d);
        let b = Point::decode(&BASE_BYTES, d).expect("the base point decodes");
        let mut base = [[[0u64; 5]; 3]; 9];
        let mut p = Point::IDENTITY;
        for entry in base.iter_mut() {
            let zi = p.z.invert();
            let (x, y) = (p.x.mul(zi), p.y.mul(zi));
            *entry = [
                limbs52(y.add(x)),
                limbs52(y.sub(x)),
                limbs52(x.mul(y).mul(d2)),
            ];
            p = p.add(b, d2);
        }
        Tables {
            d: limbs52(d),
            d2: limbs52(d2),
            sqrt_m1: limbs52(Fe::from_bytes(&SQRT_M1)),
            base,
        }
    })
}

/// The table of the fixed-base X25519 lanes ([`crate::x25519_base_batch`] on AVX-512 IFMA),
/// which compute `[k]B` on the Edwards form and map it to u = (1 + y)/(1 − y) (B maps to
/// u = 9). `rows[i][c][l][j]` is limb `l` (radix 2^52, canonical) of coordinate `c`
/// (y + x, y − x, 2d·x·y) of `[j + 1]·256^i·B`, for i = 0..32 and j = 0..8: each row's
/// coordinate limb holds its eight entries side by side, one register's worth, so that a lane
/// picks its entry with one permutation of registers rather than with a memory index that
/// would depend on the (secret) scalar.
pub(crate) struct Comb {
    pub(crate) rows: Box<[CombRow; 32]>,
}

/// One row of [`Comb`].
pub(crate) type CombRow = [[[u64; 8]; 5]; 3];

/// The comb, computed once per process by the serial arithmetic: 256 affine points, about a
/// millisecond on the Xeon host, paid by the first fixed-base batch.
pub(crate) fn comb() -> &'static Comb {
    static COMB: std::sync::OnceLock<Comb> = std::sync::OnceLock::new();
    COMB.get_or_init(|| {
        let d = edwards_d();
        let d2 = d.add(d);
        let mut row_base = Point::decode(&BASE_BYTES, d).expect("the base point decodes");
        let mut rows = Box::new([[[[0u64; 8]; 5]; 3]; 32]);
        for row in rows.iter_mut() {
            let mut p = row_base;
            for entry in 0..8 {
                let zi = p.z.invert();
                let (x, y) = (p.x.mul(zi), p.y.mul(zi));
                let niels = [y.add(x), y.sub(x), x.mul(y).mul(d2)].map(limbs52);
                for (coordinate, limbs) in row.iter_mut().zip(niels) {
                    for (slot, limb) in coordinate.iter_mut().zip(limbs) {
                        slot[entry] = limb;
                    }
                }
                p = p.add(row_base, d2);
            }
            for _ in 0..8 {
                row_base = row_base.add(row_base, d2);
            }
        }
        Comb { rows }
    })
}

/// The canonical value of `x` as five radix-2^52 limbs (the top one below 2^47).
fn limbs52(x: Fe) -> [u64; 5] {
    let w = crate::words(&x.to_bytes());
    [
        crate::bit_field(&w, 0, 52),
        crate::bit_field(&w, 52, 52),
        crate::bit_field(&w, 104, 52),
        crate::bit_field(&w, 156, 52),
        crate::bit_field(&w, 208, 47),
    ]
}

/// Signed radix-16 digits of a scalar below 2^255: 64 digits in [−8, 8), the last in
/// [−8, 8], with Σ dᵢ·16^i = the scalar.
pub(crate) fn radix16(s: &[u8; 32]) -> [i8; 64] {
    let mut d = [0i8; 64];
    for (i, &b) in s.iter().enumerate() {
        d[2 * i] = (b & 15) as i8; // < 16: fits
        d[2 * i + 1] = (b >> 4) as i8;
    }
    for i in 0..63 {
        let carry = (d[i] + 8) >> 4;
        d[i] -= carry << 4;
        d[i + 1] += carry;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_what_they_claim() {
        let m1 = Fe::from_bytes(&SQRT_M1);
        assert_eq!(m1.square().to_bytes(), Fe::ZERO.sub(Fe::ONE).to_bytes());
        let d = edwards_d();
        assert_eq!(
            d.mul(Fe::from_u64(121_666))
                .add(Fe::from_u64(121_665))
                .to_bytes(),
            [0; 32]
        );
        let b = Point::decode(&BASE_BYTES, d).unwrap();
        assert_eq!(b.encode(), BASE_BYTES);
        // x of B is even (its encoding has a clear top bit) and B has order ℓ.
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let d2 = d.add(d);
        assert_eq!(b.mul(&ell, d2).encode(), Point::IDENTITY.encode());
    }

    /// The canonical bound, byte for byte: y = p − 1 is canonical, y = p … 2²⁵⁵ − 1 are not,
    /// and a difference in a low byte decides only when every higher byte is equal.
    #[test]
    fn less_than_p_is_the_canonical_bound() {
        let mut p_minus_1 = P_BYTES;
        p_minus_1[0] = 0xec;
        assert!(less_than_p(&p_minus_1));
        assert!(less_than_p(&[0; 32]));
        for low in 0xed..=0xff {
            let mut y = P_BYTES;
            y[0] = low;
            assert!(!less_than_p(&y), "y = p + {}", low - 0xed);
        }
        let mut y = P_BYTES;
        y[0] = 0xff;
        y[1] = 0xfe;
        assert!(less_than_p(&y));
        let mut top = [0u8; 32];
        top[31] = 0x7f;
        assert!(less_than_p(&top));
    }

    /// The two negative zeros are refused by their bytes, their positive twins pass.
    #[test]
    fn negative_zeros_are_refused() {
        let mut one = [0u8; 32];
        one[0] = 1;
        let mut minus_one = P_BYTES;
        minus_one[0] = 0xec;
        for y in [one, minus_one] {
            assert!(ed25519_key_bytes_ok(&y));
            let mut negative = y;
            negative[31] |= 0x80;
            assert!(!ed25519_key_bytes_ok(&negative));
        }
    }

    #[test]
    fn comb_entries_are_the_multiples_they_claim() {
        let d = edwards_d();
        let d2 = d.add(d);
        let b = Point::decode(&BASE_BYTES, d).unwrap();
        let comb = comb();
        let mut checked = 0;
        for i in [0usize, 1, 17, 31] {
            for j in 0..8 {
                // (j + 1)·256^i as a little-endian scalar.
                let mut k = [0u8; 32];
                k[i] = (j + 1) as u8;
                let p = b.mul(&k, d2);
                let zi = p.z.invert();
                let (x, y) = (p.x.mul(zi), p.y.mul(zi));
                let want = [y.add(x), y.sub(x), x.mul(y).mul(d2)].map(limbs52);
                for (c, w) in want.iter().enumerate() {
                    for (l, limb) in w.iter().enumerate() {
                        assert_eq!(comb.rows[i][c][l][j], *limb, "row {i} entry {j}");
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 32);
    }

    #[test]
    fn radix16_digits_recompose() {
        for s in [[0u8; 32], [0xff; 32], {
            let mut x = [0x88u8; 32];
            x[31] = 0x7f;
            x
        }] {
            let mut s = s;
            s[31] &= 0x7f;
            let d = radix16(&s);
            assert!(d[..63].iter().all(|&x| (-8..8).contains(&x)));
            assert!((-8..=8).contains(&d[63]));
            // Σ dᵢ 16^i as a little-endian big integer, by bytes with carries.
            let mut acc = [0i32; 33];
            for (i, &x) in d.iter().enumerate() {
                acc[i / 2] += i32::from(x) << (4 * (i % 2));
            }
            let mut out = [0u8; 32];
            let mut carry = 0i32;
            for i in 0..32 {
                let v = acc[i] + carry;
                out[i] = v.rem_euclid(256) as u8;
                carry = v.div_euclid(256);
            }
            assert_eq!(carry, 0);
            assert_eq!(out, s);
        }
    }
}
