// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Which Aave version's liquidation rules `LendingPool.liquidationCall` applies.
/// @dev V3_0: Aave v3.0–v3.2 — at most `closeFactorBps` of the debt while the health factor is
///      above `fullLiquidationHealthFactorWad`, all of it at or below. V3_3: Aave v3.3 — all of the
///      debt unless the collateral and the debt involved are both worth ≥ $2,000 and the health
///      factor is above that threshold, and no partial liquidation may leave < $1,000 of either.
enum LiquidationRules {
    V3_0,
    V3_3
}

/// @title ILendingPoolErrors
/// @notice Every custom error of the lending module, each carrying the offending values.
interface ILendingPoolErrors {
    error ZeroAddress();
    error ZeroAmount();
    error Paused();
    error ReserveNotListed(address asset);
    error ReserveAlreadyListed(address asset);
    error TooManyReserves(uint256 maxReserves);
    /// @notice Listing or risk parameters break LTV ≤ LT, bonus ≥ 100% or LT × bonus ≤ 100%.
    error InvalidRiskParameters(uint16 ltvBps, uint16 liquidationThresholdBps, uint16 liquidationBonusBps);
    error InvalidCloseFactor(uint16 closeFactorBps, uint256 fullLiquidationHealthFactorWad);
    error InvalidProtocolFee(uint16 feeBps);
    error InvalidInterestRateModel(uint16 optimalUtilizationBps);
    /// @notice The oracle answered a price of zero or below.
    error InvalidPrice(address asset, int256 answer);
    /// @notice The oracle's last update is older than the pool's maximum age.
    error StalePrice(address asset, uint256 updatedAt, uint256 maxOracleAgeS);
    error BorrowingNotEnabled(address asset);
    error SupplyCapExceeded(address asset, uint256 totalSuppliedAfter, uint256 supplyCap);
    error BorrowCapExceeded(address asset, uint256 totalDebtAfter, uint256 borrowCap);
    /// @notice Not enough idle liquidity in the reserve for a withdrawal or borrow.
    error InsufficientLiquidity(address asset, uint256 requested, uint256 available);
    error InsufficientCollateral(address asset, uint256 requested, uint256 balance);
    /// @notice The debt after a borrow would exceed Σ collateral × price × LTV.
    error BorrowExceedsLtv(uint256 debtBaseAfter, uint256 maxDebtBase);
    /// @notice The action would leave the account's health factor below 1.
    error HealthFactorBelowOne(uint256 healthFactorWad);
    error NoDebt(address user, address asset);
    /// @notice Liquidation requires a health factor below 1.
    error HealthFactorNotBelowThreshold(uint256 healthFactorWad);
    /// @notice The user has nothing of `asset` to seize, or `asset` is not usable as collateral.
    error NoCollateralToSeize(address user, address asset);
    /// @notice Under the v3.3 rules, a partial liquidation would leave less than $1,000 (1000e8
    ///         base) of the debt or of the collateral involved: values in USD with 8 decimals.
    error MustNotLeaveDust(uint256 debtLeftBase, uint256 collateralLeftBase);
}

/// @title ILendingPoolEvents
/// @notice Every state change emits one of these; the liquidation event has Aave's fields.
interface ILendingPoolEvents {
    event ReserveListed(
        address indexed asset,
        address oracle,
        uint16 ltvBps,
        uint16 liquidationThresholdBps,
        uint16 liquidationBonusBps,
        bool borrowingEnabled
    );
    event CloseFactorSet(uint16 closeFactorBps, uint256 fullLiquidationHealthFactorWad);
    event LiquidationRulesSet(LiquidationRules rules);
    event LiquidationProtocolFeeSet(address indexed asset, uint16 feeBps);
    event TreasurySet(address treasury);
    event InterestRateModelSet(
        address indexed asset, uint32 baseRateBps, uint32 slope1Bps, uint32 slope2Bps, uint16 optimalUtilizationBps
    );
    event CapsSet(address indexed asset, uint256 supplyCap, uint256 borrowCap);
    event OracleSet(address indexed asset, address oracle);
    event MaxOracleAgeSet(uint256 maxOracleAgeS);
    event PausedSet(bool paused);

    event Supply(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount);
    event Withdraw(address indexed reserve, address indexed user, address indexed to, uint256 amount);
    event Borrow(address indexed reserve, address indexed user, uint256 amount, uint256 borrowRateRay);
    event Repay(address indexed reserve, address indexed user, address indexed repayer, uint256 amount);
    /// @notice Aave v3's liquidation event. `debtToCover` is the debt actually repaid and
    ///         `liquidatedCollateralAmount` the collateral the liquidator received (protocol fee
    ///         excluded), as tokens or, with `receiveAToken`, as a supply claim.
    event LiquidationCall(
        address indexed collateralAsset,
        address indexed debtAsset,
        address indexed user,
        uint256 debtToCover,
        uint256 liquidatedCollateralAmount,
        address liquidator,
        bool receiveAToken
    );
    /// @notice The treasury's share of a liquidation bonus, credited to it as a supply claim in the
    ///         collateral reserve (no token moves), like Aave's aToken transfer to the treasury.
    event LiquidationProtocolFeePaid(address indexed collateralAsset, address indexed user, uint256 amount);
    /// @notice Debt written off because the user has no collateral left (Aave v3.3).
    event DeficitCreated(address indexed user, address indexed debtAsset, uint256 amountCreated);
    event ReserveDataUpdated(
        address indexed reserve,
        uint256 liquidityRateRay,
        uint256 variableBorrowRateRay,
        uint256 liquidityIndexRay,
        uint256 variableBorrowIndexRay
    );
}
