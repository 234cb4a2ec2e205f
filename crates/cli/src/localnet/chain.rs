//! `DIR/chain.json`: the chain settings every node of a localnet runs with (all nodes
//! must agree on them, or they refuse to pair), and the flags they become.
//!
//! Format version 1:
//!
//! ```json
//! {"format": 1, "block_version": 1}
//! ```
//!
//! `block_version` is what every node writes (`--block-version`). The first start takes
//! it from `mcnode localnet --block-version` (default 1; the origin block has it too); a
//! later start with a higher `--block-version` is the localnet's flag day: the file is
//! rewritten and every node restarts at the new version. A lower one is refused, since
//! block versions never go back. A localnet made before this file existed runs at
//! version 1.

use std::{fs, path::Path};

use anyhow::Context;
use mcnode_transaction::BlockVersion;
use serde::{Deserialize, Serialize};

/// The file name, in the localnet directory.
pub const CHAIN_FILE: &str = "chain.json";
/// Its format version.
pub const CHAIN_FORMAT: u32 = 1;

/// The settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainFile {
    /// [`CHAIN_FORMAT`].
    pub format: u32,
    /// The block version every node writes.
    pub block_version: BlockVersion,
}

impl Default for ChainFile {
    fn default() -> Self {
        Self {
            format: CHAIN_FORMAT,
            block_version: BlockVersion::ONE,
        }
    }
}

/// Reads `DIR/chain.json` (the defaults when absent).
pub fn load(dir: &Path) -> anyhow::Result<ChainFile> {
    let path = dir.join(CHAIN_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ChainFile::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let chain: ChainFile =
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
    if chain.format != CHAIN_FORMAT {
        anyhow::bail!(
            "{}: format {} is not {CHAIN_FORMAT} (made by another mcnode?)",
            path.display(),
            chain.format
        );
    }
    Ok(chain)
}

/// Writes `DIR/chain.json`.
pub fn save(dir: &Path, chain: &ChainFile) -> anyhow::Result<()> {
    let path = dir.join(CHAIN_FILE);
    let tmp = dir.join(format!("{CHAIN_FILE}.tmp"));
    fs::write(&tmp, format!("{}\n", serde_json::to_string_pretty(chain)?))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
}

/// Applies a later start's `--block-version`: the same or none keeps the file; higher is
/// the flag day (rewritten, reported); lower is refused.
pub fn upgrade(dir: &Path, wanted: Option<BlockVersion>) -> anyhow::Result<ChainFile> {
    let mut chain = load(dir)?;
    match wanted {
        Some(v) if v < chain.block_version => anyhow::bail!(
            "--block-version {v} is lower than the localnet's block version {} \
             ({}): block versions never go back",
            chain.block_version,
            dir.join(CHAIN_FILE).display()
        ),
        Some(v) if v > chain.block_version => {
            eprintln!(
                "localnet: upgrading from block version {} to {v}: every node restarts \
                 writing version {v}",
                chain.block_version
            );
            chain.block_version = v;
            save(dir, &chain)?;
        }
        _ => {}
    }
    Ok(chain)
}

/// The `consensus-service` flags these settings give every node.
pub fn consensus_args(dir: &Path) -> anyhow::Result<Vec<String>> {
    let chain = load(dir)?;
    Ok(vec![
        "--block-version".into(),
        chain.block_version.to_string(),
    ])
}
