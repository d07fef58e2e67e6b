//! Unit tests of the provider: secrecy of `Debug`, rejection of degenerate inputs, typed
//! errors, and byte-for-byte agreement of the seeded HPKE path with hpke-rs's RustCrypto back
//! end.

use crate::error::Unsupported;
use hpke_rs::{Hpke, Mode};
use hpke_rs_crypto::types::{KdfAlgorithm, KemAlgorithm};
use hpke_rs_rust_crypto::HpkeRustCrypto;

use super::*;

/// The providers of the X25519 suites (1 and 3), which the tests below compare with hpke-rs
/// and with X25519's own edge cases; the other suites' KEMs are tested in
/// `other_kems_round_trip_and_reject_bad_keys` and by the RFC 9180 and MLS vectors.
fn providers() -> impl Iterator<Item = Provider> {
    CipherSuite::ALL
        .iter()
        .filter(|s| s.kem() == Kem::X25519)
        .map(|&s| Provider::new(s))
}

/// A low-order X25519 point (order 8) from RFC 7748 / Wycheproof: DH with it is all zero.
const LOW_ORDER_POINT: [u8; 32] = [
    0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
    0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
];

#[test]
fn suite_ids_round_trip() {
    for &s in CipherSuite::ALL {
        assert_eq!(CipherSuite::from_u16(s.id()), Some(s));
    }
    assert_eq!(CipherSuite::ALL.len(), 10);
    let experimental: Vec<u16> = CipherSuite::ALL
        .iter()
        .filter(|s| s.is_experimental())
        .map(|s| s.id())
        .collect();
    assert_eq!(experimental, [0x004d, 0xfdea, 0xfdeb]);
    // mls-rs's ML-KEM-512 and X25519+ML-KEM-768 suites are not implemented.
    assert_eq!(CipherSuite::from_u16(65001), None);
    assert_eq!(CipherSuite::from_u16(65100), None);
    assert_eq!(CipherSuite::from_u16(0), None);
    assert_eq!(CipherSuite::try_from(8), Err(Unsupported::CipherSuite(8)));
    assert_eq!(
        CipherSuite::try_from(0x004e),
        Err(Unsupported::CipherSuite(0x004e))
    );
}

#[test]
fn debug_does_not_leak_secret_bytes() {
    let bytes = vec![0xab; 32];
    let secret = Secret::from(bytes.clone());
    let hpke_sk = HpkePrivateKey::new(bytes.clone());
    let sig_sk = SignaturePrivateKey::from_seed(&bytes).unwrap();
    for shown in [
        format!("{secret:?}"),
        format!("{hpke_sk:?}"),
        format!("{sig_sk:?}"),
    ] {
        assert!(!shown.contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("32"), "{shown}");
    }
}

#[test]
fn secret_equality() {
    assert_eq!(Secret::from(vec![1, 2, 3]), Secret::from_slice(&[1, 2, 3]));
    assert_ne!(Secret::from(vec![1, 2, 3]), Secret::from(vec![1, 2, 4]));
    assert_ne!(Secret::from(vec![1, 2, 3]), Secret::from(vec![1, 2]));
}

/// Every entry of the small-order list yields the all-zero secret with several scalars (so it
/// is of small order), with and without bit 255 set; the provider rejects each as a public
/// key; ordinary keys pass.
#[test]
fn small_order_points_are_listed_and_rejected() {
    let mut checked = 0;
    for point in awslc::x25519_small_order_points() {
        for high in [0u8, 0x80] {
            let mut pk = *point;
            pk[31] |= high;
            for k in 1..=4u8 {
                assert_eq!(
                    awslc::x25519(&[k.wrapping_mul(37); 32], &pk),
                    Err(CryptoError::ZeroSharedSecret)
                );
            }
            for p in providers() {
                assert_eq!(
                    p.check_hpke_public_key(&pk),
                    Err(CryptoError::SmallOrderPublicKey)
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 14);
    for p in providers() {
        let (_, pk) = p.derive_hpke_key_pair(&[9; 32]).unwrap();
        assert_eq!(p.check_hpke_public_key(&pk), Ok(()));
        assert_eq!(
            p.check_hpke_public_key(&pk[..31]),
            Err(CryptoError::InvalidPublicKey)
        );
    }
}

#[test]
fn zero_shared_secret_is_rejected() {
    let sk = [0x42u8; 32];
    assert_eq!(
        awslc::x25519(&sk, &LOW_ORDER_POINT),
        Err(CryptoError::ZeroSharedSecret)
    );
    assert_eq!(
        awslc::x25519(&sk, &[0u8; 32]),
        Err(CryptoError::ZeroSharedSecret)
    );
    for p in providers() {
        assert_eq!(
            p.hpke_seal(&LOW_ORDER_POINT, b"info", b"", b"pt")
                .unwrap_err(),
            CryptoError::ZeroSharedSecret
        );
        assert_eq!(
            p.encrypt_with_label_with_ikm(&[0u8; 32], b"l", b"c", b"pt", &[7; 32])
                .unwrap_err(),
            CryptoError::ZeroSharedSecret
        );
        // The receiver side: a low-order `enc`.
        let (sk, _) = p.generate_hpke_key_pair().unwrap();
        assert_eq!(
            p.hpke_open(&sk, &LOW_ORDER_POINT, b"info", b"", &[0u8; 32])
                .unwrap_err(),
            CryptoError::ZeroSharedSecret
        );
    }
}

#[test]
fn bad_lengths_are_typed_errors() {
    let p = Provider::new(CipherSuite::Mls128X25519Aes128GcmSha256Ed25519);
    assert_eq!(
        p.hpke_seal(&[1; 31], b"", b"", b"").unwrap_err(),
        CryptoError::InvalidPublicKey
    );
    let (sk, pk) = p.generate_hpke_key_pair().unwrap();
    assert_eq!(
        p.hpke_seal_with_ikm(&pk, b"", b"", b"", &[0; 31])
            .unwrap_err(),
        CryptoError::InvalidLength("HPKE ikm_e must be Nsk bytes")
    );
    assert_eq!(
        p.hpke_open(&HpkePrivateKey::new(vec![1; 31]), &pk, b"", b"", &[0; 16])
            .unwrap_err(),
        CryptoError::InvalidPrivateKey
    );
    assert_eq!(
        p.hpke_open(&sk, &pk[..31], b"", b"", &[0; 16]).unwrap_err(),
        CryptoError::InvalidPublicKey
    );
    assert!(matches!(
        p.aead_seal(&[0; 15], &[0; 12], b"", b""),
        Err(CryptoError::InvalidLength(_))
    ));
    assert!(matches!(
        p.aead_seal(&[0; 16], &[0; 11], b"", b""),
        Err(CryptoError::InvalidLength(_))
    ));
    assert!(matches!(
        p.expand(&[0; 32], b"", 255 * 32 + 1),
        Err(CryptoError::InvalidLength(_))
    ));
    assert!(p.expand(&[0; 32], b"", 255 * 32).is_ok());
    assert_eq!(
        SignaturePrivateKey::from_seed(&[0; 31]).unwrap_err(),
        CryptoError::InvalidPrivateKey
    );
}

#[test]
fn tampered_aead_ciphertext_fails() {
    for p in providers() {
        let key = p.random_bytes(p.aead_key_len());
        let nonce = p.random_bytes(p.aead_nonce_len());
        let ct = p.aead_seal(&key, &nonce, b"aad", b"hello").unwrap();
        assert_eq!(p.aead_open(&key, &nonce, b"aad", &ct).unwrap(), b"hello");
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            p.aead_open(&key, &nonce, b"aad", &bad),
            Err(CryptoError::AeadOpenFailed)
        );
        assert_eq!(
            p.aead_open(&key, &nonce, b"aaD", &ct),
            Err(CryptoError::AeadOpenFailed)
        );
        assert_eq!(
            p.aead_open(&key, &nonce, b"aad", &ct[..10]),
            Err(CryptoError::AeadOpenFailed)
        );
        // In place: the same plaintext and the same errors.
        let mut in_out = ct.clone();
        p.aead_open_in_place(&key, &nonce, b"aad", &mut in_out)
            .unwrap();
        assert_eq!(in_out, b"hello");
        for (aad, ct) in [(&b"aad"[..], &bad[..]), (b"aaD", &ct[..]), (b"aad", &ct[..10])] {
            let mut in_out = ct.to_vec();
            assert_eq!(
                p.aead_open_in_place(&key, &nonce, aad, &mut in_out),
                Err(CryptoError::AeadOpenFailed)
            );
        }
    }
}

#[test]
fn tampered_signature_fails() {
    for p in providers() {
        let (sk, pk) = p.generate_signature_key_pair();
        assert_eq!(sk.public_key(), pk);
        let sig = p.sign_with_label(&sk, b"LeafNodeTBS", b"content").unwrap();
        p.verify_with_label(&pk, b"LeafNodeTBS", b"content", &sig)
            .unwrap();
        let mut bad = sig.clone();
        bad[10] ^= 0x80;
        assert_eq!(
            p.verify_with_label(&pk, b"LeafNodeTBS", b"content", &bad),
            Err(CryptoError::InvalidSignature)
        );
        assert_eq!(
            p.verify_with_label(&pk, b"GroupInfoTBS", b"content", &sig),
            Err(CryptoError::InvalidSignature)
        );
        assert_eq!(
            p.verify_with_label(&pk[..31], b"LeafNodeTBS", b"content", &sig),
            Err(CryptoError::InvalidPublicKey)
        );
        let (sk2, pk2) = p.signature_key_pair_from_seed(sk.as_bytes()).unwrap();
        assert_eq!((&sk2, &pk2), (&sk, &pk));
    }
}

#[test]
fn tampered_hpke_ciphertext_fails() {
    for p in providers() {
        let (sk, pk) = p.generate_hpke_key_pair().unwrap();
        assert_eq!(p.hpke_public_key(&sk).unwrap(), pk);
        let (enc, ct) = p
            .encrypt_with_label(&pk, b"UpdatePathNode", b"ctx", b"secret")
            .unwrap();
        assert_eq!(
            p.decrypt_with_label(&sk, b"UpdatePathNode", b"ctx", &enc, &ct)
                .unwrap(),
            b"secret"
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            p.decrypt_with_label(&sk, b"UpdatePathNode", b"ctx", &enc, &bad),
            Err(CryptoError::HpkeOpenFailed)
        );
        assert_eq!(
            p.decrypt_with_label(&sk, b"Welcome", b"ctx", &enc, &ct),
            Err(CryptoError::HpkeOpenFailed)
        );
        let (other_sk, _) = p.generate_hpke_key_pair().unwrap();
        assert_eq!(
            p.decrypt_with_label(&other_sk, b"UpdatePathNode", b"ctx", &enc, &ct),
            Err(CryptoError::HpkeOpenFailed)
        );
    }
}

#[test]
fn seeded_hpke_is_reproducible() {
    for p in providers() {
        let (sk, pk) = p.derive_hpke_key_pair(&[1; 32]).unwrap();
        let a = p
            .encrypt_with_label_with_ikm(&pk, b"l", b"c", b"pt", &[9; 32])
            .unwrap();
        let b = p
            .encrypt_with_label_with_ikm(&pk, b"l", b"c", b"pt", &[9; 32])
            .unwrap();
        let c = p
            .encrypt_with_label_with_ikm(&pk, b"l", b"c", b"pt", &[8; 32])
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
        // The kem_output is the public key of DeriveKeyPair(ikm_e).
        assert_eq!(a.0, p.derive_hpke_key_pair(&[9; 32]).unwrap().1);
        assert_eq!(
            p.decrypt_with_label(&sk, b"l", b"c", &a.0, &a.1).unwrap(),
            b"pt"
        );
    }
}

/// The seeded path through hpke-rs over aws-lc and the same through hpke-rs over RustCrypto
/// give identical bytes, and each opens the other's output.
#[test]
fn seeded_hpke_matches_rust_crypto() {
    for p in providers() {
        let rc = |rng| {
            Hpke::<WithHpkeRng<HpkeRustCrypto>>::new_with_rng(
                Mode::Base,
                KemAlgorithm::DhKem25519,
                KdfAlgorithm::HkdfSha256,
                p.suite().hpke_aead(),
                rng,
            )
        };
        for i in 0u8..8 {
            let (sk, pk) = p.derive_hpke_key_pair(&[i; 32]).unwrap();
            let ikm_e = [i.wrapping_mul(31).wrapping_add(5); 32];
            let pt = vec![i; usize::from(i) * 7];
            let ours = p
                .hpke_seal_with_ikm(&pk, b"info", b"aad", &pt, &ikm_e)
                .unwrap();
            let theirs = rc(HpkeRng::fixed(&ikm_e))
                .seal(&pk.clone().into(), b"info", b"aad", &pt, None, None, None)
                .unwrap();
            assert_eq!(ours, theirs);
            let rs_sk = hpke_rs::HpkePrivateKey::new(sk.as_bytes().to_vec());
            let opened = rc(HpkeRng::fixed(&[]))
                .open(&ours.0, &rs_sk, b"info", b"aad", &ours.1, None, None, None)
                .unwrap();
            assert_eq!(opened, pt);
            // A random RustCrypto encryption opens with Canopy.
            let (enc, ct) = rc(HpkeRng::system())
                .seal(&pk.clone().into(), b"info", b"aad", &pt, None, None, None)
                .unwrap();
            assert_eq!(p.hpke_open(&sk, &enc, b"info", b"aad", &ct).unwrap(), pt);
        }
    }
}

#[test]
fn fixed_rng_is_one_shot() {
    use hpke_rs_crypto::TryRng;
    let mut rng = HpkeRng::fixed(&[1, 2, 3, 4]);
    let mut out = [0u8; 3];
    assert!(
        rng.try_fill_bytes(&mut out).is_err(),
        "wrong length must fail"
    );
    let mut rng = HpkeRng::fixed(&[1, 2, 3, 4]);
    let mut out = [0u8; 4];
    rng.try_fill_bytes(&mut out).unwrap();
    assert_eq!(out, [1, 2, 3, 4]);
    assert!(
        rng.try_fill_bytes(&mut out).is_err(),
        "second draw must fail"
    );
}

#[test]
fn provider_is_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Provider>();
    assert_send_sync::<SignaturePrivateKey>();
    assert_send_sync::<HpkePrivateKey>();
    assert_send_sync::<Secret>();
}

/// The suites whose KEM is not X25519 (P-256, P-384, P-521, X448, X-Wing, ML-KEM): HPKE round
/// trips and exports through the provider, the public-key check at the door, typed errors for bad keys, ciphertexts and signatures.
#[test]
fn other_kems_round_trip_and_reject_bad_keys() {
    let mut checks = 0;
    for &suite in CipherSuite::ALL {
        let kem = suite.kem();
        if kem == Kem::X25519 {
            continue;
        }
        let p = Provider::new(suite);
        let (sk, pk) = p.derive_hpke_key_pair(&[7; 40]).unwrap();
        assert_eq!(pk.len(), kem.n_pk());
        assert_eq!(p.hpke_public_key(&sk).unwrap(), pk);
        p.check_hpke_public_key(&pk).unwrap();

        // Seal / open, labelled and not; the seeded seal is reproducible.
        let (enc, ct) = p.encrypt_with_label(&pk, b"label", b"ctx", b"secret").unwrap();
        assert_eq!(
            p.decrypt_with_label(&sk, b"label", b"ctx", &enc, &ct).unwrap(),
            b"secret"
        );
        assert_eq!(
            p.decrypt_with_label(&sk, b"other", b"ctx", &enc, &ct),
            Err(CryptoError::HpkeOpenFailed)
        );
        let ikm = vec![9; kem.n_sk()];
        let once = p.hpke_seal_with_ikm(&pk, b"info", b"", b"pt", &ikm).unwrap();
        assert_eq!(p.hpke_seal_with_ikm(&pk, b"info", b"", b"pt", &ikm).unwrap(), once);
        assert_eq!(
            p.hpke_seal_with_ikm(&pk, b"info", b"", b"pt", &ikm[1..]),
            Err(CryptoError::InvalidLength("HPKE ikm_e must be Nsk bytes"))
        );
        let (enc, exported) = p.hpke_send_export(&pk, b"info", b"exp", 42).unwrap();
        let received = p.hpke_receiver_export(&sk, &enc, b"info", b"exp", 42).unwrap();
        assert_eq!(exported, received);
        checks += 1;

        // Keys from the wire.
        assert_eq!(
            p.check_hpke_public_key(&pk[1..]),
            Err(CryptoError::InvalidPublicKey)
        );
        if !kem.is_dhkem() {
            // An ML-KEM coefficient ≥ q (FIPS 203 §7.2; X-Wing's key starts with ML-KEM-768's),
            // refused at the door and by a seal.
            let mut unreduced = pk.clone();
            unreduced[0] = 0xff;
            unreduced[1] |= 0x0f;
            assert_eq!(
                p.check_hpke_public_key(&unreduced),
                Err(CryptoError::InvalidPublicKey)
            );
            assert_eq!(
                p.hpke_seal(&unreduced, b"info", b"", b"pt"),
                Err(CryptoError::InvalidPublicKey)
            );
            if kem == Kem::XWing {
                // The X25519 half at a small-order point.
                let mut small = pk.clone();
                small[1184..].fill(0);
                assert_eq!(
                    p.check_hpke_public_key(&small),
                    Err(CryptoError::SmallOrderPublicKey)
                );
            } else {
                // A ciphertext of the wrong length is refused by an open. mls-rs's
                // DeriveKeyPair: the private key, ML-KEM's seed, is HKDF-Expand(dkp_prk, "",
                // 64) with RFC 9180's dkp_prk (suite_id "KEM" || 0x000F).
                assert!(p.hpke_open(&sk, &enc[1..], b"info", b"", &ct).is_err());
                let (seed, _) = p.derive_hpke_key_pair(&[3; 32]).unwrap();
                let hash = suite.hash();
                let mut labeled = b"HPKE-v1KEM\x00\x0fdkp_prk".to_vec();
                labeled.extend_from_slice(&[3; 32]);
                let dkp_prk = crate::crypto::awslc::hkdf_extract(hash, b"", &labeled);
                let expected =
                    crate::crypto::awslc::hkdf_expand(hash, dkp_prk.as_bytes(), b"", 64).unwrap();
                assert_eq!(seed.as_bytes(), expected.as_bytes());
            }
            checks += 1;
        } else if kem == Kem::X448 {
            let mut p_minus_1 = [0xffu8; 56];
            p_minus_1[28] = 0xfe;
            p_minus_1[0] = 0xfe;
            let mut one = [0u8; 56];
            one[0] = 1;
            for bad in [[0u8; 56], one, p_minus_1] {
                assert_eq!(
                    p.check_hpke_public_key(&bad),
                    Err(CryptoError::SmallOrderPublicKey)
                );
                assert_eq!(
                    p.hpke_seal(&bad, b"info", b"", b"pt"),
                    Err(CryptoError::ZeroSharedSecret)
                );
                checks += 1;
            }
        } else {
            // Not on the curve: the last byte of y changed.
            let mut off_curve = pk.clone();
            *off_curve.last_mut().unwrap() ^= 1;
            assert_eq!(
                p.check_hpke_public_key(&off_curve),
                Err(CryptoError::InvalidPublicKey)
            );
            assert_eq!(
                p.hpke_seal(&off_curve, b"info", b"", b"pt"),
                Err(CryptoError::InvalidPublicKey)
            );
            // The compressed form of the same point has another tag and length.
            let mut compressed = pk[..1 + (kem.n_pk() - 1) / 2].to_vec();
            compressed[0] = 0x02 | (pk[kem.n_pk() - 1] & 1);
            assert_eq!(
                p.check_hpke_public_key(&compressed),
                Err(CryptoError::InvalidPublicKey)
            );
            checks += 1;
        }

        // Signatures.
        let (ssk, spk) = p.derive_signature_key_pair(&[8; 32]).unwrap();
        assert_eq!(ssk.scheme(), suite.signature_scheme());
        let sig = p.sign_with_label(&ssk, b"label", b"content").unwrap();
        p.verify_with_label(&spk, b"label", b"content", &sig).unwrap();
        assert_eq!(
            p.verify_with_label(&spk, b"label", b"other", &sig),
            Err(CryptoError::InvalidSignature)
        );
        let other_scheme = if suite.signature_scheme() == SignatureScheme::Ed25519 {
            SignaturePrivateKey::from_bytes(SignatureScheme::EcdsaP256Sha256, &[1; 32]).unwrap()
        } else {
            SignaturePrivateKey::from_seed(&[1; 32]).unwrap()
        };
        assert_eq!(
            p.sign_with_label(&other_scheme, b"label", b"content"),
            Err(CryptoError::InvalidPrivateKey)
        );
        checks += 1;
    }
    // Eight suites × (HPKE, signatures); three small-order keys × two X448 suites; three NIST;
    // X-Wing; two ML-KEM.
    assert_eq!(checks, 8 * 2 + 2 * 3 + 3 + 1 + 2);
}

/// Big-endian NIST scalars may arrive with their leading zero bytes stripped (the published
/// MLS vectors carry 65-byte P-521 keys): they are the same key, for signatures and HPKE.
#[test]
fn short_nist_private_keys_are_left_padded() {
    let p = Provider::new(CipherSuite::Mls256P521Aes256GcmSha512P521);
    let mut full = [0x5cu8; 66];
    full[0] = 0;
    full[1] = 0;
    let want = SignaturePrivateKey::from_bytes(SignatureScheme::EcdsaP521Sha512, &full).unwrap();
    for cut in [1, 2] {
        let short =
            SignaturePrivateKey::from_bytes(SignatureScheme::EcdsaP521Sha512, &full[cut..]).unwrap();
        assert_eq!(short.public_key(), want.public_key());
        assert_eq!(short.as_bytes(), full.as_slice());
        let hpke_full = p.hpke_public_key(&HpkePrivateKey::new(full.to_vec())).unwrap();
        let hpke_short = p.hpke_public_key(&HpkePrivateKey::new(full[cut..].to_vec())).unwrap();
        assert_eq!(hpke_short, hpke_full);
    }
    // Too long, empty, or a scalar not below the order.
    for bad in [vec![1u8; 67], vec![], vec![0xff; 66]] {
        assert_eq!(
            SignaturePrivateKey::from_bytes(SignatureScheme::EcdsaP521Sha512, &bad).err(),
            Some(CryptoError::InvalidPrivateKey)
        );
    }
    // EdDSA seeds have exactly one length.
    assert_eq!(
        SignaturePrivateKey::from_bytes(SignatureScheme::Ed448, &[1; 56]).err(),
        Some(CryptoError::InvalidPrivateKey)
    );
}
