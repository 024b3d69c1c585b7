// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title LiquidationMath
/// @notice How much collateral a liquidation seizes for how much debt (Aave v3.0–3.2 rules).
library LiquidationMath {
    uint256 internal constant BPS = 10_000;

    struct Prices {
        uint256 debtPrice; // USD, 8 decimals
        uint256 debtUnit; // 10 ** debt token decimals
        uint256 collateralPrice; // USD, 8 decimals
        uint256 collateralUnit; // 10 ** collateral token decimals
    }

    /// @notice Collateral seized for `debtToLiquidate`, the debt actually repaid, and the treasury's fee.
    /// @dev collateral = debt × debtPrice / collateralPrice × bonus (decimals adjusted), rounded down.
    ///      When that exceeds `userCollateral`, all of it is seized and the debt repaid is
    ///      collateral × collateralPrice / debtPrice / bonus, rounded UP: against the liquidator, who
    ///      never pays less than the collateral is worth at the bonus.
    ///      fee = (seized − seized / bonus) × feeBps, with seized / bonus rounded down and the fee
    ///      rounded up: the treasury's share is never short-changed.
    function seize(
        uint256 debtToLiquidate,
        uint256 userCollateral,
        Prices memory prices,
        uint16 liquidationBonusBps,
        uint16 protocolFeeBps
    ) internal pure returns (uint256 collateralSeized, uint256 debtRepaid, uint256 protocolFee) {
        uint256 debtValueScale = prices.debtPrice * prices.collateralUnit;
        uint256 collateralValueScale = prices.collateralPrice * prices.debtUnit;
        uint256 maxCollateral =
            Math.mulDiv(debtToLiquidate, debtValueScale * liquidationBonusBps, collateralValueScale * BPS);
        if (maxCollateral > userCollateral) {
            collateralSeized = userCollateral;
            debtRepaid = Math.mulDiv(
                userCollateral,
                collateralValueScale * BPS,
                debtValueScale * liquidationBonusBps,
                Math.Rounding.Ceil
            );
        } else {
            collateralSeized = maxCollateral;
            debtRepaid = debtToLiquidate;
        }
        uint256 bonusPart = collateralSeized - Math.mulDiv(collateralSeized, BPS, liquidationBonusBps);
        protocolFee = Math.mulDiv(bonusPart, protocolFeeBps, BPS, Math.Rounding.Ceil);
    }
}
