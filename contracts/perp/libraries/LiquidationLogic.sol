// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpErrors} from "../interfaces/IPerpErrors.sol";
import {IPerpEvents} from "../interfaces/IPerpEvents.sol";
import {AdlLogic} from "./AdlLogic.sol";
import {InsuranceLogic} from "./InsuranceLogic.sol";
import {PerpTypes} from "./PerpTypes.sol";
import {PositionLogic} from "./PositionLogic.sol";
import {PricingLogic} from "./PricingLogic.sol";

/// @title LiquidationLogic
/// @notice Liquidation of a position below maintenance: in chunks when it is large, and the loss
///         waterfall when its exit does not cover its losses.
/// @dev LOSS WATERFALL. A liquidated position's loss is absorbed, in this order, by
///        1. the position's own margin;
///        2. the liquidator's fee (`liquidationFeeBps` of the notional at the margin price) is paid
///           from what the margin has left, and the rest of it by the fund, up to
///           `maxFundFeeUsdc`: a bankrupt position still pays its liquidator;
///        3. the insurance fund, paying what it has;
///        4. ADL, only for the part the fund cannot cover: a share φ = (loss − fund) / loss of the
///           size is placed with opposite positions at the bankruptcy price (AdlLogic) and the rest
///           exits on the vAMM, the fund paying its loss. Because a smaller exit slips less, that
///           loss is at most (1 − φ) × loss ≤ the fund;
///        5. bad debt, for what neither covered: ADL off, or too few listed counterparties (their
///           size then exits on the vAMM too).
///
///      Step 4's bound assumes the fund is not drawn again before the rest exits: an ADL
///      counterparty is filled only when in profit at the bankruptcy price, so only its pending
///      funding can leave it short (then paid by the fund), and the rest's loss can exceed what
///      the fund still holds by that much, which becomes bad debt.
///
///      CHUNKS. A position whose notional at the margin price is above `partialLiquidationUsdc`
///      loses at most `maxLiquidationBps` of its size per call, exited on the vAMM, and then waits
///      `liquidationCooldownS` before the next chunk (unless its margin ratio falls below half the
///      maintenance margin). The chunk's PnL and the fee go through the whole margin and the rest
///      of the margin stays with the position: under the index and median sources what is left
///      has a higher margin ratio, less what the chunk's own slippage took; under the vAMM source
///      the chunk's exit also moves the price the rest is valued at. A chunk whose exit would take
///      the margin below zero, or that would leave less than `minPositionUsdc` of open notional,
///      becomes a whole liquidation.
library LiquidationLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 private constant BPS = PerpTypes.BPS;

    /// @notice Who is liquidated, by whom, and the ADL ranking the liquidator offers.
    struct Params {
        address trader;
        address liquidator;
        bool adlEnabled;
        address[] counterparties;
    }

    /// @notice Liquidates `lp.trader`'s position or a chunk of it. Returns the liquidator's fee.
    function liquidate(
        PerpTypes.Book storage b,
        PerpTypes.MarketConfig storage c,
        PerpTypes.Vault storage v,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        Params memory lp
    ) internal returns (uint256 fee) {
        PerpTypes.Position storage p = b.positions[lp.trader];
        if (p.sizeBase == 0) revert IPerpErrors.NoPosition(lp.trader, ctx.marketId);
        if (!PositionLogic.isLiquidatable(c, s, p, ctx)) {
            revert IPerpErrors.NotLiquidatable(PositionLogic.marginRatio(s, p, ctx, false), PositionLogic.maintenanceWad(c));
        }
        if (coolingDown(c, s, p, ctx)) revert IPerpErrors.LiquidationCooldown(lp.trader, ctx.marketId, cooldownEnd(c, p));
        if (vammAgainst(c, s, p, ctx)) revert IPerpErrors.VammAgainstPosition(PricingLogic.vammPrice(s), ctx.priceWad);
        int256 left = PositionLogic.takeFunding(s, p, ctx, lp.trader);
        uint256 chunk = chunkSize(c, p, ctx);
        if (chunk < SignedMath.abs(p.sizeBase)) {
            bool done;
            (done, fee) = _liquidateChunk(c, s, p, ctx, lp, left, chunk);
            if (done) return fee;
        }
        return _liquidateWhole(b, c, v, s, ctx, lp, left);
    }

    /// @notice Whether `p` is waiting out the cooldown after a chunk. A position whose margin ratio
    ///         fell below half the maintenance margin waits for nothing: the cooldown spreads a
    ///         large position's exit, it must not shelter a position on its way to bankruptcy.
    function coolingDown(
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx
    ) internal view returns (bool) {
        if (block.timestamp >= cooldownEnd(c, p)) return false;
        return PositionLogic.marginRatio(s, p, ctx, false) >= PositionLogic.maintenanceWad(c) / 2;
    }

    /// @notice Whether the vAMM is pushed more than the maintenance margin against `p` (below the
    ///         margin price for a long, above it for a short), under the index and median sources.
    ///         A liquidation then waits for arbitrage to bring it back: its exit would pay whoever
    ///         pushed it (a sandwich). Under the vAMM source the margin price is the vAMM itself,
    ///         and sandwiches are that source's known weakness.
    function vammAgainst(
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx
    ) internal view returns (bool) {
        if (c.marginPriceSource == PerpTypes.PRICE_SOURCE_VAMM) return false;
        uint256 vamm = PricingLogic.vammPrice(s);
        uint256 band = ctx.priceWad * c.maintenanceMarginBps / BPS;
        return p.sizeBase > 0 ? vamm + band < ctx.priceWad : vamm > ctx.priceWad + band;
    }

    /// @notice When the next chunk of `p` may be liquidated (0 if it never was).
    function cooldownEnd(PerpTypes.MarketConfig storage c, PerpTypes.Position storage p) internal view returns (uint256) {
        return p.lastLiquidationS == 0 ? 0 : uint256(p.lastLiquidationS) + c.liquidationCooldownS;
    }

    /// @notice The size one liquidation call takes: all of it at or below `partialLiquidationUsdc`
    ///         of notional, else `maxLiquidationBps` of it (rounded up), unless that would leave
    ///         less than `minPositionUsdc` of open notional.
    function chunkSize(PerpTypes.MarketConfig storage c, PerpTypes.Position storage p, PerpTypes.Ctx memory ctx)
        internal
        view
        returns (uint256)
    {
        uint256 size = SignedMath.abs(p.sizeBase);
        if (PricingLogic.notionalAt(p.sizeBase, ctx.priceWad, ctx.unit) <= c.partialLiquidationUsdc) return size;
        uint256 chunk = Math.mulDiv(size, c.maxLiquidationBps, BPS, Math.Rounding.Ceil);
        if (chunk >= size) return size;
        uint256 openLeft = p.openNotional - Math.mulDiv(p.openNotional, chunk, size, Math.Rounding.Ceil);
        return openLeft < c.minPositionUsdc ? size : chunk;
    }

    /// @notice The fee a liquidation of `sizeBase` owes its liquidator: `liquidationFeeBps` of the
    ///         notional at the margin price, rounded down.
    function feeDue(PerpTypes.MarketConfig storage c, uint256 sizeBase, PerpTypes.Ctx memory ctx) internal view returns (uint256) {
        return PricingLogic.notionalAt(sizeBase.toInt256(), ctx.priceWad, ctx.unit) * c.liquidationFeeBps / BPS;
    }

    /// @dev A chunk exits on the vAMM; PnL and fee come out of the whole margin. Returns false
    ///      (having changed nothing) when the margin cannot pay both.
    function _liquidateChunk(
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx,
        Params memory lp,
        int256 left,
        uint256 chunk
    ) private returns (bool done, uint256 fee) {
        PerpTypes.Exit memory e = PositionLogic.quoteExit(s, p, chunk, ctx.unit);
        fee = feeDue(c, chunk, ctx);
        int256 marginAfter = left + e.pnl - fee.toInt256();
        if (marginAfter < 0) return (false, 0);
        PositionLogic.applyExit(s, p, e);
        p.margin = uint256(marginAfter);
        p.lastLiquidationS = uint64(block.timestamp);
        _emitChunk(p, ctx, lp, e, left + e.pnl, fee);
        return (true, fee);
    }

    function _emitChunk(
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx,
        Params memory lp,
        PerpTypes.Exit memory e,
        int256 marginLeft,
        uint256 fee
    ) private {
        int256 sizeDelta = p.sizeBase > 0 ? e.sizeBase.toInt256() : -e.sizeBase.toInt256();
        emit IPerpEvents.PositionLiquidated(
            lp.trader, ctx.marketId, sizeDelta, PositionLogic.exitPrice(e), marginLeft, fee, 0, lp.liquidator, p.sizeBase
        );
    }

    /// @dev What a whole liquidation reports.
    struct Outcome {
        int256 sizeBase;
        uint256 fundBefore;
        int256 remaining; // margin left + PnL of the exit on the vAMM
        uint256 exitPriceWad;
    }

    /// @dev The whole position through the waterfall.
    function _liquidateWhole(
        PerpTypes.Book storage b,
        PerpTypes.MarketConfig storage c,
        PerpTypes.Vault storage v,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        Params memory lp,
        int256 left
    ) private returns (uint256 fee) {
        PerpTypes.Position storage p = b.positions[lp.trader];
        Outcome memory o = Outcome(p.sizeBase, v.insuranceFund, 0, 0);
        PerpTypes.Exit memory e = PositionLogic.quoteExit(s, p, SignedMath.abs(o.sizeBase), ctx.unit);
        o.remaining = left + e.pnl;
        o.exitPriceWad = PositionLogic.exitPrice(e);
        fee = _payFee(v, c.maxFundFeeUsdc, feeDue(c, SignedMath.abs(o.sizeBase), ctx), o.remaining);
        if (o.remaining >= 0) {
            PositionLogic.applyExit(s, p, e);
        } else if (uint256(-o.remaining) <= v.insuranceFund || !lp.adlEnabled) {
            PositionLogic.applyExit(s, p, e);
            InsuranceLogic.coverLoss(v, ctx.marketId, lp.trader, uint256(-o.remaining));
        } else {
            o.exitPriceWad = _deleverageShare(b, v, s, ctx, lp, left, uint256(-o.remaining));
        }
        PositionLogic.remove(b, lp.trader);
        int256 fundChange = v.insuranceFund.toInt256() - o.fundBefore.toInt256();
        emit IPerpEvents.PositionLiquidated(
            lp.trader, ctx.marketId, o.sizeBase, o.exitPriceWad, o.remaining, fee, fundChange, lp.liquidator, 0
        );
    }

    /// @dev Steps 1–2: the fee comes from what the margin has left after the exit (`remaining`),
    ///      the rest of it from the fund up to `capUsdc`; the margin's leftover goes to the fund.
    function _payFee(PerpTypes.Vault storage v, uint256 capUsdc, uint256 due, int256 remaining)
        private
        returns (uint256 fee)
    {
        uint256 fromMargin = remaining > 0 ? Math.min(due, uint256(remaining)) : 0;
        uint256 fromFund = InsuranceLogic.feeFromFund(v, due - fromMargin, capUsdc);
        int256 leftover = remaining > 0 ? remaining - fromMargin.toInt256() : int256(0);
        InsuranceLogic.change(v, leftover - fromFund.toInt256());
        return fromMargin + fromFund;
    }

    /// @dev Step 4: places φ = (loss − fund) / loss of the size (rounded up) with the listed
    ///      counterparties at the bankruptcy price, where that share's margin exactly pays its loss;
    ///      the rest, and whatever they did not take, exits on the vAMM with the rest of the margin,
    ///      its loss paid by the fund and then recorded as bad debt. Returns the bankruptcy price.
    function _deleverageShare(
        PerpTypes.Book storage b,
        PerpTypes.Vault storage v,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        Params memory lp,
        int256 left,
        uint256 loss
    ) private returns (uint256 priceWad) {
        PerpTypes.Position storage p = b.positions[lp.trader];
        priceWad = PositionLogic.thresholdPrice(p, left, 0, ctx.unit);
        uint256 size = SignedMath.abs(p.sizeBase);
        uint256 adlSize = Math.mulDiv(size, loss - v.insuranceFund, loss, Math.Rounding.Ceil);
        AdlLogic.Fill memory f = AdlLogic.Fill(lp.trader, p.sizeBase > 0, adlSize, priceWad, 0);
        uint256 matched = AdlLogic.fill(b, v, s, ctx, f, lp.counterparties);
        _exitRest(v, s, p, ctx, lp.trader, left, matched);
    }

    /// @dev Takes the `matched` share off the position with its share of the margin (which pays its
    ///      loss at the bankruptcy price), then exits the rest on the vAMM: its leftover margin to the
    ///      fund, or its loss from the fund and then as bad debt.
    function _exitRest(
        PerpTypes.Vault storage v,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx,
        address trader,
        int256 left,
        uint256 matched
    ) private {
        uint256 size = SignedMath.abs(p.sizeBase);
        // The matched share's margin rounds up (a negative one toward zero), so the rest never
        // keeps a unit the counterparties' fills were paid from.
        int256 matchedMargin = left >= 0
            ? Math.mulDiv(uint256(left), matched, size, Math.Rounding.Ceil).toInt256()
            : -Math.mulDiv(uint256(-left), matched, size).toInt256();
        int256 restMargin = left - matchedMargin;
        PositionLogic.shrink(s, p, matched, Math.mulDiv(p.openNotional, matched, size));
        if (matched == size) return;
        PerpTypes.Exit memory e = PositionLogic.quoteExit(s, p, size - matched, ctx.unit);
        PositionLogic.applyExit(s, p, e);
        int256 rest = restMargin + e.pnl;
        if (rest >= 0) InsuranceLogic.change(v, rest);
        else InsuranceLogic.coverLoss(v, ctx.marketId, trader, uint256(-rest));
    }
}
