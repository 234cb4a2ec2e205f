//! Block versions: which ledger rules are in force.
//!
//! Every block carries its version; a node writes the version it is configured for
//! (`--block-version`) and never one lower than its parent's, so a network moves to a new
//! version together, at a flag day, and never back. Each rule that is not in version 1 is
//! a [`Feature`] introduced by one version; a transaction that uses a feature in a block
//! of an earlier version is refused with that feature's own result code.
//!
//! | version | rules |
//! |---|---|
//! | 1 | one token; the fee leaves the ledger; outputs without token or memo; one range proof over all outputs |
//! | 2 | [`Feature::Tokens`] (masked token ids, per-token generators and minimum fees, one range proof per token), [`Feature::FeeOutputs`] (each block pays its fees, per token, to the fee recipient), [`Feature::Memos`] (every output carries a fixed-size encrypted memo) |
//! | 3 | [`Feature::Minting`] (mint-configuration and mint transactions) |

use core::fmt;

use serde::{Deserialize, Serialize};

/// A block version this build knows (`1..=`[`BlockVersion::MAX`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BlockVersion(u32);

/// A rule introduced after version 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Several tokens: masked token ids, per-token Pedersen generators, a minimum fee per
    /// token, a fee in any token of the fee map, one range proof per token.
    Tokens,
    /// Each block pays its fees, summed per token, to the configured fee recipient.
    FeeOutputs,
    /// Every output carries a fixed-size encrypted memo.
    Memos,
    /// Mint-configuration transactions (signed by a token's governors) and mint
    /// transactions (signed by a configured minter).
    Minting,
}

impl Feature {
    /// Every feature, in the order they were introduced.
    pub const ALL: [Feature; 4] = [
        Feature::Tokens,
        Feature::FeeOutputs,
        Feature::Memos,
        Feature::Minting,
    ];

    /// The version that introduces it.
    pub fn introduced_in(self) -> BlockVersion {
        match self {
            Feature::Tokens | Feature::FeeOutputs | Feature::Memos => BlockVersion::TWO,
            Feature::Minting => BlockVersion::THREE,
        }
    }

    /// Its name, as errors and the docs spell it.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Tokens => "tokens",
            Feature::FeeOutputs => "fee outputs",
            Feature::Memos => "memos",
            Feature::Minting => "minting",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A block version outside `1..=`[`BlockVersion::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("block version {0} is not known to this build (it knows 1..={max})", max = BlockVersion::MAX.0)]
pub struct UnknownBlockVersion(pub u32);

impl BlockVersion {
    /// Version 1: the ledger before tokens.
    pub const ONE: Self = Self(1);
    /// Version 2: tokens and the fee map, fee outputs, encrypted memos.
    pub const TWO: Self = Self(2);
    /// Version 3: minting.
    pub const THREE: Self = Self(3);
    /// The highest version this build knows (and can write).
    pub const MAX: Self = Self::THREE;

    /// A known version.
    pub fn new(version: u32) -> Result<Self, UnknownBlockVersion> {
        if (1..=Self::MAX.0).contains(&version) {
            Ok(Self(version))
        } else {
            Err(UnknownBlockVersion(version))
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// True when `feature` is in force at this version.
    pub fn has(self, feature: Feature) -> bool {
        self >= feature.introduced_in()
    }

    /// Every known version, lowest first.
    pub fn all() -> impl Iterator<Item = BlockVersion> {
        (1..=Self::MAX.0).map(Self)
    }
}

impl Default for BlockVersion {
    fn default() -> Self {
        Self::ONE
    }
}

impl fmt::Display for BlockVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<u32> for BlockVersion {
    type Error = UnknownBlockVersion;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<BlockVersion> for u32 {
    fn from(v: BlockVersion) -> u32 {
        v.0
    }
}

impl core::str::FromStr for BlockVersion {
    type Err = UnknownBlockVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: u32 = s.trim().parse().map_err(|_| UnknownBlockVersion(0))?;
        Self::new(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_features() {
        assert_eq!(BlockVersion::new(0), Err(UnknownBlockVersion(0)));
        assert_eq!(BlockVersion::new(4), Err(UnknownBlockVersion(4)));
        assert_eq!(BlockVersion::new(3), Ok(BlockVersion::MAX));
        assert_eq!("2".parse::<BlockVersion>(), Ok(BlockVersion::TWO));
        assert!("x".parse::<BlockVersion>().is_err());
        let v1 = BlockVersion::ONE;
        assert!(Feature::ALL.iter().all(|f| !v1.has(*f)));
        assert!(BlockVersion::TWO.has(Feature::Tokens) && !BlockVersion::TWO.has(Feature::Minting));
        assert!(Feature::ALL.iter().all(|f| BlockVersion::MAX.has(*f)));
        assert_eq!(BlockVersion::all().count(), 3);
    }
}
