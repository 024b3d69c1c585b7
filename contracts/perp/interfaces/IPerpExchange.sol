// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Positions of many traders in one market, as parallel arrays (`PerpExchange.positionsOf`).
struct PositionsView {
    int256[] sizeBase; // WAD; > 0 long
    uint256[] margin; // collateral units, as stored
    uint256[] openNotional; // collateral units
    int256[] unrealizedPnl; // collateral units, at the margin price
    int256[] pendingFunding; // collateral units owed (> 0) or due (< 0)
    bool[] liquidatable;
    uint256[] adlScore; // WAD, at the margin price; 0 when not in profit
}

/// @notice A `PositionsView` of `n` traders, every entry zero.
function emptyPositionsView(uint256 n) pure returns (PositionsView memory out) {
    out.sizeBase = new int256[](n);
    out.margin = new uint256[](n);
    out.openNotional = new uint256[](n);
    out.unrealizedPnl = new int256[](n);
    out.pendingFunding = new int256[](n);
    out.liquidatable = new bool[](n);
    out.adlScore = new uint256[](n);
}
