// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// The reward token of the settlement test: its deployer holds the whole supply.
contract TestToken is ERC20 {
    constructor(uint256 supply) ERC20("Waymark test reward", "WMKT") {
        _mint(msg.sender, supply);
    }
}
