//! Round trips and typed refusals of every primitive: the Wycheproof runners prove the
//! arithmetic against published values; these prove the generate / agree / sign paths they
//! do not reach, and that each wrong input gets the error that names it.

use super::*;

#[test]
fn ecdh_both_sides_agree_and_refuse_other_encodings() {
    for curve in [ecdh::Curve::P256, ecdh::Curve::P384, ecdh::Curve::P521] {
        let (a, a_pub) = ecdh::generate(curve).unwrap();
        let (b, b_pub) = ecdh::generate(curve).unwrap();
        assert_eq!(a.len(), curve.scalar_len());
        assert_eq!(a_pub.len(), curve.public_key_len());
        assert_eq!(ecdh::public_key(curve, a.as_bytes()).unwrap(), a_pub);
        let ab = ecdh::dh(curve, a.as_bytes(), &b_pub).unwrap();
        let ba = ecdh::dh(curve, b.as_bytes(), &a_pub).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab.len(), curve.scalar_len());

        // A compressed point is a valid point but not the encoding MLS uses.
        let mut compressed = vec![2 + (b_pub[b_pub.len() - 1] & 1)];
        compressed.extend_from_slice(&b_pub[1..=curve.scalar_len()]);
        assert_eq!(
            ecdh::dh(curve, a.as_bytes(), &compressed),
            Err(PrimitiveError::InvalidPublicKey(curve.name()))
        );
        // A point off the curve.
        let mut off = b_pub.clone();
        let last = off.len() - 1;
        off[last] ^= 1;
        assert_eq!(
            ecdh::dh(curve, a.as_bytes(), &off),
            Err(PrimitiveError::InvalidPublicKey(curve.name()))
        );
        // Zero is not a private key, nor is a short scalar.
        let zero = vec![0u8; curve.scalar_len()];
        assert_eq!(
            ecdh::dh(curve, &zero, &b_pub),
            Err(PrimitiveError::InvalidPrivateKey(curve.name()))
        );
        assert_eq!(
            ecdh::public_key(curve, &a.as_bytes()[1..]),
            Err(PrimitiveError::InvalidPrivateKey(curve.name()))
        );
    }
}

#[test]
fn ecdsa_signs_der_and_verifies() {
    for scheme in [
        ecdsa::Scheme::P256Sha256,
        ecdsa::Scheme::P384Sha384,
        ecdsa::Scheme::P521Sha512,
    ] {
        let (sk, pk) = ecdsa::generate(scheme).unwrap();
        let sig = ecdsa::sign(scheme, sk.as_bytes(), b"content").unwrap();
        // DER: SEQUENCE, then its length.
        assert_eq!(sig[0], 0x30);
        ecdsa::verify(scheme, &pk, b"content", &sig).unwrap();
        assert_eq!(
            ecdsa::verify(scheme, &pk, b"other content", &sig),
            Err(PrimitiveError::InvalidSignature(scheme.name()))
        );
        assert_eq!(
            ecdsa::verify(scheme, &pk[1..], b"content", &sig),
            Err(PrimitiveError::InvalidPublicKey(scheme.name()))
        );
    }
    // A key of one curve does not verify under another's scheme.
    let (sk, pk) = ecdsa::generate(ecdsa::Scheme::P256Sha256).unwrap();
    let sig = ecdsa::sign(ecdsa::Scheme::P256Sha256, sk.as_bytes(), b"m").unwrap();
    assert!(ecdsa::verify(ecdsa::Scheme::P384Sha384, &pk, b"m", &sig).is_err());
}

#[test]
fn x448_agrees_and_refuses_low_order_points() {
    let (a, a_pub) = x448::generate().unwrap();
    let (b, b_pub) = x448::generate().unwrap();
    assert_eq!(
        x448::dh(a.as_bytes(), &b_pub).unwrap(),
        x448::dh(b.as_bytes(), &a_pub).unwrap()
    );
    // u = 0 and u = 1 are of low order: the output is all zero.
    for u in [0u8, 1] {
        let mut pk = [0u8; x448::KEY_LEN];
        pk[0] = u;
        assert_eq!(
            x448::dh(a.as_bytes(), &pk),
            Err(PrimitiveError::ZeroSharedSecret("X448"))
        );
    }
    assert_eq!(
        x448::dh(a.as_bytes(), &b_pub[1..]),
        Err(PrimitiveError::InvalidPublicKey("X448"))
    );
    assert_eq!(
        x448::public_key(&[0u8; 32]),
        Err(PrimitiveError::InvalidPrivateKey("X448"))
    );
}

#[test]
fn ed448_signs_and_verifies() {
    let (seed, pk) = ed448::generate().unwrap();
    assert_eq!(pk.len(), ed448::PUBLIC_KEY_LEN);
    let sig = ed448::sign(seed.as_bytes(), b"content").unwrap();
    assert_eq!(sig.len(), ed448::SIGNATURE_LEN);
    ed448::verify(&pk, b"content", &sig).unwrap();
    assert_eq!(
        ed448::verify(&pk, b"contenT", &sig),
        Err(PrimitiveError::InvalidSignature("Ed448"))
    );
    assert_eq!(
        ed448::verify(&pk, b"content", &sig[..113]),
        Err(PrimitiveError::InvalidSignature("Ed448"))
    );
    assert_eq!(
        ed448::verify(&pk[..56], b"content", &sig),
        Err(PrimitiveError::InvalidPublicKey("Ed448"))
    );
    assert_eq!(
        ed448::sign(&seed.as_bytes()[..32], b"content"),
        Err(PrimitiveError::InvalidPrivateKey("Ed448"))
    );
}

#[test]
fn mlkem_encapsulates_to_a_seed_key() {
    for set in [mlkem::ParameterSet::MlKem768, mlkem::ParameterSet::MlKem1024] {
        let (seed, ek) = mlkem::generate(set).unwrap();
        assert_eq!(ek.len(), set.encapsulation_key_len());
        let key = mlkem::PrivateKey::from_seed(set, seed.as_bytes()).unwrap();
        assert_eq!(key.public_key(), ek.as_slice());
        let (ct, shared) = mlkem::encapsulate(set, &ek).unwrap();
        assert_eq!(shared.len(), mlkem::SHARED_SECRET_LEN);
        assert_eq!(key.decapsulate(&ct).unwrap(), shared);
        // Implicit rejection: a modified ciphertext decapsulates, to another secret.
        let mut forged = ct.clone();
        forged[0] ^= 1;
        assert_ne!(key.decapsulate(&forged).unwrap(), shared);
        assert_eq!(
            key.decapsulate(&ct[1..]),
            Err(PrimitiveError::InvalidCiphertext(set.name()))
        );
        assert_eq!(
            mlkem::encapsulate(set, &ek[1..]).map(|_| ()),
            Err(PrimitiveError::InvalidPublicKey(set.name()))
        );
        assert_eq!(
            mlkem::decapsulate(set, &seed.as_bytes()[..32], &ct).map(|_| ()),
            Err(PrimitiveError::InvalidPrivateKey(set.name()))
        );
    }
}

#[test]
fn mldsa_signs_and_verifies() {
    for set in [mldsa::ParameterSet::MlDsa65, mldsa::ParameterSet::MlDsa87] {
        let (seed, pk) = mldsa::generate(set).unwrap();
        assert_eq!(mldsa::public_key(set, seed.as_bytes()).unwrap(), pk);
        let sig = mldsa::sign(set, seed.as_bytes(), b"content").unwrap();
        assert_eq!(sig.len(), set.signature_len());
        mldsa::verify(set, &pk, b"content", &sig).unwrap();
        assert_eq!(
            mldsa::verify(set, &pk, b"other", &sig),
            Err(PrimitiveError::InvalidSignature(set.name()))
        );
        assert_eq!(
            mldsa::verify(set, &pk[1..], b"content", &sig),
            Err(PrimitiveError::InvalidPublicKey(set.name()))
        );
    }
}

#[test]
fn primitive_errors_map_onto_the_providers_errors() {
    assert_eq!(
        CryptoError::from(PrimitiveError::ZeroSharedSecret("X448")),
        CryptoError::ZeroSharedSecret
    );
    assert_eq!(
        CryptoError::from(PrimitiveError::InvalidSignature("Ed448")),
        CryptoError::InvalidSignature
    );
    assert_eq!(
        CryptoError::from(PrimitiveError::InvalidPublicKey("ECDH P-256")),
        CryptoError::InvalidPublicKey
    );
    assert_eq!(
        CryptoError::from(PrimitiveError::InvalidPrivateKey("ML-DSA-65")),
        CryptoError::InvalidPrivateKey
    );
    assert_eq!(
        CryptoError::from(PrimitiveError::InvalidCiphertext("ML-KEM-768")),
        CryptoError::Backend("ML-KEM-768: invalid ciphertext".into())
    );
}
