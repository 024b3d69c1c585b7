// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title SimToken
/// @notice An ERC20 with configurable decimals whose owner (the deployer) can mint.
///         Stands in for stablecoins (6 decimals), wrapped BTC (8) and ETH-like or alt tokens (18).
/// @dev Minting by anyone but the owner reverts with OpenZeppelin's
///      `OwnableUnauthorizedAccount(address account)`.
contract SimToken is ERC20, Ownable {
    uint8 private immutable _tokenDecimals;

    /// @param name_ ERC20 name.
    /// @param symbol_ ERC20 symbol.
    /// @param decimals_ Number of decimals of one token unit (e.g. 6 for a USDC-like token).
    constructor(string memory name_, string memory symbol_, uint8 decimals_)
        ERC20(name_, symbol_)
        Ownable(msg.sender)
    {
        _tokenDecimals = decimals_;
    }

    /// @notice Decimals of the token, as set at deployment.
    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }

    /// @notice Creates `amount` token units (token-native decimals) for `to`. Owner only.
    /// @param to Receiver of the new tokens.
    /// @param amount Amount in token-native units.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
