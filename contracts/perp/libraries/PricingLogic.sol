// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpErrors} from "../interfaces/IPerpErrors.sol";
import {PerpTypes} from "./PerpTypes.sol";

/// @title PricingLogic
/// @notice The prices a market reads: the vAMM's, the index oracle's, the median mark, and the
///         margin price chosen among them; the EMA step of the mark's basis; quote-to-collateral.
library PricingLogic {
    using SafeCast for uint256;

    uint256 private constant WAD = PerpTypes.WAD;

    /// @notice vQuote / vBase (WAD), rounded down.
    function vammPrice(PerpTypes.MarketState memory s) internal pure returns (uint256) {
        return s.vQuote * WAD / s.vBase;
    }

    /// @notice The index oracle's answer in WAD; reverts on a non-positive answer.
    function indexPrice(PerpTypes.MarketConfig storage c, uint256 marketId) internal view returns (uint256) {
        (, int256 answer,,,) = c.indexOracle.latestRoundData();
        if (answer <= 0) revert IPerpErrors.InvalidIndexPrice(marketId, answer);
        return uint256(answer) * WAD / c.oracleUnit;
    }

    /// @notice The median of index × (1 + last funding rate), index + basis EMA, and the vAMM price
    ///         (each floored at 0), as Binance's mark: one manipulated component cannot move it.
    function medianMark(uint256 indexWad, uint256 vammWad, int256 basisEmaWad, int256 lastFundingRateWad)
        internal
        pure
        returns (uint256)
    {
        int256 index = indexWad.toInt256();
        uint256 fundingBasisPrice = _floorAtZero(index + index * lastFundingRateWad / int256(WAD));
        uint256 emaPrice = _floorAtZero(index + basisEmaWad);
        return median3(fundingBasisPrice, emaPrice, vammWad);
    }

    /// @notice The middle one of three values.
    function median3(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        if (a > b) (a, b) = (b, a);
        if (b > c) b = c;
        return Math.max(a, b);
    }

    /// @notice The price margin checks, liquidations and ADL scores read, by the market's source.
    function marginPrice(PerpTypes.MarketConfig storage c, PerpTypes.MarketState memory s, uint256 indexWad)
        internal
        view
        returns (uint256)
    {
        uint8 source = c.marginPriceSource;
        if (source == PerpTypes.PRICE_SOURCE_INDEX) return indexWad;
        if (source == PerpTypes.PRICE_SOURCE_MEDIAN) {
            return medianMark(indexWad, vammPrice(s), s.basisEmaWad, s.lastFundingRateWad);
        }
        return vammPrice(s);
    }

    /// @notice One step of the basis EMA after `elapsedS` at `sampleWad`:
    ///         ema + (sample − ema) × elapsed / (elapsed + timeConstant), truncated toward zero.
    ///         No time passed, no change: trades within one block cannot move it.
    function emaStep(int256 emaWad, int256 sampleWad, uint256 elapsedS, uint256 timeConstantS)
        internal
        pure
        returns (int256)
    {
        if (elapsedS == 0) return emaWad;
        return emaWad + (sampleWad - emaWad) * elapsedS.toInt256() / (elapsedS + timeConstantS).toInt256();
    }

    /// @notice Quote WAD to collateral units, rounded down or up.
    function toCollateral(uint256 quoteWad, uint256 unit, bool roundUp) internal pure returns (uint256) {
        return Math.mulDiv(quoteWad, unit, WAD, roundUp ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }

    /// @notice |size| × price in collateral units, rounded down: a position's notional.
    function notionalAt(int256 sizeBase, uint256 priceWad, uint256 unit) internal pure returns (uint256) {
        uint256 size = sizeBase >= 0 ? uint256(sizeBase) : uint256(-sizeBase);
        return toCollateral(size * priceWad / WAD, unit, false);
    }

    function _floorAtZero(int256 x) private pure returns (uint256) {
        return x > 0 ? uint256(x) : 0;
    }
}
