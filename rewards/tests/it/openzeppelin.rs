//! The trees Waymark publishes, loaded and checked by OpenZeppelin's own JavaScript
//! implementation (`@openzeppelin/merkle-tree`, installed by `scripts/setup` under
//! `rewards/tests/js/node_modules`).

use std::path::PathBuf;
use std::process::Command;

use model::PayoutAddress;
use rewards::merkle::{Leaf, StandardMerkleTree, hex_hash};

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

fn check_with_openzeppelin(leaves: &[Leaf]) -> String {
    let tree = StandardMerkleTree::of(leaves).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tree_file = dir.path().join("tree.json");
    std::fs::write(&tree_file, serde_json::to_vec(&tree.dump()).unwrap()).unwrap();
    let proofs: Vec<serde_json::Value> = leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| {
            serde_json::json!({
                "value": [leaf.address.to_checksummed(), leaf.amount.to_string()],
                "proof": tree.proof(i).iter().map(hex_hash).collect::<Vec<_>>(),
            })
        })
        .collect();
    let proofs_file = dir.path().join("proofs.json");
    std::fs::write(&proofs_file, serde_json::to_vec(&proofs).unwrap()).unwrap();
    assert!(
        js_dir()
            .join("node_modules/@openzeppelin/merkle-tree")
            .is_dir(),
        "@openzeppelin/merkle-tree is not installed; run scripts/setup"
    );
    let out = Command::new("node")
        .arg(js_dir().join("verify.mjs"))
        .arg(&tree_file)
        .arg(hex_hash(&tree.root()))
        .arg(&proofs_file)
        .current_dir(js_dir())
        .output()
        .expect("node runs (installed by scripts/setup)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn openzeppelin_loads_our_tree_and_accepts_every_proof() {
    for count in [1usize, 2, 3, 7, 64, 257] {
        let leaves: Vec<Leaf> = (0..count)
            .map(|i| {
                let mut bytes = [0u8; 20];
                bytes[..8].copy_from_slice(&(i as u64 * 7919 + 1).to_be_bytes());
                Leaf {
                    address: PayoutAddress::from_bytes(bytes),
                    amount: (i as u128 + 1) * 1_000_000_000_000_000_007,
                }
            })
            .collect();
        let stdout = check_with_openzeppelin(&leaves);
        assert!(
            stdout.contains(&format!("verified {count} proofs")),
            "{stdout}"
        );
    }
}

#[test]
fn openzeppelin_agrees_on_large_amounts_and_repeated_addresses() {
    let address: PayoutAddress = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        .parse()
        .unwrap();
    let leaves = [
        Leaf {
            address,
            amount: u128::MAX,
        },
        Leaf { address, amount: 0 },
        Leaf {
            address: PayoutAddress::from_bytes([0xff; 20]),
            amount: 1,
        },
    ];
    let stdout = check_with_openzeppelin(&leaves);
    assert!(stdout.contains("verified 3 proofs"), "{stdout}");
}
