// Loads a tree dumped by Waymark with OpenZeppelin's StandardMerkleTree and checks that the
// root matches and that every proof Waymark produced verifies.
// usage: node verify.mjs <tree.json> <expected-root> <proofs.json>
// proofs.json: [{ "value": [address, amount], "proof": ["0x…", …] }, …]
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const [treeFile, expectedRoot, proofsFile] = process.argv.slice(2);
const tree = StandardMerkleTree.load(JSON.parse(readFileSync(treeFile, "utf8")));
tree.validate();
if (tree.root !== expectedRoot) {
  console.error(`root mismatch: OpenZeppelin computes ${tree.root}, Waymark published ${expectedRoot}`);
  process.exit(1);
}
const proofs = JSON.parse(readFileSync(proofsFile, "utf8"));
let verified = 0;
for (const { value, proof } of proofs) {
  if (!StandardMerkleTree.verify(tree.root, ["address", "uint256"], value, proof)) {
    console.error(`proof rejected for ${JSON.stringify(value)}`);
    process.exit(1);
  }
  const theirs = tree.getProof(value);
  if (JSON.stringify(theirs) !== JSON.stringify(proof)) {
    console.error(`proof differs from OpenZeppelin's for ${JSON.stringify(value)}`);
    process.exit(1);
  }
  verified += 1;
}
console.log(`verified ${verified} proofs against root ${tree.root}`);
