//! `LmdbLedger::verify`: re-checks the whole ledger from one read transaction.

use super::{read_err, tables, LmdbLedger, Reader};
use crate::{tree::MemNodes, LedgerError, VerifyError};
use mcnode_blockchain::{BlockId, MAX_BLOCK_VERSION};

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blocks checked.
    pub num_blocks: u64,
    /// Outputs checked.
    pub num_txos: u64,
    /// Key images checked.
    pub num_key_images: u64,
    /// Block signatures verified.
    pub signatures: u64,
    /// Block metadata signatures verified.
    pub metadata: u64,
    /// Merkle nodes compared.
    pub merkle_nodes: u64,
}

fn bad(index: u64, reason: impl Into<String>) -> VerifyError {
    VerifyError::BadBlock {
        index,
        reason: reason.into(),
    }
}

/// Turns a read error about block `index` into a verdict on that block, except for store
/// failures (which are not the ledger's content).
fn at(index: u64) -> impl Fn(LedgerError) -> VerifyError {
    move |e| match e {
        LedgerError::ReadFailed(_) => VerifyError::Ledger(e),
        other => bad(index, other.to_string()),
    }
}

impl LmdbLedger {
    /// Re-checks every block: decoding, index, parent linkage, version, id, contents hash
    /// and sort order, cumulative count, the TxOut root (recomputed from the outputs), the
    /// block signature and metadata signature when present, and that the key-image and
    /// target-key indexes and the stored Merkle nodes hold exactly what the blocks imply.
    /// Reports the first bad block. `progress(done, total)` is called as blocks pass.
    /// Runs in one read transaction, so it sees one consistent state even while another
    /// process appends.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, VerifyError> {
        let rtxn = self
            .env
            .read_txn()
            .map_err(|e| VerifyError::Ledger(read_err(e)))?;
        let r = Reader {
            t: &self.tables,
            txn: &rtxn,
        };
        let n = r.num_blocks()?;
        let mut tree = MemNodes::default();
        let mut cumulative = Vec::with_capacity(n as usize);
        let mut report = VerifyReport {
            num_blocks: n,
            num_txos: 0,
            num_key_images: 0,
            signatures: 0,
            metadata: 0,
            merkle_nodes: 0,
        };
        let mut parent = BlockId::default();
        let mut parent_version = 0u32;
        let mut count = 0u64;
        for i in 0..n {
            let block = r.block(i).map_err(at(i))?;
            if block.index != i {
                return Err(bad(
                    i,
                    format!("stored under index {i} but says {}", block.index),
                ));
            }
            if block.parent_id != parent {
                return Err(bad(
                    i,
                    format!(
                        "parent {} is not the previous block {parent}",
                        block.parent_id
                    ),
                ));
            }
            if block.version == 0 || block.version > MAX_BLOCK_VERSION {
                return Err(bad(i, format!("unknown version {}", block.version)));
            }
            if block.version < parent_version {
                return Err(bad(
                    i,
                    format!(
                        "version {} is lower than its parent's {parent_version}",
                        block.version
                    ),
                ));
            }
            parent_version = block.version;
            if !block.is_id_valid() {
                return Err(bad(i, "block id is not the hash of its fields"));
            }
            if block.cumulative_txo_count <= count {
                return Err(bad(i, "block adds no outputs"));
            }
            let contents = r.contents(i).map_err(at(i))?;
            if !contents.is_sorted() {
                return Err(bad(i, "contents are not sorted"));
            }
            if contents.hash() != block.contents_hash {
                return Err(bad(i, "contents hash does not match the stored contents"));
            }
            for ki in &contents.key_images {
                match r.spent_in(ki).map_err(at(i))? {
                    Some(b) if b == i => {}
                    other => {
                        return Err(bad(
                            i,
                            format!("key image index says {other:?} for a key image of this block"),
                        ))
                    }
                }
            }
            for (j, o) in contents.outputs.iter().enumerate() {
                let gi = count + j as u64;
                if self.tables.by_target_key.is_some()
                    && r.output_index(&o.target_key).map_err(at(i))? != Some(gi)
                {
                    return Err(bad(i, format!("target-key index is wrong for output {gi}")));
                }
                tree.push(o);
            }
            let root = tree.root().ok_or_else(|| bad(i, "empty tree"))?;
            if root != block.root_element {
                return Err(bad(i, "root element does not match the outputs"));
            }
            if let Some(sig) = r.signature(i).map_err(at(i))? {
                sig.verify(&block)
                    .map_err(|_| bad(i, "block signature does not verify"))?;
                report.signatures += 1;
            }
            if let Some(meta) = r.metadata(i).map_err(at(i))? {
                if meta.contents.block_id != block.id {
                    return Err(bad(i, "metadata names another block"));
                }
                meta.verify()
                    .map_err(|_| bad(i, "metadata signature does not verify"))?;
                report.metadata += 1;
            }
            report.num_key_images += contents.key_images.len() as u64;
            count = block.cumulative_txo_count;
            parent = block.id;
            cumulative.push(count);
            progress(i + 1, n);
        }
        report.num_txos = count;

        // The tables hold nothing the blocks do not explain.
        let t = &self.tables;
        let len = |table: &tables::Table| {
            table
                .len(&rtxn)
                .map_err(|e| VerifyError::Ledger(read_err(e)))
        };
        let expect = |name: &str, got: u64, want: u64| {
            if got == want {
                Ok(())
            } else {
                Err(VerifyError::BadTables(format!(
                    "{name} has {got} entries, expected {want}"
                )))
            }
        };
        expect(tables::BLOCK_KEY_IMAGES, len(&t.block_key_images)?, n)?;
        expect(
            tables::KEY_IMAGES,
            len(&t.key_images)?,
            report.num_key_images,
        )?;
        expect(tables::TX_OUTS, len(&t.tx_outs)?, count)?;
        if let Some(by_target) = &t.by_target_key {
            expect(tables::TX_OUT_BY_TARGET_KEY, len(by_target)?, count)?;
        }
        expect(
            tables::BLOCK_SIGNATURES,
            len(&t.signatures)?,
            report.signatures,
        )?;
        expect(tables::BLOCK_METADATA, len(&t.metadata)?, report.metadata)?;
        // The block that last wrote the node covering `[from, to]` holds output `min(to, last)`.
        let block_of = |index: u64| cumulative.partition_point(|&c| c <= index) as u64;
        let mut nodes = 0u64;
        for kv in t
            .merkle
            .iter(&rtxn)
            .map_err(|e| VerifyError::Ledger(read_err(e)))?
        {
            let (k, v) = kv.map_err(|e| VerifyError::Ledger(read_err(e)))?;
            let (level, pos) =
                tables::read_node_key(k).map_err(|e| VerifyError::BadTables(e.to_string()))?;
            let from = u128::from(pos) << level;
            let to = ((u128::from(pos) + 1) << level) - 1;
            if from >= u128::from(count) {
                return Err(VerifyError::BadTables(format!(
                    "merkle node ({level}, {pos}) covers no output"
                )));
            }
            let last = u64::try_from(to.min(u128::from(count - 1))).unwrap_or(u64::MAX);
            let want = tree.get(level, pos);
            if want.as_ref().map(|h| &h[..]) != Some(v) {
                return Err(bad(
                    block_of(last),
                    format!("stored merkle node ({level}, {pos}) is wrong"),
                ));
            }
            nodes += 1;
        }
        expect(tables::MERKLE_NODES, nodes, tree.num_nodes())?;
        report.merkle_nodes = nodes;
        // The stored tree gives the same root as the last block states.
        if n > 0 {
            let stored = r.root()?;
            if Some(stored) != tree.root() {
                return Err(bad(n - 1, "stored tree root does not match"));
            }
        }
        Ok(report)
    }
}
