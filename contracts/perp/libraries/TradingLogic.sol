// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpErrors} from "../interfaces/IPerpErrors.sol";
import {IPerpEvents} from "../interfaces/IPerpEvents.sol";
import {PerpTypes} from "./PerpTypes.sol";
import {PositionLogic} from "./PositionLogic.sol";
import {PricingLogic} from "./PricingLogic.sol";

/// @title TradingLogic
/// @notice What a trader does to their own position: open or add, reduce or close by any size,
///         add or remove margin. Token transfers are left to the exchange.
library TradingLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 private constant WAD = PerpTypes.WAD;
    uint256 private constant BPS = PerpTypes.BPS;

    /// @notice Opens a position of notional = margin × leverage, or adds to one in the same
    ///         direction. The trading fee (of the notional, rounded up) comes out of the margin and
    ///         goes to the fund. Returns the fee for the caller to credit the fund.
    function open(
        PerpTypes.Book storage b,
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        address trader,
        PerpTypes.OpenParams memory op
    ) internal returns (uint256 fee) {
        uint256 maxLeverage = WAD * BPS / c.initialMarginBps;
        if (op.leverageWad == 0 || op.leverageWad > maxLeverage) revert IPerpErrors.InvalidLeverage(op.leverageWad, maxLeverage);
        PerpTypes.Position storage p = b.positions[trader];
        if (p.sizeBase != 0 && (p.sizeBase > 0) != op.isLong) revert IPerpErrors.DirectionMismatch(p.sizeBase, op.isLong);
        if (p.sizeBase != 0) {
            PositionLogic.settleFunding(s, p, ctx, trader);
        } else {
            p.lastFundingIndex = s.cumulativeFundingWad;
            PositionLogic.add(b, trader);
        }
        uint256 notional = op.margin * op.leverageWad / WAD;
        if (notional == 0) revert IPerpErrors.ZeroAmount();
        fee = Math.mulDiv(notional, c.tradingFeeBps, BPS, Math.Rounding.Ceil);
        uint256 sizeBase = PositionLogic.tradeOpen(s, op.isLong, notional * WAD / ctx.unit, op.priceLimitWad);
        int256 sizeDelta = op.isLong ? sizeBase.toInt256() : -sizeBase.toInt256();
        p.sizeBase += sizeDelta;
        p.margin += op.margin - fee;
        p.openNotional += notional;
        if (p.openNotional < c.minPositionUsdc) revert IPerpErrors.PositionBelowMinimum(p.openNotional, c.minPositionUsdc);
        _requireNotLiquidatable(c, s, p, ctx);
        emit IPerpEvents.PositionChanged(trader, ctx.marketId, sizeDelta, notional, fee, 0, p.sizeBase, p.margin);
    }

    /// @notice Closes `rp.sizeBase` of the position (all of it when that is at least its size)
    ///         against the vAMM. Funding owed, the realized PnL and the trading fee (capped at what
    ///         is left) go through the margin; a full close pays out all of it, a partial one the closed share.
    ///         Reverts when the margin cannot absorb the loss (the position must be liquidated),
    ///         and when a partial close would leave less than the minimum open notional or a
    ///         liquidatable position (`OpensLiquidatable`).
    /// @return payout What the trader receives (collateral units).
    /// @return fee What the fund receives (collateral units).
    function reduce(
        PerpTypes.Book storage b,
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        address trader,
        PerpTypes.ReduceParams memory rp
    ) internal returns (uint256 payout, uint256 fee) {
        PerpTypes.Position storage p = existing(b, trader, ctx.marketId);
        // Funding owed is netted with the PnL, not settled first: a profitable position whose
        // funding exceeds its stored margin is not liquidatable and must still be closable.
        int256 left = PositionLogic.takeFunding(s, p, ctx, trader);
        uint256 size = SignedMath.abs(p.sizeBase);
        int256 sizeDelta = p.sizeBase > 0 ? -Math.min(rp.sizeBase, size).toInt256() : Math.min(rp.sizeBase, size).toInt256();
        PerpTypes.Exit memory e = _quoteReduce(s, p, ctx.unit, rp);
        int256 equity = left + e.pnl;
        if (equity < 0) revert IPerpErrors.CloseWouldBeBankrupt(equity);
        fee = Math.min(Math.mulDiv(e.notional, c.tradingFeeBps, BPS, Math.Rounding.Ceil), uint256(equity));
        PositionLogic.applyExit(s, p, e);
        if (e.sizeBase == size) {
            payout = uint256(equity) - fee;
            PositionLogic.remove(b, trader);
        } else {
            if (p.openNotional < c.minPositionUsdc) revert IPerpErrors.PositionBelowMinimum(p.openNotional, c.minPositionUsdc);
            payout = Math.mulDiv(uint256(equity) - fee, e.sizeBase, size);
            p.margin = uint256(equity) - fee - payout;
            // What is left must not be liquidatable: else a position under water could take its
            // closed share of the margin out, leaving its losses to the fund.
            _requireNotLiquidatable(c, s, p, ctx);
        }
        emit IPerpEvents.PositionChanged(trader, ctx.marketId, sizeDelta, e.notional, fee, e.pnl, p.sizeBase, p.margin);
    }

    /// @dev Reverts with `OpensLiquidatable` when the position, after a trade that moved the vAMM,
    ///      is liquidatable at the margin price read again.
    function _requireNotLiquidatable(
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx
    ) private view {
        ctx.priceWad = PricingLogic.marginPrice(c, s, ctx.indexWad);
        if (PositionLogic.isLiquidatable(c, s, p, ctx)) {
            revert IPerpErrors.OpensLiquidatable(PositionLogic.marginRatio(s, p, ctx, false), PositionLogic.maintenanceWad(c));
        }
    }

    /// @dev The exit of min(`rp.sizeBase`, size), checked against the price limit (a long's lowest
    ///      average exit price, a short's highest; 0 = none).
    function _quoteReduce(PerpTypes.MarketState memory s, PerpTypes.Position storage p, uint256 unit, PerpTypes.ReduceParams memory rp)
        private
        view
        returns (PerpTypes.Exit memory e)
    {
        uint256 closing = Math.min(rp.sizeBase, SignedMath.abs(p.sizeBase));
        if (closing == 0) revert IPerpErrors.ZeroAmount();
        e = PositionLogic.quoteExit(s, p, closing, unit);
        uint256 price = PositionLogic.exitPrice(e);
        if (rp.priceLimitWad != 0 && (p.sizeBase > 0 ? price < rp.priceLimitWad : price > rp.priceLimitWad)) {
            revert IPerpErrors.PriceLimitExceeded(price, rp.priceLimitWad);
        }
    }

    /// @notice Adds `amount` to the margin (pending funding settled into it).
    function addMargin(PerpTypes.Book storage b, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx, address trader, uint256 amount)
        internal
    {
        PerpTypes.Position storage p = existing(b, trader, ctx.marketId);
        if (amount == 0) revert IPerpErrors.ZeroAmount();
        p.margin += amount;
        PositionLogic.settleFunding(s, p, ctx, trader);
        emit IPerpEvents.MarginChanged(trader, ctx.marketId, amount.toInt256(), p.margin);
    }

    /// @notice Takes `amount` (collateral units) out of the margin; the margin ratio at the margin
    ///         price, counting losses but no unrealized profit (a trader's own price impact shows as
    ///         profit at the vAMM but would not survive the exit), must stay at or above the initial
    ///         margin, and closing what is left on the vAMM must still cover its losses.
    function removeMargin(
        PerpTypes.Book storage b,
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        address trader,
        uint256 amount
    ) internal {
        PerpTypes.Position storage p = existing(b, trader, ctx.marketId);
        if (amount == 0) revert IPerpErrors.ZeroAmount();
        PositionLogic.settleFunding(s, p, ctx, trader);
        if (amount > p.margin) revert IPerpErrors.InsufficientMargin(amount, p.margin);
        p.margin -= amount;
        uint256 ratio = PositionLogic.marginRatio(s, p, ctx, true);
        uint256 initial = uint256(c.initialMarginBps) * WAD / BPS;
        if (ratio < initial) revert IPerpErrors.MarginRatioBelowInitial(ratio, initial);
        // What is left must survive its own exit: otherwise the withdrawal leaves a loss the
        // fund would pay (under the vAMM source the position would even be liquidatable at once).
        int256 exitEquity = p.margin.toInt256() + PositionLogic.quoteExit(s, p, SignedMath.abs(p.sizeBase), ctx.unit).pnl;
        if (exitEquity < 0) revert IPerpErrors.CloseWouldBeBankrupt(exitEquity);
        emit IPerpEvents.MarginChanged(trader, ctx.marketId, -amount.toInt256(), p.margin);
    }

    /// @notice The trader's position; reverts with `NoPosition` when there is none.
    function existing(PerpTypes.Book storage b, address trader, uint256 marketId)
        internal
        view
        returns (PerpTypes.Position storage p)
    {
        p = b.positions[trader];
        if (p.sizeBase == 0) revert IPerpErrors.NoPosition(trader, marketId);
    }
}
