// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {PositionsView, emptyPositionsView} from "../perp/interfaces/IPerpExchange.sol";

/// @notice The part of PerpExchange the lens reads.
interface IPerpPositionsReader {
    function positionsOf(uint256 marketId, address[] calldata traders) external view returns (PositionsView memory);
    function getPosition(address trader, uint256 marketId)
        external
        view
        returns (int256 sizeBase, uint256 margin, uint256 openNotional, int256 lastFundingIndex, uint64 lastLiquidationS);
    function unrealizedPnl(address trader, uint256 marketId) external view returns (int256);
    function pendingFunding(address trader, uint256 marketId) external view returns (int256);
    function isLiquidatable(address trader, uint256 marketId) external view returns (bool);
    function creditOf(address trader) external view returns (uint256);
}

/// @notice The part of an Aave V3 Pool the lens reads (the interface only; Aave's code is not used).
interface IAaveAccountReader {
    function getUserAccountData(address user)
        external
        view
        returns (
            uint256 totalCollateralBase,
            uint256 totalDebtBase,
            uint256 availableBorrowsBase,
            uint256 currentLiquidationThreshold,
            uint256 ltv,
            uint256 healthFactor
        );
}

/// @title StateLens
/// @notice Batched read-only views for a simulator: every account's token balances and perp
///         positions in one `eth_call` each, whatever the number of accounts (lending positions
///         come from `LendingPool.accountsOf`, or from `aaveAccountsOf` on an Aave V3 market).
/// @dev Pure views, nothing stored. Results are flat arrays in row-major order (account-major), so
///      they decode without nested tuples. Perp positions come from the exchange's own batched
///      view; when that reverts (for example on a bad index oracle) each position is read alone
///      and a view that reverts is reported as zero / not liquidatable instead of failing the batch.
contract StateLens {
    /// @notice `balances[i * tokens.length + j]` = tokens[j].balanceOf(accounts[i]).
    function balancesOf(address[] calldata tokens, address[] calldata accounts)
        external
        view
        returns (uint256[] memory balances)
    {
        uint256 width = tokens.length;
        balances = new uint256[](width * accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            for (uint256 j = 0; j < width; ++j) {
                balances[i * width + j] = IERC20(tokens[j]).balanceOf(accounts[i]);
            }
        }
    }

    /// @notice Each trader's position in `marketId` with its PnL, pending funding and whether it
    ///         can be liquidated now. Traders without a position read as zeros.
    function perpPositions(address perp, uint256 marketId, address[] calldata traders)
        external
        view
        returns (PositionsView memory out)
    {
        IPerpPositionsReader reader = IPerpPositionsReader(perp);
        try reader.positionsOf(marketId, traders) returns (PositionsView memory all) {
            return all;
        } catch {}
        uint256 n = traders.length;
        out = emptyPositionsView(n);
        for (uint256 i = 0; i < n; ++i) {
            (out.sizeBase[i], out.margin[i], out.openNotional[i],,) = reader.getPosition(traders[i], marketId);
            if (out.sizeBase[i] == 0) continue;
            _readPerpRisk(reader, traders[i], marketId, out, i);
        }
    }

    /// @notice `credits[i]` = what the exchange owes `traders[i]` (ADL credits, `withdrawCredit`).
    function perpCredits(address perp, address[] calldata traders) external view returns (uint256[] memory credits) {
        credits = new uint256[](traders.length);
        for (uint256 i = 0; i < traders.length; ++i) {
            credits[i] = IPerpPositionsReader(perp).creditOf(traders[i]);
        }
    }

    /// @notice `LendingPool.accountsOf` for an Aave V3 market: `collateral[i * n + j]` and
    ///         `debt[i * n + j]` = users[i]'s balances of aTokens[j] and debtTokens[j] (native units,
    ///         interest included; n = aTokens.length) and `healthFactorWad[i]` its health factor
    ///         (type(uint256).max with no debt), as `getUserAccountData` reports it.
    function aaveAccountsOf(
        address pool,
        address[] calldata users,
        address[] calldata aTokens,
        address[] calldata debtTokens
    ) external view returns (uint256[] memory collateral, uint256[] memory debt, uint256[] memory healthFactorWad) {
        uint256 width = aTokens.length;
        collateral = new uint256[](users.length * width);
        debt = new uint256[](users.length * width);
        healthFactorWad = new uint256[](users.length);
        for (uint256 i = 0; i < users.length; ++i) {
            for (uint256 j = 0; j < width; ++j) {
                collateral[i * width + j] = IERC20(aTokens[j]).balanceOf(users[i]);
                debt[i * width + j] = IERC20(debtTokens[j]).balanceOf(users[i]);
            }
            (,,,,, healthFactorWad[i]) = IAaveAccountReader(pool).getUserAccountData(users[i]);
        }
    }

    function _readPerpRisk(
        IPerpPositionsReader reader,
        address trader,
        uint256 marketId,
        PositionsView memory out,
        uint256 i
    ) private view {
        try reader.unrealizedPnl(trader, marketId) returns (int256 pnl) {
            out.unrealizedPnl[i] = pnl;
        } catch {}
        try reader.pendingFunding(trader, marketId) returns (int256 owed) {
            out.pendingFunding[i] = owed;
        } catch {}
        try reader.isLiquidatable(trader, marketId) returns (bool can) {
            out.liquidatable[i] = can;
        } catch {}
    }
}
