// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title Waymark reward settlement: one EVM adapter of the chain-agnostic reward manifest.
/// @notice An epoch's Merkle root is accepted only with the signatures of `quorum` of the
/// network's oracles over its report (`rewards::report` in Waymark: epoch, root, the tree's
/// total, the hash of the published inputs). Contributors then claim their amount once, with
/// the OpenZeppelin `StandardMerkleTree` proof the network publishes
/// (`GET /api/v1/rewards/epochs/{epoch}/contributors/{id}`). Every state change emits an event.
contract WaymarkSettlement {
    using SafeERC20 for IERC20;

    /// The first word of every report digest (`rewards::report::REPORT_DOMAIN`).
    bytes32 public constant REPORT_DOMAIN = keccak256("waymark-epoch-report-v1");

    struct Epoch {
        bytes32 root;
        uint256 total;
        uint256 claimed;
        bytes32 inputsHash;
    }

    IERC20 public immutable token;
    uint256 public immutable quorum;
    mapping(address => bool) public isOracle;
    mapping(uint256 => Epoch) public epochs;
    mapping(uint256 => mapping(address => bool)) public claimed;

    event OraclesSet(address[] oracles, uint256 quorum);
    event EpochPosted(uint256 indexed epoch, bytes32 root, uint256 total, bytes32 inputsHash, address[] signers);
    event Claimed(uint256 indexed epoch, address indexed account, uint256 amount);

    error InvalidQuorum(uint256 quorum, uint256 oracles);
    error InvalidOracle(address oracle);
    error EpochAlreadyPosted(uint256 epoch);
    error EmptyRoot();
    error NoQuorum(uint256 signers, uint256 quorum);
    error NotAnOracle(address signer);
    error SignersNotAscending(address signer);
    error UnknownEpoch(uint256 epoch);
    error AlreadyClaimed(uint256 epoch, address account);
    error InvalidProof(uint256 epoch, address account, uint256 amount);
    error OverTotal(uint256 epoch, uint256 claimed, uint256 total);

    constructor(IERC20 token_, address[] memory oracles_, uint256 quorum_) {
        if (quorum_ == 0 || quorum_ > oracles_.length) revert InvalidQuorum(quorum_, oracles_.length);
        for (uint256 i = 0; i < oracles_.length; i++) {
            address oracle = oracles_[i];
            if (oracle == address(0) || isOracle[oracle]) revert InvalidOracle(oracle);
            isOracle[oracle] = true;
        }
        token = token_;
        quorum = quorum_;
        emit OraclesSet(oracles_, quorum_);
    }

    /// The digest oracles sign (before the EIP-191 prefix).
    function reportDigest(uint256 epoch, bytes32 root, uint256 total, bytes32 inputsHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(REPORT_DOMAIN, epoch, root, total, inputsHash));
    }

    /// Accepts an epoch's root with at least `quorum` oracle signatures, each from a
    /// distinct oracle, given in ascending order of their addresses.
    function postEpoch(
        uint256 epoch,
        bytes32 root,
        uint256 total,
        bytes32 inputsHash,
        bytes[] calldata signatures
    ) external {
        if (epochs[epoch].root != bytes32(0)) revert EpochAlreadyPosted(epoch);
        if (root == bytes32(0)) revert EmptyRoot();
        bytes32 digest = MessageHashUtils.toEthSignedMessageHash(reportDigest(epoch, root, total, inputsHash));
        address[] memory signers = new address[](signatures.length);
        address last = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (!isOracle[signer]) revert NotAnOracle(signer);
            if (signer <= last) revert SignersNotAscending(signer);
            last = signer;
            signers[i] = signer;
        }
        if (signatures.length < quorum) revert NoQuorum(signatures.length, quorum);
        epochs[epoch] = Epoch({root: root, total: total, claimed: 0, inputsHash: inputsHash});
        emit EpochPosted(epoch, root, total, inputsHash, signers);
    }

    /// Pays `account` its `amount` of `epoch`, once, against the epoch's root.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external {
        Epoch storage posted = epochs[epoch];
        if (posted.root == bytes32(0)) revert UnknownEpoch(epoch);
        if (claimed[epoch][account]) revert AlreadyClaimed(epoch, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, posted.root, leaf)) revert InvalidProof(epoch, account, amount);
        if (posted.claimed + amount > posted.total) revert OverTotal(epoch, posted.claimed + amount, posted.total);
        claimed[epoch][account] = true;
        posted.claimed += amount;
        token.safeTransfer(account, amount);
        emit Claimed(epoch, account, amount);
    }
}
