// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title InterestRateMath
/// @notice The kinked rate model and the index growth of Aave v3, in RAY (1e27).
library InterestRateMath {
    uint256 internal constant RAY = 1e27;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant SECONDS_PER_YEAR = 365 days;
    /// @dev One basis point of a yearly rate, in RAY.
    uint256 internal constant BPS_TO_RAY = RAY / BPS;

    /// @notice Utilization = debt / (idle cash + debt), in RAY; 0 when both are 0.
    function utilizationRay(uint256 totalDebt, uint256 cash) internal pure returns (uint256) {
        uint256 total = totalDebt + cash;
        return total == 0 ? 0 : Math.mulDiv(totalDebt, RAY, total);
    }

    /// @notice Yearly borrow rate (RAY): base + slope1·U/optimal below the kink,
    ///         base + slope1 + slope2·(U − optimal)/(1 − optimal) above it.
    function borrowRateRay(
        uint256 utilization,
        uint32 baseRateBps,
        uint32 slope1Bps,
        uint32 slope2Bps,
        uint16 optimalUtilizationBps
    ) internal pure returns (uint256) {
        uint256 optimal = uint256(optimalUtilizationBps) * BPS_TO_RAY;
        uint256 rate = uint256(baseRateBps) * BPS_TO_RAY;
        if (utilization <= optimal) {
            return rate + Math.mulDiv(uint256(slope1Bps) * BPS_TO_RAY, utilization, optimal);
        }
        return rate + uint256(slope1Bps) * BPS_TO_RAY
            + Math.mulDiv(uint256(slope2Bps) * BPS_TO_RAY, utilization - optimal, RAY - optimal);
    }

    /// @notice Supply rate (RAY): what borrowers pay, spread over all that suppliers are owed (no
    ///         reserve factor). Suppliers' claims include any deficit, so bad debt earns nothing and
    ///         the interest paid never exceeds the interest received.
    function liquidityRateRay(uint256 borrowRate, uint256 totalDebt, uint256 totalSupplied)
        internal
        pure
        returns (uint256)
    {
        return totalSupplied == 0 ? 0 : Math.mulDiv(borrowRate, totalDebt, totalSupplied);
    }

    /// @notice Growth factor of the supply index over `elapsedS`: 1 + rate·t (linear, as Aave).
    function linearGrowthRay(uint256 rateRay, uint256 elapsedS) internal pure returns (uint256) {
        return RAY + (rateRay * elapsedS) / SECONDS_PER_YEAR;
    }

    /// @notice Growth factor of the debt index over `elapsedS`: (1 + rate/year)^t by the first three
    ///         terms of its binomial expansion, as Aave v3 (slightly below the exact compound value).
    function compoundedGrowthRay(uint256 rateRay, uint256 elapsedS) internal pure returns (uint256) {
        if (elapsedS == 0) return RAY;
        uint256 t = elapsedS;
        uint256 tMinusOne = t - 1;
        uint256 tMinusTwo = t > 2 ? t - 2 : 0;
        uint256 ratePowerTwo = Math.mulDiv(rateRay, rateRay, RAY) / (SECONDS_PER_YEAR * SECONDS_PER_YEAR);
        uint256 ratePowerThree = Math.mulDiv(ratePowerTwo, rateRay, RAY) / SECONDS_PER_YEAR;
        uint256 secondTerm = (t * tMinusOne * ratePowerTwo) / 2;
        uint256 thirdTerm = (t * tMinusOne * tMinusTwo * ratePowerThree) / 6;
        return RAY + (rateRay * t) / SECONDS_PER_YEAR + secondTerm + thirdTerm;
    }
}
