//! Ed25519 verification on curve25519-dalek's AVX2 backend (`crypto::ed25519::verify`, behind
//! `CANOPY_CRYPTO=avx2`) and on canopy-simd's AVX-512 IFMA lanes (`crypto::ed25519::verify_lanes`,
//! behind `avx512` and `auto` on such a CPU) decides every case exactly as aws-lc does: the same
//! accept or reject, the same error. Members that disagree on a signature fork their group, so
//! agreement is checked case by case, through every backend this host runs (the others are
//! printed as not tested), one at a time and in sliding batches of eleven (every lane position):
//!
//! - Wycheproof's `ed25519_test.json` (vendored in `engine/test_vectors/`);
//! - the edge cases of "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko, SSR 2020);
//! - crafted cases for each clause of the rule in `crypto::ed25519`: small-order, mixed-order
//!   and non-canonical `A` and `R`, out-of-range `s`, zero and truncated signatures;
//! - random honest signatures and random single-bit corruptions of `R`, `s`, `A` and `M`
//!   (20,000 each here, 1,000,000 each in the ignored `random_signatures_agree_at_scale`).
//!
//! The crafted cases build signatures with known discrete logarithms, so each also states what
//! the rule decides and why; aws-lc deciding otherwise fails the test as much as dalek
//! disagreeing with aws-lc does.
//!
//! dalek runs one vector backend per process, the best its build and the CPU allow; this
//! workspace does not compile its IFMA backend, so it runs AVX2 on every AVX2 host.

use std::sync::OnceLock;

use aws_lc_rs::digest;
use canopy_engine::crypto::backend::{self, CryptoBackend};
use canopy_engine::crypto::{awslc, ed25519, CipherSuite, CryptoError, Provider};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

/// Random cases of each kind in the quick tests.
const QUICK: usize = 20_000;
/// Random cases of each kind in the ignored test.
const AT_SCALE: usize = 1_000_000;

/// The backends this host runs besides aws-lc, printed once per test binary.
fn other_backends() -> &'static [CryptoBackend] {
    static BACKENDS: OnceLock<Vec<CryptoBackend>> = OnceLock::new();
    BACKENDS.get_or_init(|| {
        let mut run = Vec::new();
        for b in CryptoBackend::ALL {
            if b == CryptoBackend::Portable {
                continue;
            }
            match b.check_available() {
                Ok(()) => run.push(b),
                Err(e) => eprintln!(
                    "ed25519 agreement: {} NOT TESTED on this host: {e}",
                    b.name()
                ),
            }
        }
        eprintln!(
            "ed25519 agreement: aws-lc against {:?}",
            run.iter().map(|b| b.name()).collect::<Vec<_>>()
        );
        run
    })
}

/// aws-lc's decision, after checking that the dispatch to aws-lc, every dalek backend this
/// host runs and the verification of the message written in pieces decide the same (the same
/// `Result`, error included).
fn decide(case: &str, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let reference = awslc::ed25519_verify(pk, msg, sig);
    let portable = backend::ed25519_verify_with(CryptoBackend::Portable, pk, msg, sig);
    assert_eq!(portable, reference, "{case}: portable dispatch");
    for &b in other_backends() {
        let got = backend::ed25519_verify_with(b, pk, msg, sig);
        assert_eq!(
            got,
            reference,
            "{case}: {} disagrees with aws-lc\n pk {}\n msg {}\n sig {}",
            b.name(),
            hex::encode(pk),
            hex::encode(msg),
            hex::encode(sig)
        );
    }
    // The message hashed as it is written, in pieces: how a large GroupInfo is verified on
    // every backend but aws-lc, decided here whatever backends the host runs.
    let mut written = ed25519::Verification::new(pk, sig);
    let (front, back) = msg.split_at(msg.len() / 2);
    written.update(front);
    written.update(&[]);
    written.update(back);
    assert_eq!(written.finish(), reference, "{case}: hashed as written");
    in_batches(case, pk, msg, sig, &reference);
    reference
}

/// Cases per sliding batch: one register of eight lanes and three of the next, so that every
/// case passes through every lane position of a register and a padded tail.
const WINDOW: usize = 11;

/// One decided case: its name, key, message, signature and aws-lc's verdict.
type Decided = (String, Vec<u8>, Vec<u8>, Vec<u8>, Result<(), CryptoError>);

thread_local! {
    /// The last [`WINDOW`] cases this test thread decided.
    static RECENT: std::cell::RefCell<std::collections::VecDeque<Decided>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
    /// How many cases this test thread decided.
    static DECIDED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The batch path: the last [`WINDOW`] cases, this one last, through
/// `backend::ed25519_verify_batch_with` on every backend this host runs, each verdict equal to
/// aws-lc's single one. As the window slides, each case is verified at positions
/// `WINDOW − 1` down to 0 of a batch, beside different neighbours.
fn in_batches(case: &str, pk: &[u8], msg: &[u8], sig: &[u8], verdict: &Result<(), CryptoError>) {
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        if recent.len() == WINDOW {
            recent.pop_front();
        }
        recent.push_back((
            case.to_owned(),
            pk.to_vec(),
            msg.to_vec(),
            sig.to_vec(),
            verdict.clone(),
        ));
        let items: Vec<(&[u8], &[u8], &[u8])> = recent
            .iter()
            .map(|(_, pk, msg, sig, _)| (&pk[..], &msg[..], &sig[..]))
            .collect();
        // Only the lanes batch for real; the other backends' batches are loops over their
        // single verification, checked on every WINDOW-th case.
        let whole_window = recent.len() == WINDOW && DECIDED.get().is_multiple_of(WINDOW);
        DECIDED.set(DECIDED.get() + 1);
        for b in std::iter::once(&CryptoBackend::Portable).chain(other_backends()) {
            if *b != CryptoBackend::Avx512 && !whole_window {
                continue;
            }
            let got = backend::ed25519_verify_batch_with(*b, &items);
            assert_eq!(got.len(), items.len());
            for (position, (got, (case, .., want))) in got.iter().zip(recent.iter()).enumerate() {
                assert_eq!(
                    got,
                    want,
                    "{case}: {} in a batch of {} at position {position} disagrees with aws-lc",
                    b.name(),
                    items.len()
                );
            }
        }
    });
}

/// How many cases were decided, and how many of them aws-lc (and so every backend) accepted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    checked: usize,
    accepted: usize,
}

impl Tally {
    fn record(&mut self, verdict: &Result<(), CryptoError>) {
        self.checked += 1;
        self.accepted += usize::from(verdict.is_ok());
    }

    fn rejected(&self) -> usize {
        self.checked - self.accepted
    }
}

// ----- construction helpers -----

/// `SHA-512(R ‖ A ‖ M) mod ℓ`, RFC 8032's `k`.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = digest::Context::new(&digest::SHA512);
    h.update(r);
    h.update(a);
    h.update(msg);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(h.finish().as_ref());
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn random_scalar(rng: &mut ChaCha20Rng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn signature(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(s);
    sig
}

/// `[n]T` for a point `T` of order dividing 8, by repeated addition (`[k]T = [k mod 8]T`, and
/// the low three bits of `k`'s little-endian bytes are `k mod 8`).
fn torsion_multiple(t: &EdwardsPoint, k: &Scalar) -> EdwardsPoint {
    let mut acc = EdwardsPoint::identity();
    for _ in 0..(k.as_bytes()[0] & 7) {
        acc += t;
    }
    acc
}

/// The eight points of order dividing 8: `[i]T₈` for a generator `T₈`.
fn torsion() -> Vec<EdwardsPoint> {
    (0..8)
        .map(|i| {
            let mut p = EdwardsPoint::identity();
            for _ in 0..i {
                p += EIGHT_TORSION[1];
            }
            p
        })
        .collect()
}

/// Messages `prefix ‖ counter`, in order.
fn message(prefix: &[u8], i: u32) -> Vec<u8> {
    let mut m = prefix.to_vec();
    m.extend_from_slice(&i.to_le_bytes());
    m
}

/// Every 32-byte string whose low 255 bits are `p ≤ y < 2²⁵⁵`, with both sign bits.
fn non_canonical_y() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for low in 0xedu8..=0xff {
        for sign in [0u8, 0x80] {
            let mut e = [0xffu8; 32];
            e[0] = low;
            e[31] = 0x7f | sign;
            out.push(e);
        }
    }
    out
}

/// The two negative zeros: `y = 1` and `y = p − 1` with the sign bit set.
fn negative_zeros() -> [[u8; 32]; 2] {
    let mut one = [0u8; 32];
    one[0] = 1;
    one[31] = 0x80;
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    [one, minus_one]
}

// ----- published vectors -----

#[test]
fn wycheproof_ed25519_agrees_with_awslc() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/test_vectors/wycheproof/ed25519_test.json"
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut tally = Tally::default();
    for g in json["testGroups"].as_array().unwrap() {
        let pk = hex::decode(g["publicKey"]["pk"].as_str().unwrap()).unwrap();
        for t in g["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            let verdict = decide(&format!("wycheproof tcId {id}"), &pk, &msg, &sig);
            // Wycheproof marks each case valid or invalid; aws-lc follows it on every one.
            let want = t["result"].as_str().unwrap() == "valid";
            assert_eq!(verdict.is_ok(), want, "wycheproof tcId {id}: {verdict:?}");
            tally.record(&verdict);
        }
    }
    let total = json["numberOfTests"].as_u64().unwrap() as usize;
    assert_eq!(tally.checked, total, "{tally:?}");
    assert!(tally.accepted > 0 && tally.rejected() > 0, "{tally:?}");
    eprintln!("wycheproof: {tally:?}");
}

/// The test vectors of Chalkias, Garillot and Nikolaenko, "Taming the many EdDSAs" (Security
/// Standardisation Research 2020, eprint.iacr.org/2020/1244): `cases.json` of
/// github.com/novifinancial/ed25519-speccheck at commit
/// d2b2ba588feb81f64c30f7094c05803b5e7d0066, as (message, public key, signature), in its
/// order: small-order `A` and `R` with `s = 0` and `s > 0`, mixed-order `A` and `R`, cases
/// only a cofactored verifier accepts, `s ≥ ℓ`, a non-canonical `R` and a non-canonical `A`
/// (both the negative zero `y = p − 1` with the sign bit set).
const TAMING: [(&str, &str, &str); 15] = [
    (
        "2a66241a42a9ee12994d8068dcf1bb7dfc6637b45450acd43711f637fa5080fc",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa182ef1a5b928da07fec769cc8a12db6bcf70dab3f3227fa315e9d5e3e01a3405",
    ),
    (
        "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
    ),
    (
        "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
];

#[test]
fn taming_the_many_eddsas_agrees_with_awslc() {
    let mut tally = Tally::default();
    let mut verdicts = String::new();
    for (i, (msg, pk, sig)) in TAMING.iter().enumerate() {
        let (msg, pk, sig) = (
            hex::decode(msg).unwrap(),
            hex::decode(pk).unwrap(),
            hex::decode(sig).unwrap(),
        );
        let verdict = decide(&format!("taming case {i}"), &pk, &msg, &sig);
        verdicts.push(if verdict.is_ok() { 'V' } else { 'X' });
        tally.record(&verdict);
    }
    eprintln!("taming the many EdDSAs, aws-lc verdicts by case: {verdicts}");
    assert_eq!(tally.checked, TAMING.len());
    assert!(tally.accepted > 0 && tally.rejected() > 0, "{tally:?}");
}

// ----- crafted cases, one clause of the rule each -----

/// Decide a constructed case: aws-lc must decide as the rule says (`accept`), every backend
/// as aws-lc.
fn expect(case: &str, pk: &[u8], msg: &[u8], sig: &[u8], accept: bool, tally: &mut Tally) {
    let verdict = decide(case, pk, msg, sig);
    assert_eq!(
        verdict.is_ok(),
        accept,
        "{case}: aws-lc decided {verdict:?}; the rule says accept = {accept}"
    );
    tally.record(&verdict);
}

/// Rule 3 accepts every small-order key; rule 5 then accepts `s = r`, `R = [r]B` exactly when
/// `[k]A` vanishes, since `[s]B − [k]A = R − [k]A`.
#[test]
fn small_order_public_keys_decide_by_the_cofactorless_equation() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let mut tally = Tally::default();
    for (i, t) in torsion().iter().enumerate() {
        let a = t.compress().to_bytes();
        let before = tally;
        for j in 0..64 {
            let r = random_scalar(&mut rng);
            let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
            let msg = message(b"small-order A", j);
            let k = challenge(&big_r, &a, &msg);
            let accept = torsion_multiple(t, &k) == EdwardsPoint::identity();
            let sig = signature(&big_r, r.as_bytes());
            expect(
                &format!("small-order A {i}, message {j}"),
                &a,
                &msg,
                &sig,
                accept,
                &mut tally,
            );
        }
        let accepted = tally.accepted - before.accepted;
        // Both outcomes for every point but the identity, whose [k]A always vanishes.
        assert!(
            accepted > 0 && (i == 0 || accepted < 64),
            "A {i}: {accepted} of 64 accepted"
        );
    }
    assert_eq!(tally.checked, 8 * 64);
}

/// Rule 3 refuses the 38 encodings with `y ≥ p` and the two negative zeros. Where dalek's own
/// (lenient) decoding of one gives a small-order point, the signature is built so that a
/// verifier decoding that way would accept it.
#[test]
fn non_canonical_public_keys_are_refused() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let mut tally = Tally::default();
    let mut lenient_would_accept = 0;
    let encodings: Vec<[u8; 32]> = non_canonical_y()
        .into_iter()
        .chain(negative_zeros())
        .collect();
    for (i, enc) in encodings.iter().enumerate() {
        let lenient = CompressedEdwardsY(*enc).decompress();
        for j in 0..8 {
            let r = random_scalar(&mut rng);
            let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
            let msg = message(b"non-canonical A", j);
            let k = challenge(&big_r, enc, &msg);
            if lenient.is_some_and(|p| p.is_small_order() && torsion_multiple(&p, &k).is_identity())
            {
                lenient_would_accept += 1;
            }
            let sig = signature(&big_r, r.as_bytes());
            let case = format!("non-canonical A {i} ({}), message {j}", hex::encode(enc));
            expect(&case, enc, &msg, &sig, false, &mut tally);
        }
    }
    assert_eq!(encodings.len(), 40);
    assert_eq!(tally.checked, 40 * 8);
    assert!(lenient_would_accept > 0);
}

/// A mixed-order key `[a]B + T` with an honest `s = r + k·a`: `[s]B − [k]A = R − [k]T`, so the
/// signature is accepted exactly when `[k]T` vanishes.
#[test]
fn mixed_order_public_keys_accept_only_when_the_torsion_cancels() {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let mut tally = Tally::default();
    for (i, t) in torsion().iter().enumerate().skip(1) {
        let before = tally;
        for j in 0..64 {
            let a = random_scalar(&mut rng);
            let pk = (EdwardsPoint::mul_base(&a) + t).compress().to_bytes();
            let r = random_scalar(&mut rng);
            let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
            let msg = message(b"mixed-order A", j);
            let k = challenge(&big_r, &pk, &msg);
            let s = r + k * a;
            let accept = torsion_multiple(t, &k).is_identity();
            let sig = signature(&big_r, s.as_bytes());
            expect(
                &format!("mixed-order A +T{i}, message {j}"),
                &pk,
                &msg,
                &sig,
                accept,
                &mut tally,
            );
        }
        let accepted = tally.accepted - before.accepted;
        assert!(
            accepted > 0 && accepted < 64,
            "T{i}: {accepted} of 64 accepted"
        );
    }
    assert_eq!(tally.checked, 7 * 64);
}

/// Small-order `R`. With an honest key and `s = k·a`, `[s]B − [k]A` is the identity, so only
/// `R` = the identity's encoding is accepted. With a small-order key too and `s = 0`, the
/// check is `−[k]A = R`.
#[test]
fn small_order_nonces_decide_by_the_cofactorless_equation() {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let points = torsion();
    let mut honest_key = Tally::default();
    for (i, t) in points.iter().enumerate() {
        let big_r = t.compress().to_bytes();
        for j in 0..8 {
            let a = random_scalar(&mut rng);
            let pk = EdwardsPoint::mul_base(&a).compress().to_bytes();
            let msg = message(b"small-order R", j);
            let k = challenge(&big_r, &pk, &msg);
            let sig = signature(&big_r, (k * a).as_bytes());
            let case = format!("small-order R {i}, message {j}");
            expect(&case, &pk, &msg, &sig, i == 0, &mut honest_key);
        }
    }
    assert_eq!(
        honest_key,
        Tally {
            checked: 64,
            accepted: 8
        }
    );

    let mut small_key = Tally::default();
    for (i, ta) in points.iter().enumerate() {
        let pk = ta.compress().to_bytes();
        for (n, tr) in points.iter().enumerate() {
            let big_r = tr.compress().to_bytes();
            for j in 0..8 {
                let msg = message(b"small-order A and R", j);
                let k = challenge(&big_r, &pk, &msg);
                let accept = -torsion_multiple(ta, &k) == *tr;
                let sig = signature(&big_r, &[0; 32]);
                let case = format!("small-order A {i}, R {n}, s = 0, message {j}");
                expect(&case, &pk, &msg, &sig, accept, &mut small_key);
            }
        }
    }
    assert_eq!(small_key.checked, 8 * 8 * 8);
    assert!(
        small_key.accepted > 0 && small_key.rejected() > 0,
        "{small_key:?}"
    );
}

/// Mixed-order `R = [r]B + T_R`. With an honest key, `[s]B − [k]A = [r]B ≠ R`: always
/// rejected. With a mixed-order key `[a]B + T_A`, `[s]B − [k]A = [r]B − [k]T_A`: accepted
/// exactly when `−[k]T_A = T_R`.
#[test]
fn mixed_order_nonces_accept_only_when_the_torsion_cancels() {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let points = torsion();
    let mut tally = Tally::default();
    for (i, ta) in points.iter().enumerate() {
        for (n, tr) in points.iter().enumerate().skip(1) {
            for j in 0..8 {
                let a = random_scalar(&mut rng);
                let pk = (EdwardsPoint::mul_base(&a) + ta).compress().to_bytes();
                let r = random_scalar(&mut rng);
                let big_r = (EdwardsPoint::mul_base(&r) + tr).compress().to_bytes();
                let msg = message(b"mixed-order R", j);
                let k = challenge(&big_r, &pk, &msg);
                let s = r + k * a;
                let accept = -torsion_multiple(ta, &k) == *tr;
                assert!(i != 0 || !accept);
                let sig = signature(&big_r, s.as_bytes());
                let case = format!("A +T{i}, R +T{n}, message {j}");
                expect(&case, &pk, &msg, &sig, accept, &mut tally);
            }
        }
    }
    assert_eq!(tally.checked, 8 * 7 * 8);
    assert!(tally.accepted > 0 && tally.rejected() > 0, "{tally:?}");
}

/// Rule 5 compares bytes: for every non-canonical encoding `E` whose lenient decoding is a
/// small-order point `Q`, a signature with `[s]B − [k]A = Q` is built twice, once with `R = E`
/// (rejected) and once with `R` = `Q`'s canonical encoding (accepted). The key is
/// `[a]B − Q` and `s = k·a`, so `[s]B − [k]A = [k]Q`; messages are tried until `[k]Q = Q`.
#[test]
fn non_canonical_nonces_never_match() {
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    let mut non_canonical = Tally::default();
    let mut canonical = Tally::default();
    for enc in non_canonical_y().into_iter().chain(negative_zeros()) {
        let Some(q) = CompressedEdwardsY(enc)
            .decompress()
            .filter(|q| q.is_small_order())
        else {
            continue;
        };
        let a = random_scalar(&mut rng);
        let pk = (EdwardsPoint::mul_base(&a) - q).compress().to_bytes();
        for (big_r, accept, tally) in [
            (enc, false, &mut non_canonical),
            (q.compress().to_bytes(), true, &mut canonical),
        ] {
            let (msg, k) = (0..)
                .map(|j| message(b"non-canonical R", j))
                .map(|m| {
                    let k = challenge(&big_r, &pk, &m);
                    (m, k)
                })
                .find(|(_, k)| torsion_multiple(&q, k) == q)
                .unwrap();
            let sig = signature(&big_r, (k * a).as_bytes());
            let case = format!(
                "R {} for Q = {}",
                hex::encode(big_r),
                hex::encode(q.compress().as_bytes())
            );
            expect(&case, &pk, &msg, &sig, accept, tally);
        }
    }
    // y = p (the two points of order 4) and y = p + 1 (the identity) with either sign, and
    // the two negative zeros (the identity and the point of order 2).
    assert_eq!(non_canonical.checked, 6, "{non_canonical:?}");
    assert_eq!(non_canonical.accepted, 0);
    assert_eq!(
        canonical,
        Tally {
            checked: 6,
            accepted: 6
        }
    );
}

/// ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `x + y` as 256-bit little-endian integers, `None` on overflow.
fn add256(x: &[u8; 32], y: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, a), b) in out.iter_mut().zip(x).zip(y) {
        let sum = u16::from(*a) + u16::from(*b) + carry;
        *o = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

/// Rule 2: every `s ≥ ℓ` is refused, including `s + jℓ` of an accepted signature (which a
/// verifier reducing `s` would accept), `ℓ + small`, `2²⁵⁶ − 1` and `s` with its top bit set.
#[test]
fn out_of_range_s_is_refused() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let mut tally = Tally::default();
    let mut controls = Tally::default();
    for i in 0..16u8 {
        let (sk, pk) = p.signature_key_pair_from_seed(&[i; 32]).unwrap();
        let msg = message(b"s out of range", u32::from(i));
        let sig = p.sign_labeled(&sk, &msg).unwrap();
        expect(&format!("honest {i}"), &pk, &msg, &sig, true, &mut controls);
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        let mut shifted = s;
        for j in 1.. {
            let Some(next) = add256(&shifted, &ELL) else {
                break;
            };
            shifted = next;
            assert_eq!(Scalar::from_bytes_mod_order(shifted).to_bytes(), s);
            let bad = signature(sig[..32].try_into().unwrap(), &shifted);
            expect(
                &format!("honest {i}, s + {j}ℓ"),
                &pk,
                &msg,
                &bad,
                false,
                &mut tally,
            );
        }
        let mut high = s;
        high[31] |= 0x80;
        let bad = signature(sig[..32].try_into().unwrap(), &high);
        expect(
            &format!("honest {i}, top bit of s"),
            &pk,
            &msg,
            &bad,
            false,
            &mut tally,
        );
    }
    assert_eq!(
        controls,
        Tally {
            checked: 16,
            accepted: 16
        }
    );
    // Each s < ℓ < 2²⁵³ takes at least 14 multiples of ℓ below 2²⁵⁶, plus the top bit.
    assert!(tally.checked >= 16 * 15 && tally.accepted == 0, "{tally:?}");

    let (sk, pk) = p.signature_key_pair_from_seed(&[99; 32]).unwrap();
    let sig = p.sign_labeled(&sk, b"m").unwrap();
    let r: [u8; 32] = sig[..32].try_into().unwrap();
    let mut edges = Tally::default();
    for small in 0..4u8 {
        let mut small_bytes = [0u8; 32];
        small_bytes[0] = small;
        let s = add256(&ELL, &small_bytes).unwrap();
        expect(
            &format!("s = ℓ + {small}"),
            &pk,
            b"m",
            &signature(&r, &s),
            false,
            &mut edges,
        );
    }
    expect(
        "s = 2²⁵⁶ − 1",
        &pk,
        b"m",
        &signature(&r, &[0xff; 32]),
        false,
        &mut edges,
    );
    assert_eq!(edges.checked, 5);
}

/// All-zero signatures (R is then the point (√−1, 0) of order 4, s = 0), under an honest key,
/// the identity and every small-order key; and inputs of the wrong length, which get the
/// same error from both (the key's length is checked first).
#[test]
fn zero_and_truncated_inputs_get_the_same_errors() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let (sk, pk) = p.signature_key_pair_from_seed(&[5; 32]).unwrap();
    let sig = p.sign_labeled(&sk, b"message").unwrap();
    let mut tally = Tally::default();
    for j in 0..8 {
        let msg = message(b"zero", j);
        tally.record(&decide("zero signature, honest key", &pk, &msg, &[0; 64]));
        for (i, t) in torsion().iter().enumerate() {
            let a = t.compress().to_bytes();
            tally.record(&decide(
                &format!("zero signature, A {i}"),
                &a,
                &msg,
                &[0; 64],
            ));
        }
    }
    assert_eq!(tally.checked, 8 * 9);

    for len in [0, 31, 33, 64] {
        let short = vec![1u8; len];
        let got = decide(&format!("key of {len} bytes"), &short, b"message", &sig);
        assert_eq!(got, Err(CryptoError::InvalidPublicKey));
        let got = decide(
            &format!("key of {len} bytes, short sig"),
            &short,
            b"message",
            &sig[..10],
        );
        assert_eq!(got, Err(CryptoError::InvalidPublicKey));
    }
    let mut long = sig.clone();
    long.push(0);
    for bad in [&sig[..0], &sig[..32], &sig[..63], &long[..]] {
        let got = decide(
            &format!("signature of {} bytes", bad.len()),
            &pk,
            b"message",
            bad,
        );
        assert_eq!(got, Err(CryptoError::InvalidSignature));
    }
    assert_eq!(decide("honest", &pk, b"message", &sig), Ok(()));
}

// ----- random signatures and corruptions -----

/// Where a corruption flipped its bit.
const KINDS: [&str; 4] = ["R", "s", "A", "M"];

/// `n` honest signatures (a fresh key each, messages of 1 to 300 bytes) and one single-bit
/// corruption of each, in `R`, `s`, `A` or `M` in turn, at a random bit.
fn random_cases(n: usize, seed: u8) -> (Tally, Tally, [usize; 4]) {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let (mut honest, mut corrupted, mut kinds) = (Tally::default(), Tally::default(), [0; 4]);
    for i in 0..n {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let (sk, pk) = p.signature_key_pair_from_seed(&seed).unwrap();
        let mut msg = vec![0u8; 1 + (rng.next_u32() % 300) as usize];
        rng.fill_bytes(&mut msg);
        let mut sig = p.sign_labeled(&sk, &msg).unwrap();
        honest.record(&decide(&format!("random {i}"), &pk, &msg, &sig));

        let kind = i % 4;
        let mut pk = pk;
        let target: &mut [u8] = match kind {
            0 => &mut sig[..32],
            1 => &mut sig[32..],
            2 => &mut pk[..],
            _ => &mut msg[..],
        };
        let bit = (rng.next_u32() as usize) % (target.len() * 8);
        target[bit / 8] ^= 1 << (bit % 8);
        kinds[kind] += 1;
        let case = format!("random {i}, bit {bit} of {} flipped", KINDS[kind]);
        corrupted.record(&decide(&case, &pk, &msg, &sig));
    }
    (honest, corrupted, kinds)
}

fn check_random(n: usize, seed: u8) {
    let (honest, corrupted, kinds) = random_cases(n, seed);
    eprintln!("random: honest {honest:?}, corrupted {corrupted:?} (R, s, A, M: {kinds:?})");
    assert_eq!(
        honest,
        Tally {
            checked: n,
            accepted: n
        }
    );
    assert_eq!(corrupted.checked, n);
    assert_eq!(kinds.iter().sum::<usize>(), n);
    assert!(kinds.iter().all(|&k| k >= n / 4), "{kinds:?}");
}

#[test]
fn random_signatures_agree() {
    check_random(QUICK, 7);
}

#[test]
#[ignore = "a million of each: minutes; run with --ignored"]
fn random_signatures_agree_at_scale() {
    check_random(AT_SCALE, 8);
}

/// The basepoint is what the vector backends precompute; a key equal to it (secret 1) and to
/// its negation must decide the same too.
#[test]
fn basepoint_keys_agree() {
    let mut tally = Tally::default();
    for (name, a) in [("1", Scalar::ONE), ("−1", -Scalar::ONE)] {
        let pk = EdwardsPoint::mul_base(&a).compress().to_bytes();
        for j in 0..16 {
            let msg = message(b"basepoint key", j);
            let r = Scalar::from(u64::from(j) + 1);
            let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
            let s = r + challenge(&big_r, &pk, &msg) * a;
            let sig = signature(&big_r, s.as_bytes());
            expect(
                &format!("A = [{name}]B, message {j}"),
                &pk,
                &msg,
                &sig,
                true,
                &mut tally,
            );
        }
    }
    assert_eq!(
        tally,
        Tally {
            checked: 32,
            accepted: 32
        }
    );
}
