//! Outputs: recovery with the view key, amount masking, addresses.

use mcnode_transaction::{
    account::{CHANGE_SUBADDRESS, DEFAULT_SUBADDRESS},
    AccountKey, AddressError, PublicAddress, TxOut,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn recipient_recovers_value_and_key(seed in any::<u64>(), value in any::<u64>(), change in any::<bool>()) {
        let mut rng = crate::rng(seed);
        let alice = AccountKey::random(&mut rng);
        let bob = AccountKey::random(&mut rng);
        let sub = if change { CHANGE_SUBADDRESS } else { DEFAULT_SUBADDRESS };
        let created = TxOut::create(value, &alice.subaddress(sub), &mut rng);
        let owned = created.tx_out.recover(&alice, &[0, 1]).expect("alice's output");
        prop_assert_eq!(owned.value, value);
        prop_assert_eq!(owned.blinding, created.blinding);
        prop_assert_eq!(owned.subaddress_index, sub);
        // The recovered one-time key spends exactly this output.
        prop_assert_eq!(owned.onetime_private.public().compressed(), created.tx_out.target_key);
        // Nobody else can recognise it or read the amount.
        prop_assert!(created.tx_out.recover(&bob, &[0, 1]).is_none());
    }

    #[test]
    fn tampered_amount_does_not_open(seed in any::<u64>(), value in any::<u64>(), flip in 0..64u32) {
        let mut rng = crate::rng(seed);
        let alice = AccountKey::random(&mut rng);
        let mut out = TxOut::create(value, &alice.default_address(), &mut rng).tx_out;
        out.amount.masked_value ^= 1 << flip;
        prop_assert!(out.recover(&alice, &[0]).is_none());
    }

    #[test]
    fn address_round_trips(seed in any::<u64>(), index in 0..1000u64) {
        let mut rng = crate::rng(seed);
        let a = AccountKey::random(&mut rng).subaddress(index);
        let text = a.to_string();
        prop_assert_eq!(text.parse::<PublicAddress>(), Ok(a));
    }
}

#[test]
fn subaddresses_differ_and_not_linkable_by_keys() {
    let mut rng = crate::rng(3);
    let a = AccountKey::random(&mut rng);
    assert_ne!(a.subaddress(0), a.subaddress(1));
    assert_ne!(a.subaddress(0).view_public, a.subaddress(1).view_public);
}

#[test]
fn bad_addresses_are_typed_errors() {
    let mut rng = crate::rng(4);
    let text = AccountKey::random(&mut rng).default_address().to_string();
    assert_eq!(
        "0OIl".parse::<PublicAddress>(),
        Err(AddressError::BadBase58)
    );
    assert_eq!(
        "abc".parse::<PublicAddress>(),
        Err(AddressError::WrongLength(3))
    );
    // Change one character: the checksum catches it.
    let mut chars: Vec<char> = text.chars().collect();
    chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
    let typo: String = chars.into_iter().collect();
    assert!(matches!(
        typo.parse::<PublicAddress>(),
        Err(AddressError::BadChecksum) | Err(AddressError::WrongLength(_))
    ));
    let mut bytes = bs58::decode(&text).into_vec().unwrap();
    bytes[0] = 9;
    assert_eq!(
        bs58::encode(&bytes).into_string().parse::<PublicAddress>(),
        Err(AddressError::UnknownVersion(9))
    );
}

#[test]
fn key_file_round_trip_and_errors() {
    let mut rng = crate::rng(5);
    let a = AccountKey::random(&mut rng);
    let file = a.to_key_file();
    let json = serde_json::to_string(&file).unwrap();
    let back: mcnode_transaction::AccountKeyFile = serde_json::from_str(&json).unwrap();
    assert_eq!(AccountKey::from_key_file(&back).unwrap(), a);
    let bad = mcnode_transaction::AccountKeyFile {
        view_private_key: "ff".repeat(32),
        spend_private_key: file.spend_private_key.clone(),
    };
    assert_eq!(
        AccountKey::from_key_file(&bad).err(),
        Some(mcnode_crypto::KeyError::NonCanonicalScalar)
    );
}
