// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ILendingPoolErrors, LiquidationRules} from "../interfaces/ILendingPool.sol";

/// @title LiquidationMath
/// @notice The amounts of one liquidation: how much debt it may repay (close factor, per rule
///         set), how much collateral that seizes and the treasury's share of it, and the v3.3
///         rule against leaving dust. Pure: the pool reads balances and prices and applies the result.
/// @dev Units: token amounts in native decimals, "base" values in USD with 8 decimals, health
///      factors in WAD, shares in bps. Base values are amount × price / unit rounded DOWN, as Aave
///      v3.3 computes them for its close-factor and dust checks.
library LiquidationMath {
    uint256 internal constant BPS = 10_000;

    /// @dev Aave v3.3: below this base value of the collateral or of the debt involved, a
    ///      liquidation may repay all of the debt whatever the health factor ($2,000).
    uint256 internal constant MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2000e8;
    /// @dev Aave v3.3: the least base value a partial liquidation may leave of the debt and of the
    ///      collateral involved ($1,000 = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD / 2).
    uint256 internal constant MIN_LEFTOVER_BASE = 1000e8;

    struct Prices {
        uint256 debtPrice; // USD, 8 decimals
        uint256 debtUnit; // 10 ** debt token decimals
        uint256 collateralPrice; // USD, 8 decimals
        uint256 collateralUnit; // 10 ** collateral token decimals
    }

    /// @notice One position in one (collateral, debt) pair, and the pool's close-factor settings.
    struct Position {
        uint256 userCollateral; // native units of the collateral asset
        uint256 userDebt; // native units of the debt asset
        uint256 healthFactorWad;
        uint256 closeFactorBps;
        uint256 fullLiquidationHealthFactorWad;
    }

    /// @notice The most debt one liquidation may repay.
    /// @dev V3_0 (Aave v3.0.2 `_calculateDebt`): closeFactorBps of the debt while HF is above
    ///      fullLiquidationHealthFactorWad, all of it at or below (Aave: `HF > 0.95 ? 50% : 100%`).
    ///      V3_3: all of the debt, unless the collateral AND the debt of this pair are each worth
    ///      ≥ MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD and HF > fullLiquidationHealthFactorWad; then
    ///      closeFactorBps of the debt in `debtAsset`.
    ///      DIFFERENCE FROM AAVE v3.3: Aave caps at 50% of the user's TOTAL debt (all reserves) in
    ///      base, converted back to debt units (and only when this reserve's debt exceeds that);
    ///      we cap at closeFactorBps of this reserve's debt, in native units, as the V3_0 rule
    ///      does. For an account with one debt reserve the two agree up to the rounding of the
    ///      base conversion (ours is exact in native units).
    ///      Both rule sets round the capped amount down (Aave's `percentMul` rounds half up: at
    ///      most one wei less here).
    function maxDebtToLiquidate(LiquidationRules rules, Position memory position, Prices memory prices)
        internal
        pure
        returns (uint256)
    {
        bool aboveFullLiquidation = position.healthFactorWad > position.fullLiquidationHealthFactorWad;
        bool capped = aboveFullLiquidation
            && (
                rules == LiquidationRules.V3_0
                    || (
                        collateralBase(position.userCollateral, prices) >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
                            && debtBase(position.userDebt, prices) >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
                    )
            );
        return capped ? Math.mulDiv(position.userDebt, position.closeFactorBps, BPS) : position.userDebt;
    }

    /// @notice Collateral seized for `debtToLiquidate`, the debt actually repaid, and the treasury's fee.
    /// @dev collateral = debt × debtPrice / collateralPrice × bonus (decimals adjusted), rounded down.
    ///      When that exceeds `userCollateral`, all of it is seized and the debt repaid is
    ///      collateral × collateralPrice / debtPrice / bonus, rounded UP: against the liquidator, who
    ///      never pays less than the collateral is worth at the bonus.
    ///      fee = (seized − seized / bonus) × feeBps, with seized / bonus rounded down and the fee
    ///      rounded up: the treasury's share is never short-changed. `collateralSeized` includes the fee.
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

    /// @notice Aave v3.3's dust rule: a liquidation that leaves both some debt and some collateral
    ///         of the pair must leave at least MIN_LEFTOVER_BASE of each; reverts `MustNotLeaveDust`.
    /// @dev `collateralSeized` includes the protocol fee (as Aave v3.3.0 subtracts both). The way
    ///      out for a liquidator is to repay all of the debt or seize all of the collateral: both
    ///      skip the check. Leftovers are valued rounded down, as in Aave.
    function checkDust(Position memory position, uint256 debtRepaid, uint256 collateralSeized, Prices memory prices)
        internal
        pure
    {
        if (debtRepaid >= position.userDebt || collateralSeized >= position.userCollateral) return;
        uint256 debtLeftBase = debtBase(position.userDebt - debtRepaid, prices);
        uint256 collateralLeftBase = collateralBase(position.userCollateral - collateralSeized, prices);
        if (debtLeftBase < MIN_LEFTOVER_BASE || collateralLeftBase < MIN_LEFTOVER_BASE) {
            revert ILendingPoolErrors.MustNotLeaveDust(debtLeftBase, collateralLeftBase);
        }
    }

    /// @notice Base value (USD, 8 decimals) of `amount` of the collateral asset, rounded down.
    function collateralBase(uint256 amount, Prices memory prices) internal pure returns (uint256) {
        return Math.mulDiv(amount, prices.collateralPrice, prices.collateralUnit);
    }

    /// @notice Base value (USD, 8 decimals) of `amount` of the debt asset, rounded down.
    function debtBase(uint256 amount, Prices memory prices) internal pure returns (uint256) {
        return Math.mulDiv(amount, prices.debtPrice, prices.debtUnit);
    }
}
