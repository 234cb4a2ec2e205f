//! Golden values: the bytes and digests of our formats. A failure here means a format
//! changed: that must be deliberate (new domain version), never incidental.

use mcnode_crypto::{CompressedPoint, KeyImage, RingMlsag, RistrettoPrivate, ScalarBytes};
use mcnode_transaction::{
    membership::{Range, TreeElement},
    AccountKey, MaskedAmount, SignatureRct, Tx, TxIn, TxOut, TxOutMembershipProof, TxPrefix,
};

fn key(byte: u8) -> RistrettoPrivate {
    let mut b = [0u8; 32];
    b[0] = byte;
    RistrettoPrivate::from_bytes(&b).unwrap()
}

fn account() -> AccountKey {
    AccountKey::new(key(1), key(2))
}

fn tx_out(n: u8) -> TxOut {
    TxOut {
        target_key: key(10 + n).public().compressed(),
        public_key: key(40 + n).public().compressed(),
        amount: MaskedAmount {
            commitment: key(70 + n).public().compressed(),
            masked_value: 0x0102_0304_0506_0708 * u64::from(n + 1),
        },
    }
}

fn tx() -> Tx {
    let proof = TxOutMembershipProof {
        index: 1,
        highest_index: 2,
        elements: vec![
            TreeElement {
                range: Range { from: 0, to: 0 },
                hash: [3u8; 32],
            },
            TreeElement {
                range: Range { from: 2, to: 3 },
                hash: [4u8; 32],
            },
        ],
    };
    Tx {
        prefix: TxPrefix {
            inputs: vec![TxIn {
                ring: vec![tx_out(1), tx_out(2)],
                proofs: vec![proof.clone(), proof],
            }],
            outputs: vec![tx_out(3)],
            fee: 400_000_000,
            tombstone_block: 77,
        },
        signature: SignatureRct {
            ring_signatures: vec![RingMlsag {
                c_zero: ScalarBytes([5u8; 32]),
                responses: vec![ScalarBytes([6u8; 32]); 4],
                key_image: KeyImage(CompressedPoint([7u8; 32])),
            }],
            pseudo_output_commitments: vec![key(99).public().compressed()],
            range_proof: vec![1, 2, 3],
        },
    }
}

#[test]
fn address_string() {
    assert_eq!(account().default_address().to_string(), "fY3hgMagK5JprdzRpJrmbgvaCNiLzvu5HgQF4vYc5XGVhvJiXJ8Nr43bh44twXUeb5t6pbbQN7ZWAbSxvrsZpzvQRTMWM");
    assert_eq!(account().change_address().to_string(),
        "22T1v8bDbLVuxwjKNcndxMkDv9ANRyY8uB67BeCgUfgxixY69HjspUnZz9Pqa44Yv1qiiirVB2apmMRd1ZTDkK2NNa2fNV");
}

#[test]
fn tx_out_hash() {
    assert_eq!(
        hex::encode(tx_out(1).hash()),
        "1b7189394e78f1af161edb133572a2165171f53468e1f85a473b86d6ce1806ac"
    );
}

#[test]
fn tx_hashes() {
    let t = tx();
    assert_eq!(
        hex::encode(t.prefix.hash()),
        "a37ef907c9ea516e731f9c675dfb2cb17cadd553385d1a2a10f82e8ee666fce9"
    );
    assert_eq!(
        hex::encode(t.hash()),
        "f054c11a3eb476f423a4a10a83673d2e4d8db3dcb9f69333d8fce78f3b483d61"
    );
}

#[test]
fn key_image() {
    assert_eq!(
        hex::encode(KeyImage::from_private(&key(3)).as_bytes()),
        "f67f6226b9fe9126e969bc360da74173bf3b5d9b65dab7e0c921e279d84a3623"
    );
}

#[test]
fn key_file_json() {
    assert_eq!(
        serde_json::to_string(&account().to_key_file()).unwrap(),
        r#"{"view_private_key":"0100000000000000000000000000000000000000000000000000000000000000","spend_private_key":"0200000000000000000000000000000000000000000000000000000000000000"}"#
    );
}
