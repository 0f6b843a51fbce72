//! `waymark-verify`: checks a Waymark network's closed reward epochs from its public URL
//! alone — no database, no server of its own, no trust in the operator beyond what no
//! device signs. For each epoch it downloads the published manifest, inputs, tree and the
//! device-signed capture manifests, and checks:
//! 1. every input hashes to what the manifest says;
//! 2. every frame is listed by a capture of its own device, whose manifest body has the
//!    published hash, carries the device's ed25519 signature over exactly those bytes and
//!    lists the frame at the time and place the inputs give it;
//! 3. every amount and the Merkle root, recomputed with the same pure code the server runs
//!    (`rewards::compute` and `rewards::manifest::publish`), equal the manifest's;
//! 4. the published tree is the recomputed tree.
//!
//! The first thing that differs is named (which file, input, capture, frame or contributor).
//! What it cannot check: vision's quality scores, fraud flags and the cell history before
//! the epoch are the operator's word (they are published, so anyone can dispute them).
//!
//! Never does: write anything, or talk to anything but the given URL.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use model::{ContributorId, PayoutAddress};
use rewards::evidence::{EvidenceProblem, check_capture, check_listing, frames_by_device};
use rewards::manifest::{RewardManifest, publish};
use rewards::merkle::TreeDump;
use rewards::report::{EpochReport, OracleKey};
use rewards::{EpochId, EpochInputs};
use serde::de::DeserializeOwned;

/// The largest capture manifest body fetched (the server's own limit).
const MAX_CAPTURE_BYTES: u64 = model::MAX_MANIFEST_BYTES as u64;

/// What did not verify, named.
#[derive(Debug, thiserror::Error)]
pub enum Finding {
    #[error("cannot read {what} from {url}: {reason}")]
    Fetch {
        what: String,
        url: String,
        reason: String,
    },
    #[error("{file} is not what it should be: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("epoch {epoch} is not closed at this server")]
    NotClosed { epoch: EpochId },
    #[error("the manifest is of epoch {found}, not {epoch}")]
    OtherEpoch { epoch: EpochId, found: EpochId },
    #[error("the published inputs do not hash to the manifest's: {} differ", inputs.join(", "))]
    InputHashes { inputs: Vec<String> },
    #[error("device evidence: {0}")]
    Evidence(#[from] EvidenceProblem),
    #[error("the inputs cannot be recomputed: {0}")]
    Compute(#[from] rewards::Error),
    #[error("contributor {contributor}: recomputed {recomputed}, the manifest says {published}")]
    Amount {
        contributor: ContributorId,
        recomputed: String,
        published: String,
    },
    #[error("the manifest's contributors differ from the recomputed ones: {0}")]
    Contributors(String),
    #[error("recomputed Merkle root {recomputed}, the manifest says {published}")]
    Root {
        recomputed: String,
        published: String,
    },
    #[error("the published tree is not the recomputed tree: {0}")]
    Tree(String),
    #[error("the published per-cell attribution (cells.json) is not the recomputed one: {0}")]
    Cells(String),
}

/// What a verified epoch holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub epoch: EpochId,
    pub merkle_root: String,
    pub contributors: usize,
    pub frames: usize,
    /// Captures whose signed manifest was checked.
    pub captures: usize,
    pub devices: usize,
}

/// An oracle's signed report of an epoch it recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    pub report: EpochReport,
    /// `0x` + r, s, v.
    pub signature: String,
    /// The recomputed report is the published one.
    pub matches: bool,
}

/// A Waymark network's public URL, and the HTTP client that reads it.
#[derive(Debug)]
pub struct Network {
    base: String,
    agent: ureq::Agent,
}

impl Network {
    /// `url` is the server's root, e.g. `http://127.0.0.1:8080`.
    pub fn new(url: &str) -> Self {
        Self {
            base: url.trim_end_matches('/').to_owned(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(10))
                .timeout_read(Duration::from_secs(120))
                .build(),
        }
    }

    fn get(&self, what: &str, path: &str) -> Result<ureq::Response, Finding> {
        let url = format!("{}{path}", self.base);
        self.agent.get(&url).call().map_err(|err| Finding::Fetch {
            what: what.to_owned(),
            url,
            reason: match err {
                ureq::Error::Status(status, response) => format!(
                    "HTTP {status}: {}",
                    response
                        .into_string()
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect::<String>()
                ),
                other => other.to_string(),
            },
        })
    }

    /// Reads JSON as it arrives (an epoch's inputs may be gigabytes).
    fn json<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T, Finding> {
        let reader = std::io::BufReader::new(self.get(what, path)?.into_reader());
        serde_json::from_reader(reader).map_err(|err| Finding::Unreadable {
            file: what.to_owned(),
            reason: err.to_string(),
        })
    }

    /// The closed epochs, oldest first.
    pub fn closed_epochs(&self) -> Result<Vec<EpochId>, Finding> {
        #[derive(serde::Deserialize)]
        struct Row {
            epoch: String,
            state: String,
        }
        let rows: Vec<Row> = self.json("the epoch list", "/api/v1/rewards/epochs")?;
        rows.into_iter()
            .filter(|row| row.state == "closed")
            .map(|row| {
                row.epoch
                    .parse()
                    .map_err(|err: rewards::Error| Finding::Unreadable {
                        file: "the epoch list".into(),
                        reason: err.to_string(),
                    })
            })
            .collect()
    }

    /// The published manifest and inputs of a closed epoch, with the inputs' hashes and
    /// every device signature checked.
    fn signed_inputs(&self, epoch: EpochId) -> Result<(RewardManifest, EpochInputs), Finding> {
        if !self.closed_epochs()?.contains(&epoch) {
            return Err(Finding::NotClosed { epoch });
        }
        let base = format!("/api/v1/rewards/epochs/{epoch}");
        let manifest: RewardManifest = self.json("manifest.json", &base)?;
        if manifest.epoch != epoch {
            return Err(Finding::OtherEpoch {
                epoch,
                found: manifest.epoch,
            });
        }
        let inputs: EpochInputs = self.json("inputs.json", &format!("{base}/inputs"))?;
        let differ = inputs.hashes().differences(&manifest.inputs);
        if !differ.is_empty() {
            return Err(Finding::InputHashes {
                inputs: differ.into_iter().map(str::to_owned).collect(),
            });
        }
        self.check_evidence(&base, &inputs)?;
        Ok((manifest, inputs))
    }

    /// An oracle's work: checks the epoch's published inputs (hashes, device signatures),
    /// recomputes it, and signs the report of what it recomputed — its own root, which the
    /// network records as a disagreement when it differs from the published one. Inputs
    /// that do not check out are not signed at all.
    pub fn attest(&self, epoch: EpochId, key: &OracleKey) -> Result<Attestation, Finding> {
        let (manifest, inputs) = self.signed_inputs(epoch)?;
        let addresses: BTreeMap<ContributorId, PayoutAddress> = manifest
            .contributors
            .iter()
            .filter_map(|entry| entry.address.map(|address| (entry.contributor, address)))
            .collect();
        let recomputed = publish(&inputs, &rewards::compute(&inputs)?, &addresses).manifest;
        let report = EpochReport::of(&recomputed);
        let signature = key
            .sign(&report)
            .map_err(|err| Finding::Contributors(err.to_string()))?;
        Ok(Attestation {
            matches: report == EpochReport::of(&manifest),
            report,
            signature,
        })
    }

    /// Sends an attestation to the network; its answer (the report's status) as JSON.
    pub fn post(&self, attestation: &Attestation) -> Result<serde_json::Value, Finding> {
        let epoch = attestation.report.epoch;
        let url = format!("{}/api/v1/rewards/epochs/{epoch}/signatures", self.base);
        let body = serde_json::json!({
            "report": attestation.report,
            "signature": attestation.signature,
        });
        let fetch = |reason: String| Finding::Fetch {
            what: format!("the answer to the signed report of {epoch}"),
            url: url.clone(),
            reason,
        };
        match self.agent.post(&url).send_json(body) {
            Ok(response) => response.into_json().map_err(|err| fetch(err.to_string())),
            Err(ureq::Error::Status(status, response)) => Err(fetch(format!(
                "HTTP {status}: {}",
                response.into_string().unwrap_or_default()
            ))),
            Err(other) => Err(fetch(other.to_string())),
        }
    }

    /// Verifies one closed epoch; the first thing that differs is the error.
    pub fn verify(&self, epoch: EpochId) -> Result<Verified, Finding> {
        let base = format!("/api/v1/rewards/epochs/{epoch}");
        let (manifest, inputs) = self.signed_inputs(epoch)?;
        recompute(&inputs, &manifest)?;
        let tree: Option<TreeDump> = self.json("tree.json", &format!("{base}/tree"))?;
        check_tree(&inputs, &manifest, tree)?;
        let cells: Vec<rewards::CellAward> = self.json("cells.json", &format!("{base}/cells"))?;
        check_cells(&inputs, &cells)?;
        Ok(Verified {
            epoch,
            merkle_root: manifest.merkle_root,
            contributors: manifest.contributors.len(),
            frames: inputs.frames.len(),
            captures: inputs.captures.len(),
            devices: inputs
                .captures
                .iter()
                .map(|c| c.device)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
        })
    }

    fn check_evidence(&self, base: &str, inputs: &EpochInputs) -> Result<(), Finding> {
        if let Some(problem) = check_listing(inputs).into_iter().next() {
            return Err(problem.into());
        }
        let frames = frames_by_device(inputs);
        for evidence in &inputs.captures {
            let what = format!("the signed manifest of capture {}", evidence.capture);
            let response = self.get(&what, &format!("{base}/captures/{}", evidence.capture))?;
            let mut body = Vec::new();
            response
                .into_reader()
                .take(MAX_CAPTURE_BYTES + 1)
                .read_to_end(&mut body)
                .map_err(|err| Finding::Unreadable {
                    file: what.clone(),
                    reason: err.to_string(),
                })?;
            check_capture(evidence, &body, &frames)?;
        }
        Ok(())
    }
}

/// Recomputes every amount and the root from `inputs` (paid to the addresses the manifest
/// names) and compares them with `manifest`.
pub fn recompute(inputs: &EpochInputs, manifest: &RewardManifest) -> Result<(), Finding> {
    let addresses: BTreeMap<ContributorId, PayoutAddress> = manifest
        .contributors
        .iter()
        .filter_map(|entry| entry.address.map(|address| (entry.contributor, address)))
        .collect();
    let recomputed = publish(inputs, &rewards::compute(inputs)?, &addresses).manifest;
    let published: BTreeMap<ContributorId, &rewards::manifest::ContributorEntry> = manifest
        .contributors
        .iter()
        .map(|entry| (entry.contributor, entry))
        .collect();
    for entry in &recomputed.contributors {
        match published.get(&entry.contributor) {
            Some(theirs) if *theirs == entry => {}
            Some(theirs) => {
                return Err(Finding::Amount {
                    contributor: entry.contributor,
                    recomputed: describe(entry),
                    published: describe(theirs),
                });
            }
            None => {
                return Err(Finding::Contributors(format!(
                    "{} earned {} but is not in the manifest",
                    entry.contributor, entry.amount
                )));
            }
        }
    }
    if recomputed.contributors.len() != manifest.contributors.len() {
        return Err(Finding::Contributors(format!(
            "the manifest lists {} contributors, the inputs pay {}",
            manifest.contributors.len(),
            recomputed.contributors.len()
        )));
    }
    if recomputed.merkle_root != manifest.merkle_root {
        return Err(Finding::Root {
            recomputed: recomputed.merkle_root,
            published: manifest.merkle_root.clone(),
        });
    }
    let mut rest = manifest.clone();
    rest.contributors = recomputed.contributors.clone();
    if rest != recomputed {
        return Err(Finding::Contributors(
            "the manifest's totals, pools or bounty outcomes differ from the recomputed ones"
                .into(),
        ));
    }
    Ok(())
}

fn describe(entry: &rewards::manifest::ContributorEntry) -> String {
    format!(
        "{} (emission {}, bounty {}, map use {}, discovery {}, address {}, in tree {})",
        entry.amount,
        entry.emission_amount,
        entry.bounty_amount,
        entry.consumption_amount,
        entry.discovery_amount,
        entry
            .address
            .map_or_else(|| "none".into(), |a| a.to_string()),
        entry.in_tree
    )
}

/// The published per-cell attribution must be the recomputed one, award for award.
pub fn check_cells(inputs: &EpochInputs, published: &[rewards::CellAward]) -> Result<(), Finding> {
    let recomputed = rewards::compute(inputs)?.awards;
    if recomputed.len() != published.len() {
        return Err(Finding::Cells(format!(
            "{} awards recomputed, {} published",
            recomputed.len(),
            published.len()
        )));
    }
    match recomputed.iter().zip(published).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(Finding::Cells(format!(
            "award {i} (cell {}): recomputed {} points for {}, published {} points for {}",
            recomputed[i].cell,
            recomputed[i].points,
            recomputed[i].owner,
            published[i].points,
            published[i].owner
        ))),
    }
}

/// The published tree must be the recomputed tree, leaf for leaf.
pub fn check_tree(
    inputs: &EpochInputs,
    manifest: &RewardManifest,
    published: Option<TreeDump>,
) -> Result<(), Finding> {
    let addresses: BTreeMap<ContributorId, PayoutAddress> = manifest
        .contributors
        .iter()
        .filter_map(|entry| entry.address.map(|address| (entry.contributor, address)))
        .collect();
    let recomputed = publish(inputs, &rewards::compute(inputs)?, &addresses)
        .tree
        .map(|tree| tree.dump());
    match (recomputed, published) {
        (None, None) => Ok(()),
        (Some(ours), Some(theirs)) if ours == theirs => Ok(()),
        (Some(ours), Some(theirs)) => {
            let leaf = ours
                .values
                .iter()
                .zip(&theirs.values)
                .position(|(a, b)| a != b);
            Err(Finding::Tree(match leaf {
                Some(i) => format!(
                    "leaf {i}: recomputed {:?}, published {:?}",
                    ours.values[i].value, theirs.values[i].value
                ),
                None => format!(
                    "{} recomputed leaves and nodes, {} published, or the nodes differ",
                    ours.tree.len(),
                    theirs.tree.len()
                ),
            }))
        }
        (ours, _) => Err(Finding::Tree(format!(
            "recomputed {}, published {}",
            if ours.is_some() { "a tree" } else { "no tree" },
            if ours.is_some() { "none" } else { "one" }
        ))),
    }
}

impl Network {
    /// What a settlement contract is given for `epoch`: the report and its digest, the
    /// network's oracles and quorum, the agreeing signatures in ascending signer order, and
    /// every address's claim (amount and published proof), one per tree leaf.
    pub fn settlement_fixture(&self, epoch: EpochId) -> Result<serde_json::Value, Finding> {
        let base = format!("/api/v1/rewards/epochs/{epoch}");
        let status: serde_json::Value =
            self.json("the oracle report", &format!("{base}/report"))?;
        let manifest: RewardManifest = self.json("manifest.json", &base)?;
        let mut claims = BTreeMap::new();
        for entry in manifest.contributors.iter().filter(|entry| entry.in_tree) {
            let proof: serde_json::Value = self.json(
                "a contributor's proof",
                &format!("{base}/contributors/{}", entry.contributor),
            )?;
            claims.insert(
                proof["address"].as_str().unwrap_or_default().to_owned(),
                serde_json::json!({
                    "address": proof["address"],
                    "amount": proof["claim_amount"],
                    "proof": proof["proof"],
                }),
            );
        }
        let report = &status["report"];
        Ok(serde_json::json!({
            "epoch_number": report["epoch_number"],
            "merkle_root": report["merkle_root"],
            "total": report["total"],
            "inputs_hash": report["inputs_hash"],
            "digest": status["digest"],
            "oracles": status["oracles"],
            "quorum": status["quorum"],
            "signatures": status["signatures"]
                .as_array()
                .map(|all| all.iter().map(|s| s["signature"].clone()).collect::<Vec<_>>())
                .unwrap_or_default(),
            "claims": claims.into_values().collect::<Vec<_>>(),
        }))
    }
}
