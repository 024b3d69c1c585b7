// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpEvents} from "../interfaces/IPerpEvents.sol";
import {InsuranceLogic} from "./InsuranceLogic.sol";
import {PerpTypes} from "./PerpTypes.sol";
import {PositionLogic} from "./PositionLogic.sol";
import {PricingLogic} from "./PricingLogic.sol";

/// @title AdlLogic
/// @notice Auto-deleveraging against counterparties the liquidator lists, verified on chain.
/// @dev GAS. The contract never scans the book: the liquidator ranks the opposite side off chain
///      (`positionsOf` returns every position's `adlScore`) and passes the ranking. Each entry costs
///      one position read and, when it fills, one update, so gas grows with the entries used, not
///      with the number of positions in the market.
///
///      TRUST. Each listed counterparty is checked: it holds a position on the opposite side and
///      is in profit both at the margin price (score > 0) and at the bankruptcy price it will be
///      filled at; one that fails is skipped (`AdlCandidateSkipped`). The contract
///      then fills the listed positions in falling score order, whatever order they were listed
///      in (a list is short: sorting it costs O(k²) for k entries, nothing per market position),
///      so a list made stale by earlier transactions in the block still fills in the right order.
///      What the contract cannot check without a scan is that no better-ranked position was left
///      out: a liquidator could spare a position by omitting it, as dYdX v1's deleveraging
///      operator and GMX v2's ADL keepers are trusted to choose honestly. Omission never moves a
///      loss onto the exchange's users beyond what ADL would: the size no listed counterparty
///      takes exits against the vAMM, its loss paid by the fund and then recorded as bad debt.
///
///      WHO ABSORBS. A counterparty gives up the profit beyond the bankruptcy price: it exits that
///      size at the liquidated position's bankruptcy price instead of the market's. Its realized
///      PnL stays in its margin; a position closed in full is credited, and pulled with
///      `withdrawCredit`.
library AdlLogic {
    using SafeCast for uint256;

    uint8 internal constant SKIP_NO_OPPOSITE_POSITION = 1;
    uint8 internal constant SKIP_NOT_IN_PROFIT = 2;

    /// @notice Where an ADL happens and at what price, and how far it got.
    struct Fill {
        address liquidated;
        bool liquidatedIsLong;
        uint256 sizeBase; // the size to place with counterparties
        uint256 priceWad; // the liquidated position's bankruptcy price
        uint256 matched; // the size placed so far
    }

    /// @notice Reduces the listed counterparties, highest ADL score first, by up to `f.sizeBase`
    ///         in all at `f.priceWad`. Returns the size they took.
    /// @dev Scores are read once, before any fill: a fill moves no price, so it changes no other
    ///      position's score.
    function fill(
        PerpTypes.Book storage b,
        PerpTypes.Vault storage v,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        Fill memory f,
        address[] memory counterparties
    ) internal returns (uint256) {
        uint256[] memory scores = _scores(b, s, ctx, f, counterparties);
        while (f.matched < f.sizeBase) {
            (bool found, uint256 best) = _best(scores);
            if (!found) break;
            scores[best] = 0;
            PerpTypes.Position storage q = b.positions[counterparties[best]];
            if (q.sizeBase == 0) continue; // listed twice and already closed
            uint256 size = Math.min(f.sizeBase - f.matched, SignedMath.abs(q.sizeBase));
            deleverage(b, v, s, ctx, counterparties[best], size, f.priceWad);
            emit IPerpEvents.AutoDeleveraged(f.liquidated, counterparties[best], ctx.marketId, size, f.priceWad);
            f.matched += size;
        }
        return f.matched;
    }

    /// @dev Each listed position's ADL score; 0 (and `AdlCandidateSkipped`) for one that is not an
    ///      opposite position in profit.
    function _scores(
        PerpTypes.Book storage b,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        Fill memory f,
        address[] memory counterparties
    ) private returns (uint256[] memory scores) {
        scores = new uint256[](counterparties.length);
        for (uint256 i = 0; i < counterparties.length; ++i) {
            address cp = counterparties[i];
            PerpTypes.Position storage q = b.positions[cp];
            if (cp == f.liquidated || q.sizeBase == 0 || (q.sizeBase > 0) == f.liquidatedIsLong) {
                emit IPerpEvents.AdlCandidateSkipped(cp, ctx.marketId, SKIP_NO_OPPOSITE_POSITION);
                continue;
            }
            // In profit at the fill price too: otherwise ADL would hand it a loss.
            if (PositionLogic.unrealizedPnl(q, f.priceWad, ctx.unit) > 0) scores[i] = PositionLogic.adlScore(s, q, ctx);
            if (scores[i] == 0) emit IPerpEvents.AdlCandidateSkipped(cp, ctx.marketId, SKIP_NOT_IN_PROFIT);
        }
    }

    /// @dev The index of the highest non-zero score (the first of equals).
    function _best(uint256[] memory scores) private pure returns (bool found, uint256 best) {
        for (uint256 i = 0; i < scores.length; ++i) {
            if (scores[i] > 0 && (!found || scores[i] > scores[best])) {
                found = true;
                best = i;
            }
        }
    }

    /// @notice Closes `size` of `trader`'s position at `priceWad`. The realized PnL and pending
    ///         funding go into its margin (a shortfall, only possible when the price is worse than
    ///         its entry, is paid by the fund and then recorded as bad debt); a position closed in
    ///         full is credited what is left.
    function deleverage(
        PerpTypes.Book storage b,
        PerpTypes.Vault storage v,
        PerpTypes.MarketState memory s,
        PerpTypes.Ctx memory ctx,
        address trader,
        uint256 size,
        uint256 priceWad
    ) internal {
        PerpTypes.Position storage q = b.positions[trader];
        int256 left = PositionLogic.takeFunding(s, q, ctx, trader);
        int256 sizeDelta = q.sizeBase > 0 ? -size.toInt256() : size.toInt256();
        (int256 pnl, uint256 notional) = _realize(s, q, size, priceWad, ctx.unit);
        int256 newMargin = left + pnl;
        if (newMargin < 0) {
            InsuranceLogic.coverLoss(v, ctx.marketId, trader, uint256(-newMargin));
            newMargin = 0;
        }
        emit IPerpEvents.PositionChanged(trader, ctx.marketId, sizeDelta, notional, 0, pnl, q.sizeBase, uint256(newMargin));
        if (q.sizeBase == 0) {
            PositionLogic.remove(b, trader);
            InsuranceLogic.credit(v, trader, uint256(newMargin));
        } else {
            q.margin = uint256(newMargin);
        }
    }

    /// @dev Takes `size` off `q` at `priceWad`; the PnL against its share of the open notional,
    ///      rounded against the trader, and the fill's notional.
    function _realize(PerpTypes.MarketState memory s, PerpTypes.Position storage q, uint256 size, uint256 priceWad, uint256 unit)
        private
        returns (int256 pnl, uint256 notional)
    {
        bool isLong = q.sizeBase > 0;
        uint256 quoteWad = size * priceWad / PerpTypes.WAD;
        uint256 openPart = Math.mulDiv(q.openNotional, size, SignedMath.abs(q.sizeBase), isLong ? Math.Rounding.Ceil : Math.Rounding.Floor);
        notional = PricingLogic.toCollateral(quoteWad, unit, false);
        pnl = isLong
            ? notional.toInt256() - openPart.toInt256()
            : openPart.toInt256() - PricingLogic.toCollateral(quoteWad, unit, true).toInt256();
        PositionLogic.shrink(s, q, size, openPart);
    }
}
