// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpErrors} from "../interfaces/IPerpErrors.sol";
import {IPerpEvents} from "../interfaces/IPerpEvents.sol";
import {FundingLogic} from "./FundingLogic.sol";
import {PerpTypes} from "./PerpTypes.sol";
import {PricingLogic} from "./PricingLogic.sol";
import {VammMath} from "./VammMath.sol";

/// @title PositionLogic
/// @notice A position's value and risk (PnL, margin ratio, threshold prices, ADL score), its exits
///         against the vAMM, and the book of who holds one.
/// @dev Every conversion rounds against the trader.
library PositionLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 private constant WAD = PerpTypes.WAD;
    uint256 private constant BPS = PerpTypes.BPS;

    // ------------------------------------------------------------------ value and risk

    /// @notice uPnL at `priceWad`: a long's value rounds down, a short's buy-back cost up.
    function unrealizedPnl(PerpTypes.Position storage p, uint256 priceWad, uint256 unit) internal view returns (int256) {
        uint256 valueQuoteWad = SignedMath.abs(p.sizeBase) * priceWad / WAD;
        if (p.sizeBase > 0) return PricingLogic.toCollateral(valueQuoteWad, unit, false).toInt256() - p.openNotional.toInt256();
        return p.openNotional.toInt256() - PricingLogic.toCollateral(valueQuoteWad, unit, true).toInt256();
    }

    /// @notice margin − funding owed (may be negative).
    function marginLeft(PerpTypes.MarketState memory s, PerpTypes.Position storage p, uint256 unit)
        internal
        view
        returns (int256)
    {
        return p.margin.toInt256() - FundingLogic.owed(s, p, unit);
    }

    /// @notice (margin − funding owed + uPnL) / notional at the margin price (WAD); 0 when that is
    ///         negative. With `ignoreProfit`, uPnL counts only when negative.
    function marginRatio(
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx,
        bool ignoreProfit
    ) internal view returns (uint256) {
        int256 pnl = unrealizedPnl(p, ctx.priceWad, ctx.unit);
        if (ignoreProfit && pnl > 0) pnl = 0;
        int256 equity = marginLeft(s, p, ctx.unit) + pnl;
        uint256 notional = PricingLogic.notionalAt(p.sizeBase, ctx.priceWad, ctx.unit);
        if (notional == 0) return type(uint256).max;
        return equity <= 0 ? 0 : Math.mulDiv(uint256(equity), WAD, notional);
    }

    function maintenanceWad(PerpTypes.MarketConfig storage c) internal view returns (uint256) {
        return uint256(c.maintenanceMarginBps) * WAD / BPS;
    }

    /// @notice Below maintenance at the margin price. Under the vAMM source also when closing the
    ///         whole position on the vAMM would not cover its losses (the vAMM is then both the
    ///         price and the exit, and such a position could otherwise be neither closed nor
    ///         liquidated). Under the index and median sources only the margin price counts: a
    ///         trade that moves the vAMM cannot make a position liquidatable within its block, and
    ///         moves the median only through its EMA (a share dt / (dt + τ) per step) and funding
    ///         components in later blocks.
    function isLiquidatable(
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx
    ) internal view returns (bool) {
        if (marginRatio(s, p, ctx, false) < maintenanceWad(c)) return true;
        if (c.marginPriceSource != PerpTypes.PRICE_SOURCE_VAMM) return false;
        return marginLeft(s, p, ctx.unit) + quoteExit(s, p, SignedMath.abs(p.sizeBase), ctx.unit).pnl < 0;
    }

    /// @notice (max(0, uPnL) / margin) × (notional / (margin + uPnL)) at the margin price, in WAD:
    ///         PnL% × effective leverage. ADL takes the highest first.
    function adlScore(PerpTypes.MarketState memory s, PerpTypes.Position storage p, PerpTypes.Ctx memory ctx)
        internal
        view
        returns (uint256)
    {
        int256 pnl = unrealizedPnl(p, ctx.priceWad, ctx.unit);
        int256 margin = marginLeft(s, p, ctx.unit);
        if (pnl <= 0 || margin <= 0) return 0;
        uint256 notional = PricingLogic.notionalAt(p.sizeBase, ctx.priceWad, ctx.unit);
        return Math.mulDiv(uint256(pnl) * notional, WAD, uint256(margin) * uint256(margin + pnl));
    }

    /// @notice Price where equity / (|S| × price) = marginBps: long (N − M)/(S(1 − mm)), rounded up;
    ///         short (N + M)/(S(1 + mm)), rounded down; M the margin less funding owed.
    function thresholdPrice(PerpTypes.Position storage p, int256 marginLeftUsdc, uint16 marginBps, uint256 unit)
        internal
        view
        returns (uint256)
    {
        int256 marginQuoteWad = marginLeftUsdc * int256(WAD / unit);
        int256 notionalQuoteWad = (p.openNotional * (WAD / unit)).toInt256();
        uint256 size = SignedMath.abs(p.sizeBase);
        if (p.sizeBase > 0) {
            int256 numerator = notionalQuoteWad - marginQuoteWad;
            if (numerator <= 0) return 0;
            return Math.mulDiv(uint256(numerator) * WAD, BPS, size * (BPS - marginBps), Math.Rounding.Ceil);
        }
        int256 shortNumerator = notionalQuoteWad + marginQuoteWad;
        if (shortNumerator <= 0) return 0;
        return Math.mulDiv(uint256(shortNumerator) * WAD, BPS, size * (BPS + marginBps));
    }

    // ------------------------------------------------------------------ trades against the vAMM

    /// @notice What closing `sizeBase` of the position against the vAMM gives, not yet applied. The
    ///         closed share of the open notional rounds so the realized PnL is the lower one.
    function quoteExit(PerpTypes.MarketState memory s, PerpTypes.Position storage p, uint256 sizeBase, uint256 unit)
        internal
        view
        returns (PerpTypes.Exit memory e)
    {
        uint256 size = SignedMath.abs(p.sizeBase);
        e.sizeBase = sizeBase;
        if (p.sizeBase > 0) {
            e.openNotional = Math.mulDiv(p.openNotional, sizeBase, size, Math.Rounding.Ceil);
            (e.quoteWad, e.newBase, e.newQuote) = VammMath.sellBase(s.vBase, s.vQuote, sizeBase);
            e.notional = PricingLogic.toCollateral(e.quoteWad, unit, false);
            e.pnl = e.notional.toInt256() - e.openNotional.toInt256();
        } else {
            if (sizeBase >= s.vBase) revert IPerpErrors.InsufficientVirtualLiquidity(sizeBase, s.vBase);
            e.openNotional = Math.mulDiv(p.openNotional, sizeBase, size);
            (e.quoteWad, e.newBase, e.newQuote) = VammMath.buyBase(s.vBase, s.vQuote, sizeBase);
            e.notional = PricingLogic.toCollateral(e.quoteWad, unit, true);
            e.pnl = e.openNotional.toInt256() - e.notional.toInt256();
        }
    }

    /// @notice The exit's average price (WAD).
    function exitPrice(PerpTypes.Exit memory e) internal pure returns (uint256) {
        return e.quoteWad * WAD / e.sizeBase;
    }

    /// @notice Applies an exit to the vAMM, the open interest and the position (not its margin).
    function applyExit(PerpTypes.MarketState memory s, PerpTypes.Position storage p, PerpTypes.Exit memory e) internal {
        s.vBase = e.newBase;
        s.vQuote = e.newQuote;
        shrink(s, p, e.sizeBase, e.openNotional);
    }

    /// @notice Takes `sizeBase` and `openNotional` off the position and the open interest.
    function shrink(PerpTypes.MarketState memory s, PerpTypes.Position storage p, uint256 sizeBase, uint256 openNotional)
        internal
    {
        if (p.sizeBase > 0) {
            s.longBase -= sizeBase;
            p.sizeBase -= sizeBase.toInt256();
        } else {
            s.shortBase -= sizeBase;
            p.sizeBase += sizeBase.toInt256();
        }
        p.openNotional -= openNotional;
    }

    /// @notice Executes an opening trade of `quoteWad` on the vAMM and returns the size; checks the
    ///         price limit (a long's highest average price, a short's lowest; 0 = none).
    function tradeOpen(PerpTypes.MarketState memory s, bool isLong, uint256 quoteWad, uint256 priceLimitWad)
        internal
        pure
        returns (uint256 sizeBase)
    {
        uint256 newBase;
        uint256 newQuote;
        if (isLong) {
            (sizeBase, newBase, newQuote) = VammMath.buyBaseWithQuote(s.vBase, s.vQuote, quoteWad);
        } else {
            if (quoteWad >= s.vQuote) revert IPerpErrors.InsufficientVirtualLiquidity(quoteWad, s.vQuote);
            (sizeBase, newBase, newQuote) = VammMath.sellBaseForQuote(s.vBase, s.vQuote, quoteWad);
        }
        if (sizeBase == 0) revert IPerpErrors.ZeroAmount();
        uint256 averagePrice = quoteWad * WAD / sizeBase;
        if (priceLimitWad != 0 && (isLong ? averagePrice > priceLimitWad : averagePrice < priceLimitWad)) {
            revert IPerpErrors.PriceLimitExceeded(averagePrice, priceLimitWad);
        }
        s.vBase = newBase;
        s.vQuote = newQuote;
        if (isLong) s.longBase += sizeBase;
        else s.shortBase += sizeBase;
    }

    // ------------------------------------------------------------------ funding into positions

    /// @notice Marks the position's funding as applied and returns margin − funding owed (which may
    ///         be negative); the stored margin is left for the caller to settle.
    function takeFunding(PerpTypes.MarketState memory s, PerpTypes.Position storage p, PerpTypes.Ctx memory ctx, address trader)
        internal
        returns (int256 left)
    {
        int256 owedUsdc = FundingLogic.owed(s, p, ctx.unit);
        p.lastFundingIndex = s.cumulativeFundingWad;
        if (owedUsdc != 0) emit IPerpEvents.FundingPaid(trader, ctx.marketId, owedUsdc);
        return p.margin.toInt256() - owedUsdc;
    }

    /// @notice `takeFunding` into the stored margin; reverts when funding owed exceeds it.
    function settleFunding(PerpTypes.MarketState memory s, PerpTypes.Position storage p, PerpTypes.Ctx memory ctx, address trader)
        internal
    {
        int256 left = takeFunding(s, p, ctx, trader);
        if (left < 0) revert IPerpErrors.PositionBankrupt(trader, ctx.marketId, left);
        p.margin = uint256(left);
    }

    // ------------------------------------------------------------------ the book

    function add(PerpTypes.Book storage b, address trader) internal {
        b.traders.push(trader);
        b.slot[trader] = b.traders.length;
    }

    /// @notice Deletes the position and swaps its holder out of the list (O(1)).
    function remove(PerpTypes.Book storage b, address trader) internal {
        delete b.positions[trader];
        uint256 slot = b.slot[trader];
        address last = b.traders[b.traders.length - 1];
        b.traders[slot - 1] = last;
        b.slot[last] = slot;
        b.traders.pop();
        delete b.slot[trader];
    }
}
