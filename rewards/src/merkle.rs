//! A Merkle tree in OpenZeppelin's `StandardMerkleTree` format (`@openzeppelin/merkle-tree`,
//! leaf encoding `["address", "uint256"]`), so proofs verify with OpenZeppelin's
//! `MerkleProof` in a standard on-chain distributor, and the dump loads with
//! `StandardMerkleTree.load`.
//!
//! - leaf = keccak256(keccak256(abi.encode(address, uint256))); `abi.encode` of two static
//!   values is two 32-byte words: the address left-padded with zeros, the amount big-endian.
//! - leaves are sorted by hash and stored at the end of the tree array in reverse order;
//!   node `i` hashes its children `2i+1`, `2i+2` as the sorted pair.
//! - a proof is the list of siblings from the leaf up to the root.

use model::PayoutAddress;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

pub type Hash = [u8; 32];

/// One payee: address and amount (uint256; u128 here, which every emission fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    pub address: PayoutAddress,
    pub amount: u128,
}

impl Leaf {
    pub fn hash(&self) -> Hash {
        let mut encoded = [0u8; 64];
        encoded[12..32].copy_from_slice(self.address.as_bytes());
        encoded[48..64].copy_from_slice(&self.amount.to_be_bytes());
        keccak(&keccak(&encoded))
    }
}

/// The tree, as OpenZeppelin lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardMerkleTree {
    tree: Vec<Hash>,
    /// The leaves in the order given, with where each sits in `tree`.
    values: Vec<(Leaf, usize)>,
}

/// The JSON dump (`StandardMerkleTree.dump()` / `.load()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeDump {
    pub format: String,
    pub leaf_encoding: Vec<String>,
    pub tree: Vec<String>,
    pub values: Vec<DumpValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpValue {
    pub value: (String, String),
    pub tree_index: usize,
}

impl StandardMerkleTree {
    /// Builds the tree; `None` when there are no leaves (OpenZeppelin refuses empty trees).
    pub fn of(leaves: &[Leaf]) -> Option<Self> {
        if leaves.is_empty() {
            return None;
        }
        let mut hashed: Vec<(Hash, usize)> = leaves
            .iter()
            .enumerate()
            .map(|(i, l)| (l.hash(), i))
            .collect();
        hashed.sort();
        let count = hashed.len();
        let mut tree = vec![[0u8; 32]; 2 * count - 1];
        let mut positions = vec![0usize; count];
        for (sorted_index, (hash, original)) in hashed.iter().enumerate() {
            let position = tree.len() - 1 - sorted_index;
            tree[position] = *hash;
            positions[*original] = position;
        }
        for i in (0..tree.len() - count).rev() {
            tree[i] = hash_pair(&tree[2 * i + 1], &tree[2 * i + 2]);
        }
        let values = leaves.iter().copied().zip(positions).collect();
        Some(Self { tree, values })
    }

    pub fn root(&self) -> Hash {
        self.tree[0]
    }

    /// The proof of the `index`-th leaf as given to [`StandardMerkleTree::of`].
    pub fn proof(&self, index: usize) -> Vec<Hash> {
        let mut position = self.values[index].1;
        let mut proof = Vec::new();
        while position > 0 {
            let sibling = if position % 2 == 1 {
                position + 1
            } else {
                position - 1
            };
            proof.push(self.tree[sibling]);
            position = (position - 1) / 2;
        }
        proof
    }

    pub fn dump(&self) -> TreeDump {
        TreeDump {
            format: "standard-v1".into(),
            leaf_encoding: vec!["address".into(), "uint256".into()],
            tree: self.tree.iter().map(hex_hash).collect(),
            values: self
                .values
                .iter()
                .map(|(leaf, position)| DumpValue {
                    value: (leaf.address.to_checksummed(), leaf.amount.to_string()),
                    tree_index: *position,
                })
                .collect(),
        }
    }
}

/// Checks `proof` takes `leaf` to `root` (what `MerkleProof.verify` does on chain).
pub fn verify(root: &Hash, leaf: &Leaf, proof: &[Hash]) -> bool {
    let computed = proof
        .iter()
        .fold(leaf.hash(), |node, sibling| hash_pair(&node, sibling));
    &computed == root
}

pub fn hex_hash(hash: &Hash) -> String {
    format!("0x{}", hex::encode(hash))
}

fn keccak(bytes: &[u8]) -> Hash {
    Keccak256::digest(bytes).into()
}

fn hash_pair(a: &Hash, b: &Hash) -> Hash {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(first);
    both[32..].copy_from_slice(second);
    keccak(&both)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(address: &str, amount: u128) -> Leaf {
        Leaf {
            address: address.parse().unwrap(),
            amount,
        }
    }

    #[test]
    fn every_proof_verifies_and_a_changed_amount_does_not() {
        let leaves: Vec<Leaf> = (1..=7u8)
            .map(|i| Leaf {
                address: PayoutAddress::from_bytes([i; 20]),
                amount: u128::from(i) * 1_000,
            })
            .collect();
        let tree = StandardMerkleTree::of(&leaves).unwrap();
        for (index, leaf) in leaves.iter().enumerate() {
            assert!(
                verify(&tree.root(), leaf, &tree.proof(index)),
                "leaf {index}"
            );
            let inflated = Leaf {
                amount: leaf.amount + 1,
                ..*leaf
            };
            assert!(!verify(&tree.root(), &inflated, &tree.proof(index)));
        }
        let dump = tree.dump();
        assert_eq!(dump.tree.len(), 13);
        assert_eq!(dump.tree[0], hex_hash(&tree.root()));
    }

    /// The example of `@openzeppelin/merkle-tree`'s README, root and proof as it prints them.
    #[test]
    fn matches_openzeppelins_published_example() {
        let leaves = [
            leaf(
                "0x1111111111111111111111111111111111111111",
                5_000_000_000_000_000_000,
            ),
            leaf(
                "0x2222222222222222222222222222222222222222",
                2_500_000_000_000_000_000,
            ),
        ];
        let tree = StandardMerkleTree::of(&leaves).unwrap();
        assert_eq!(
            hex_hash(&tree.root()),
            "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
        );
        assert_eq!(
            tree.proof(0).iter().map(hex_hash).collect::<Vec<_>>(),
            ["0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc"]
        );
    }

    #[test]
    fn one_leaf_is_its_own_root_and_none_is_no_tree() {
        let only = leaf("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 5);
        let tree = StandardMerkleTree::of(&[only]).unwrap();
        assert_eq!(tree.root(), only.hash());
        assert!(tree.proof(0).is_empty());
        assert!(StandardMerkleTree::of(&[]).is_none());
    }
}
