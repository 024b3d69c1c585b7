// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The part of LendingPool the lens reads.
interface ILendingPoolAccounts {
    function getUserAccountData(address user)
        external
        view
        returns (uint256, uint256, uint256, uint256, uint256, uint256);
}

/// @title RiskLens
/// @notice Batched read-only views over a LendingPool, so a simulator or a liquidator reads
///         thousands of accounts in one `eth_call` instead of one call per account.
/// @dev Pure views: nothing is stored. Gas of one call grows linearly with the list; with the
///      node's default call gas cap, a few thousand accounts fit in one call.
contract RiskLens {
    /// @notice The pool read.
    ILendingPoolAccounts public immutable pool;

    /// @param pool_ A LendingPool.
    constructor(address pool_) {
        pool = ILendingPoolAccounts(pool_);
    }

    /// @notice Health factor (WAD; type(uint256).max with no debt) of each user, in order.
    function healthFactors(address[] calldata users) external view returns (uint256[] memory factors) {
        factors = new uint256[](users.length);
        for (uint256 i = 0; i < users.length; ++i) {
            (,,,,, factors[i]) = pool.getUserAccountData(users[i]);
        }
    }

    /// @notice Collateral and debt (USD, 8 decimals) and health factor (WAD) of each user, in order.
    function accountSummaries(address[] calldata users)
        external
        view
        returns (uint256[] memory collateralBase, uint256[] memory debtBase, uint256[] memory healthFactorWad)
    {
        collateralBase = new uint256[](users.length);
        debtBase = new uint256[](users.length);
        healthFactorWad = new uint256[](users.length);
        for (uint256 i = 0; i < users.length; ++i) {
            (collateralBase[i], debtBase[i],,,, healthFactorWad[i]) = pool.getUserAccountData(users[i]);
        }
    }

    /// @notice The users whose health factor is strictly below `thresholdWad` (1e18 = liquidatable),
    ///         with their health factors, in the order given.
    function accountsBelow(address[] calldata users, uint256 thresholdWad)
        external
        view
        returns (address[] memory below, uint256[] memory factors)
    {
        address[] memory found = new address[](users.length);
        uint256[] memory foundFactors = new uint256[](users.length);
        uint256 count = 0;
        for (uint256 i = 0; i < users.length; ++i) {
            (,,,,, uint256 factor) = pool.getUserAccountData(users[i]);
            if (factor < thresholdWad) {
                found[count] = users[i];
                foundFactors[count] = factor;
                ++count;
            }
        }
        below = new address[](count);
        factors = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            below[i] = found[i];
            factors[i] = foundFactors[i];
        }
    }
}
