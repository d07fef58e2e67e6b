//! An AEAD seal of `prefix || tail` whose last few bytes (the tail) are known only later:
//! the ciphertext of the prefix is final at once, and the tail completes the seal. The
//! result is exactly the bytes of the one-shot [`awslc::aead_seal`] of the whole plaintext
//! (its reference, held equal by the tests below), and it counts the same AEAD bytes.
//!
//! Why it exists: a Welcome's GroupInfo ends with its signature, and with the ratchet tree
//! in it (~12.7 MB at 50,000 members) the signature is the slow part: Ed25519 hashes the
//! message twice with SHA-512, one pass after the other. One-shot, the encryption of the
//! GroupInfo and the HPKE context hash over its ciphertext could only start once the
//! signature is there. With the tail coming later, all but the last few bytes are encrypted
//! and hashed beside the signing (`welcome::seal_group_info_with_tree`).
//!
//! aws-lc-rs has no incremental AEAD, so:
//! - **AES-GCM**: aws-lc seals `prefix || 0^t` at once. Each ciphertext byte is the
//!   plaintext byte XOR a keystream byte independent of the others, so the tail's ciphertext
//!   is its zeros' ciphertext XOR the tail. GHASH is linear (NIST SP 800-38D §6.4: `Y =
//!   Σ X_i · H^(m−i+1)` over GF(2^128)), so the tag changes by GHASH_H of the blocks that
//!   changed, in their positions: the tail's blocks (the tail XORed in at its offset in its
//!   first block) followed by one zero block standing for the unchanged length block. `H =
//!   E_K(0^128)`. The work over the prefix is aws-lc's stitched AES-GCM; the patch is a
//!   few blocks of GHASH.
//! - **ChaCha20-Poly1305**: Poly1305's final addition modulo 2^128 is not linear in the tag,
//!   so there is no such patch; the seal is streamed, as RFC 8439 §2.8 composes it
//!   (RustCrypto's ChaCha20 and Poly1305): the Poly1305 key is the first 32 bytes of the
//!   ChaCha20 block with counter 0, the plaintext is XORed with the keystream from counter
//!   1, and the tag is Poly1305 over `A || pad16 || C || pad16 || le64(len(A)) ||
//!   le64(len(C))`.
//!
//! The zeros' ciphertext and the first tag of AES-GCM are keystream and a tag of another
//! message under the same nonce; neither leaves this module: [`TailSeal::finish`] replaces
//! them, and dropping an unfinished seal wipes them.

use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use ghash::universal_hash::UniversalHash;
use zeroize::{Zeroize, Zeroizing};

use super::awslc::{self, AeadAlg, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use super::{counters, CryptoError};

/// AES-GCM's or ChaCha20-Poly1305's way to the tag, once the tail is known.
enum Finish {
    /// `H = E_K(0^128)`, the GHASH key.
    Gcm(Zeroizing<[u8; 16]>),
    ChaCha20Poly1305(Box<ChaChaStream>),
}

/// `AEAD.Seal(key, nonce, aad, prefix || tail)` with the tail given last
/// ([`TailSeal::finish`]).
pub(crate) struct TailSeal {
    /// The prefix's ciphertext, then (AES-GCM) the zeros' ciphertext and the first tag.
    out: Vec<u8>,
    prefix_len: usize,
    tail_len: usize,
    alg: AeadAlg,
    finish: Finish,
}

impl core::fmt::Debug for TailSeal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The GHASH key and the keystream are secret: the algorithm and lengths only.
        f.debug_struct("TailSeal")
            .field("alg", &self.alg)
            .field("prefix_len", &self.prefix_len)
            .field("tail_len", &self.tail_len)
            .finish_non_exhaustive()
    }
}

impl TailSeal {
    /// Seal `prefix` now and leave room for `tail_len` bytes after it. Errors:
    /// [`CryptoError::InvalidLength`] for a key that is not the algorithm's `Nk` bytes or a
    /// nonce that is not 12 bytes.
    pub(crate) fn new(
        alg: AeadAlg,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        prefix: &[u8],
        tail_len: usize,
    ) -> Result<Self, CryptoError> {
        let total = prefix.len() + tail_len;
        let mut out = Vec::with_capacity(total + AEAD_TAG_LEN);
        let finish = if alg == AeadAlg::ChaCha20Poly1305 {
            let mut stream = ChaChaStream::new(key, nonce, aad)?;
            stream.update(prefix, &mut out)?;
            Finish::ChaCha20Poly1305(Box::new(stream))
        } else {
            let h = ghash_key(alg, key)?;
            out.extend_from_slice(prefix);
            out.resize(total, 0);
            awslc::aead_seal_in_place(alg, key, nonce, aad, &mut out)?;
            Finish::Gcm(h)
        };
        Ok(TailSeal {
            out,
            prefix_len: prefix.len(),
            tail_len,
            alg,
            finish,
        })
    }

    /// The ciphertext of the prefix: final, the start of what [`TailSeal::finish`] returns.
    pub(crate) fn prefix_ciphertext(&self) -> &[u8] {
        &self.out[..self.prefix_len]
    }

    /// `ciphertext || tag` of `prefix || tail`. [`CryptoError::InvalidLength`] if `tail` is
    /// not the length announced to [`TailSeal::new`].
    pub(crate) fn finish(mut self, tail: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if tail.len() != self.tail_len {
            return Err(CryptoError::InvalidLength("AEAD tail differs from its announced length"));
        }
        let mut out = core::mem::take(&mut self.out);
        match &mut self.finish {
            Finish::ChaCha20Poly1305(stream) => {
                stream.update(tail, &mut out)?;
                stream.finish(&mut out);
            }
            Finish::Gcm(h) => {
                let start = self.prefix_len;
                let total = start + tail.len();
                for (c, t) in out[start..total].iter_mut().zip(tail) {
                    *c ^= t;
                }
                // The changed ciphertext blocks, from the tail's first to the last, with the
                // tail at its offset in them, then the (unchanged) length block.
                let first = start / 16;
                let blocks = total.div_ceil(16) - first;
                let mut delta = Zeroizing::new(vec![0u8; (blocks + 1) * 16]);
                delta[start - first * 16..][..tail.len()].copy_from_slice(tail);
                let key: &[u8; 16] = h;
                let mut ghash = ghash::GHash::new(&(*key).into());
                ghash.update_padded(&delta);
                let change = ghash.finalize();
                for (t, d) in out[total..].iter_mut().zip(change.iter()) {
                    *t ^= d;
                }
            }
        }
        Ok(out)
    }
}

impl Drop for TailSeal {
    fn drop(&mut self) {
        // Unfinished (an error between `new` and `finish`): the zeros' ciphertext is
        // keystream and the tag is a tag of another plaintext under this nonce.
        if let Some(after) = self.out.get_mut(self.prefix_len..) {
            after.zeroize();
        }
    }
}

/// `H = E_K(0^128)`, AES-GCM's GHASH key.
fn ghash_key(alg: AeadAlg, key: &[u8]) -> Result<Zeroizing<[u8; 16]>, CryptoError> {
    fn encrypt_zero<C>(key: &[u8]) -> Result<Zeroizing<[u8; 16]>, CryptoError>
    where
        C: BlockCipherEncrypt + KeyInit,
        C: aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
    {
        let cipher = C::new_from_slice(key).map_err(|_| CryptoError::InvalidLength("AEAD key"))?;
        let mut block = aes::Block::default();
        cipher.encrypt_block(&mut block);
        let h = Zeroizing::new(block.into());
        block.zeroize();
        Ok(h)
    }
    match alg {
        AeadAlg::Aes128Gcm => encrypt_zero::<aes::Aes128>(key),
        AeadAlg::Aes192Gcm => encrypt_zero::<aes::Aes192>(key),
        AeadAlg::Aes256Gcm => encrypt_zero::<aes::Aes256>(key),
        AeadAlg::ChaCha20Poly1305 => Err(CryptoError::Backend("GHASH key of ChaCha20".into())),
    }
}

/// ChaCha20-Poly1305 (RFC 8439 §2.8) fed piece by piece.
struct ChaChaStream {
    cipher: chacha20::ChaCha20,
    mac: poly1305::Poly1305,
    /// Ciphertext not yet authenticated: the start of a 16-byte block.
    partial: [u8; 16],
    partial_len: usize,
    aad_len: u64,
    ct_len: u64,
}

impl ChaChaStream {
    fn new(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != AeadAlg::ChaCha20Poly1305.key_len() {
            return Err(CryptoError::InvalidLength("AEAD key"));
        }
        if nonce.len() != AEAD_NONCE_LEN {
            return Err(CryptoError::InvalidLength("AEAD nonce (must be 96 bits)"));
        }
        let mut cipher = chacha20::ChaCha20::new_from_slices(key, nonce)
            .map_err(|_| CryptoError::InvalidLength("AEAD key"))?;
        // Block 0's first 32 bytes are the one-time Poly1305 key; the rest of the block is
        // discarded, so the plaintext starts at block 1.
        let mut block0 = Zeroizing::new([0u8; 64]);
        cipher.apply_keystream(&mut block0[..]);
        let mut mac = poly1305::Poly1305::new_from_slice(&block0[..32])
            .map_err(|_| CryptoError::InvalidLength("Poly1305 key"))?;
        mac.update_padded(aad);
        Ok(ChaChaStream {
            cipher,
            mac,
            partial: [0; 16],
            partial_len: 0,
            aad_len: aad.len() as u64,
            ct_len: 0,
        })
    }

    /// Encrypt the next piece of plaintext, appending its ciphertext to `out`.
    fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        counters::aead(plaintext.len());
        let start = out.len();
        out.extend_from_slice(plaintext);
        self.cipher
            .try_apply_keystream(&mut out[start..])
            .map_err(|_| CryptoError::InvalidLength("AEAD plaintext exceeds the counter"))?;
        self.ct_len += plaintext.len() as u64;
        // Authenticate whole blocks; the start of an unfinished one waits in `partial`.
        let mut ct = &out[start..];
        if self.partial_len > 0 {
            let take = (16 - self.partial_len).min(ct.len());
            self.partial[self.partial_len..][..take].copy_from_slice(&ct[..take]);
            self.partial_len += take;
            ct = &ct[take..];
            if self.partial_len < 16 {
                return Ok(());
            }
            self.mac.update_padded(&self.partial);
            self.partial_len = 0;
        }
        let whole = ct.len() - ct.len() % 16;
        self.mac.update_padded(&ct[..whole]);
        self.partial[..ct.len() - whole].copy_from_slice(&ct[whole..]);
        self.partial_len = ct.len() - whole;
        Ok(())
    }

    /// Append the tag to `out`.
    fn finish(&mut self, out: &mut Vec<u8>) {
        let mut mac = self.mac.clone();
        mac.update_padded(&self.partial[..self.partial_len]);
        let mut lengths = [0u8; 16];
        lengths[..8].copy_from_slice(&self.aad_len.to_le_bytes());
        lengths[8..].copy_from_slice(&self.ct_len.to_le_bytes());
        mac.update_padded(&lengths);
        out.extend_from_slice(&mac.finalize());
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const ALGS: [AeadAlg; 4] = [
        AeadAlg::Aes128Gcm,
        AeadAlg::Aes192Gcm,
        AeadAlg::Aes256Gcm,
        AeadAlg::ChaCha20Poly1305,
    ];

    /// Prefixes of every length from 0 to 80 bytes (every offset in a block, one to five
    /// blocks) and longer ones, tails of every length a signature has and around block
    /// edges, AADs of several lengths: the prefix's ciphertext is final before the tail,
    /// the result is byte for byte aws-lc's one-shot seal of the whole, and aws-lc opens it.
    #[test]
    fn tail_seal_equals_aws_lc() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut prefixes: Vec<usize> = (0..=80).collect();
        prefixes.extend([127, 255, 1000, 65_537]);
        let tails = [0usize, 1, 15, 16, 17, 33, 65, 66, 115, 116];
        let mut checked = 0;
        for alg in ALGS {
            for &prefix_len in &prefixes {
                for &tail_len in &tails {
                    let aad_len = [0usize, 1, 16, 17][checked % 4];
                    let mut bytes = |n: usize| {
                        let mut v = vec![0u8; n];
                        rng.fill_bytes(&mut v);
                        v
                    };
                    let (key, nonce, aad) = (bytes(alg.key_len()), bytes(12), bytes(aad_len));
                    let pt = bytes(prefix_len + tail_len);
                    let expected = awslc::aead_seal(alg, &key, &nonce, &aad, &pt).unwrap();
                    let (prefix, tail) = pt.split_at(prefix_len);
                    let seal = TailSeal::new(alg, &key, &nonce, &aad, prefix, tail_len).unwrap();
                    assert_eq!(seal.prefix_ciphertext(), &expected[..prefix_len]);
                    let got = seal.finish(tail).unwrap();
                    assert_eq!(got, expected, "{alg:?} prefix {prefix_len} tail {tail_len}");
                    let opened = awslc::aead_open(alg, &key, &nonce, &aad, &got).unwrap();
                    assert_eq!(opened, pt);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, ALGS.len() * prefixes.len() * tails.len());
    }

    /// ChaCha20-Poly1305 streamed one byte at a time, the worst cutting, is aws-lc's seal.
    #[test]
    fn chacha_byte_by_byte_equals_aws_lc() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let mut pt = vec![0u8; 333];
        rng.fill_bytes(&mut pt);
        let mut stream = ChaChaStream::new(&key, &[9; 12], b"aad").unwrap();
        let mut out = Vec::new();
        for byte in pt.chunks(1) {
            stream.update(byte, &mut out).unwrap();
        }
        stream.finish(&mut out);
        let alg = AeadAlg::ChaCha20Poly1305;
        assert_eq!(out, awslc::aead_seal(alg, &key, &[9; 12], b"aad", &pt).unwrap());
    }

    /// The RFC 8439 §2.8.2 example, to the byte.
    #[test]
    fn rfc8439_aead_example() {
        let key: Vec<u8> = (0x80u8..=0x9f).collect();
        let nonce = [0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47];
        let aad = [0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7];
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one \
                   tip for the future, sunscreen would be it.";
        let alg = AeadAlg::ChaCha20Poly1305;
        let seal = TailSeal::new(alg, &key, &nonce, &aad, &pt[..50], pt.len() - 50).unwrap();
        let out = seal.finish(&pt[50..]).unwrap();
        let (ct, tag) = out.split_at(pt.len());
        assert_eq!(ct[..16], hex::decode("d31a8d34648e60db7b86afbc53ef7ec2").unwrap());
        assert_eq!(tag, hex::decode("1ae10b594f09e26a7e902ecbd0600691").unwrap());
    }

    /// Wrong key, nonce and tail lengths are typed errors.
    #[test]
    fn wrong_lengths_are_errors() {
        for alg in ALGS {
            let key = vec![0u8; alg.key_len()];
            let err = |r: Result<TailSeal, CryptoError>| {
                assert!(matches!(r, Err(CryptoError::InvalidLength(_))), "{alg:?}");
            };
            err(TailSeal::new(alg, &key[1..], &[0; 12], b"", b"abc", 2));
            err(TailSeal::new(alg, &key, &[0; 11], b"", b"abc", 2));
            let seal = TailSeal::new(alg, &key, &[0; 12], b"", b"abc", 2).unwrap();
            assert!(matches!(seal.finish(b"x"), Err(CryptoError::InvalidLength(_))));
        }
    }

    /// The Debug output shows the algorithm and lengths, no key material.
    #[test]
    fn debug_shows_lengths_only() {
        let seal = TailSeal::new(AeadAlg::Aes128Gcm, &[0x5a; 16], &[0; 12], b"", b"", 3).unwrap();
        assert_eq!(
            format!("{seal:?}"),
            "TailSeal { alg: Aes128Gcm, prefix_len: 0, tail_len: 3, .. }"
        );
    }
}
