//! `TxBuilder`: the wallet side. From owned outputs (with decoy rings and membership
//! proofs), recipients and a fee, build a transaction that [`validate`](crate::validate)
//! accepts. Change goes to the sender's change subaddress (1).

use mcnode_crypto::{
    mlsag::{self, SignerSecrets},
    range_proof, CompressedPoint, RangeProofError, RingSignatureError, Scalar,
};
use rand_core::{CryptoRng, RngCore};

use crate::{
    account::PublicAddress,
    constants::{MAX_INPUTS, MAX_OUTPUTS, RING_SIZE},
    membership::TxOutMembershipProof,
    tx::{signed_message, SignatureRct, Tx, TxIn, TxPrefix},
    tx_out::{OwnedOutput, TxOut},
};

/// One input to spend: the owned output, its ring (which must contain it) and a proof per
/// ring member. The builder sorts the ring.
#[derive(Clone, Debug)]
pub struct InputCredentials {
    /// The output being spent, recovered with the account's keys.
    pub owned: OwnedOutput,
    /// Ring members (the real one included), any order.
    pub ring: Vec<TxOut>,
    /// One proof per ring member, in the order of `ring`.
    pub proofs: Vec<TxOutMembershipProof>,
}

/// Why a transaction could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// No inputs, or more than the protocol allows.
    #[error("need 1..={MAX_INPUTS} inputs, got {0}")]
    InputCount(usize),
    /// No outputs (counting change), or more than the protocol allows.
    #[error("need 1..={MAX_OUTPUTS} outputs, got {0}")]
    OutputCount(usize),
    /// A ring is not of [`RING_SIZE`] members with one proof each.
    #[error("input {0}: ring must have {RING_SIZE} members and one proof each")]
    RingShape(usize),
    /// A ring does not contain the output being spent.
    #[error("input {0}: ring does not contain the spent output")]
    RealOutputNotInRing(usize),
    /// Outputs plus fee exceed inputs.
    #[error("insufficient funds: inputs {inputs}, outputs plus fee {needed}")]
    InsufficientFunds {
        /// Sum of inputs.
        inputs: u128,
        /// Sum of outputs plus fee.
        needed: u128,
    },
    /// There is change but no change address was given.
    #[error("{0} of change and no change address")]
    NoChangeAddress(u64),
    /// The range proof could not be made.
    #[error("range proof: {0}")]
    RangeProof(#[from] RangeProofError),
    /// A ring signature could not be made.
    #[error("ring signature: {0}")]
    RingSignature(#[from] RingSignatureError),
}

/// Builds one transaction.
#[derive(Debug, Default)]
pub struct TxBuilder {
    inputs: Vec<InputCredentials>,
    recipients: Vec<(u64, PublicAddress)>,
    fee: u64,
    tombstone_block: u64,
}

impl TxBuilder {
    /// A builder paying `fee`, valid in blocks below `tombstone_block`.
    pub fn new(fee: u64, tombstone_block: u64) -> Self {
        Self {
            fee,
            tombstone_block,
            ..Self::default()
        }
    }

    /// Adds an input.
    pub fn add_input(&mut self, input: InputCredentials) -> &mut Self {
        self.inputs.push(input);
        self
    }

    /// Pays `value` to `recipient`.
    pub fn add_output(&mut self, value: u64, recipient: &PublicAddress) -> &mut Self {
        self.recipients.push((value, *recipient));
        self
    }

    /// Builds and signs the transaction; any change goes to `change_address`.
    pub fn build<R: RngCore + CryptoRng>(
        &self,
        change_address: Option<&PublicAddress>,
        rng: &mut R,
    ) -> Result<Tx, BuildError> {
        if self.inputs.is_empty() || self.inputs.len() > MAX_INPUTS {
            return Err(BuildError::InputCount(self.inputs.len()));
        }
        let inputs_total: u128 = self.inputs.iter().map(|i| u128::from(i.owned.value)).sum();
        let needed: u128 = self
            .recipients
            .iter()
            .map(|(v, _)| u128::from(*v))
            .sum::<u128>()
            + u128::from(self.fee);
        if needed > inputs_total {
            return Err(BuildError::InsufficientFunds {
                inputs: inputs_total,
                needed,
            });
        }
        let change = inputs_total - needed;
        let mut recipients = self.recipients.clone();
        if change > 0 {
            let change = u64::try_from(change).map_err(|_| BuildError::InsufficientFunds {
                inputs: inputs_total,
                needed,
            })?;
            let to = change_address.ok_or(BuildError::NoChangeAddress(change))?;
            recipients.push((change, *to));
        }
        if recipients.is_empty() || recipients.len() > MAX_OUTPUTS {
            return Err(BuildError::OutputCount(recipients.len()));
        }

        // Outputs, sorted by target key.
        let mut outputs: Vec<_> = recipients
            .iter()
            .map(|(value, to)| (TxOut::create(*value, to, rng), *value))
            .collect();
        outputs.sort_by_key(|(o, _)| o.tx_out.target_key);
        let values: Vec<u64> = outputs.iter().map(|(_, v)| *v).collect();
        let blindings: Vec<Scalar> = outputs.iter().map(|(o, _)| o.blinding).collect();
        let (range_proof, _) = range_proof::prove(&values, &blindings, rng)?;

        // Inputs: sort each ring (with its proofs), then the inputs by first member.
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (n, cred) in self.inputs.iter().enumerate() {
            if cred.ring.len() != RING_SIZE || cred.proofs.len() != RING_SIZE {
                return Err(BuildError::RingShape(n));
            }
            let mut members: Vec<(TxOut, TxOutMembershipProof)> = cred
                .ring
                .iter()
                .copied()
                .zip(cred.proofs.iter().cloned())
                .collect();
            members.sort_by_key(|(o, _)| o.target_key);
            let real = members
                .iter()
                .position(|(o, _)| *o == cred.owned.tx_out)
                .ok_or(BuildError::RealOutputNotInRing(n))?;
            inputs.push((cred, members, real));
        }
        inputs.sort_by_key(|(_, members, _)| members[0].0.target_key);

        // Pseudo-output blinding factors sum to the outputs' so that the amounts balance.
        let output_blinding_sum: Scalar = blindings.iter().sum();
        let mut pseudo_blindings: Vec<Scalar> =
            (1..inputs.len()).map(|_| Scalar::random(rng)).collect();
        let others: Scalar = pseudo_blindings.iter().sum();
        pseudo_blindings.push(output_blinding_sum - others);
        let pseudo_outputs: Vec<CompressedPoint> = inputs
            .iter()
            .zip(&pseudo_blindings)
            .map(|((cred, _, _), b)| mcnode_crypto::pedersen::commit(cred.owned.value, b).into())
            .collect();

        let prefix = TxPrefix {
            inputs: inputs
                .iter()
                .map(|(_, members, _)| TxIn {
                    ring: members.iter().map(|(o, _)| *o).collect(),
                    proofs: members.iter().map(|(_, p)| p.clone()).collect(),
                })
                .collect(),
            outputs: outputs.iter().map(|(o, _)| o.tx_out).collect(),
            fee: self.fee,
            tombstone_block: self.tombstone_block,
        };
        let message = signed_message(&prefix.hash(), &pseudo_outputs, &range_proof);
        let mut ring_signatures = Vec::with_capacity(inputs.len());
        for (((cred, members, real), pseudo_blinding), tx_in) in
            inputs.iter().zip(&pseudo_blindings).zip(&prefix.inputs)
        {
            let ring = tx_in.ring_members();
            debug_assert_eq!(members.len(), ring.len());
            let secrets = SignerSecrets {
                real_index: *real,
                onetime_private: &cred.owned.onetime_private,
                value: cred.owned.value,
                blinding: &cred.owned.blinding,
                pseudo_blinding,
            };
            let (sig, _) = mlsag::sign(&message, &ring, &secrets, rng)?;
            ring_signatures.push(sig);
        }
        Ok(Tx {
            prefix,
            signature: SignatureRct {
                ring_signatures,
                pseudo_output_commitments: pseudo_outputs,
                range_proof,
            },
        })
    }
}
