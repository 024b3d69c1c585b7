// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPerpErrors
/// @notice Every custom error of the perp module, each carrying the offending values. The logic
///         libraries revert with `IPerpErrors.X(...)`; the exchange inherits this interface so
///         every error is in its ABI.
interface IPerpErrors {
    error ZeroAddress();
    error ZeroAmount();
    error Paused();
    error UnsupportedCollateralDecimals(uint8 decimals);
    error MarketNotFound(uint256 marketId);
    error InvalidMarketParameters(uint16 initialMarginBps, uint16 maintenanceMarginBps, uint16 liquidationFeeBps, uint16 tradingFeeBps);
    error InvalidVirtualReserves(uint256 vBaseReserve, uint256 vQuoteReserve);
    /// @notice A zero interval, a cap above 100% per interval, or a factor above 100.
    error InvalidFundingParameters(uint32 intervalS, uint256 fundingFactorWad, uint256 maxRatePerIntervalWad);
    error InvalidPriceSource(uint8 source);
    /// @notice The median mark needs an EMA time constant: with none, one block's push is the EMA.
    error InvalidMarkEma(uint8 source, uint32 emaTimeS);
    /// @notice Chunks need a share in [1%, 100%] (smaller ones would never finish a liquidation).
    error InvalidLiquidationParameters(uint16 maxLiquidationBps, uint256 partialLiquidationUsdc, uint256 minPositionUsdc);
    error InvalidIndexPrice(uint256 marketId, int256 answer);
    /// @notice Leverage above 1 / initial margin (or zero).
    error InvalidLeverage(uint256 leverageWad, uint256 maxLeverageWad);
    /// @notice The trade's average price is worse than the trader's limit.
    error PriceLimitExceeded(uint256 averagePriceWad, uint256 priceLimitWad);
    /// @notice An open in the direction opposite to the existing position (reduce it instead).
    error DirectionMismatch(int256 sizeBase, bool isLong);
    error NoPosition(address trader, uint256 marketId);
    /// @notice The trade is larger than the virtual reserves allow.
    error InsufficientVirtualLiquidity(uint256 sizeBase, uint256 vBaseReserve);
    /// @notice The position would keep less open notional than the market's minimum.
    error PositionBelowMinimum(uint256 openNotionalUsdc, uint256 minPositionUsdc);
    /// @notice After removing margin the margin ratio would fall below the initial margin.
    error MarginRatioBelowInitial(uint256 marginRatioWad, uint256 initialMarginWad);
    /// @notice Funding owed exceeds the margin: the position can only be liquidated.
    error PositionBankrupt(address trader, uint256 marketId, int256 equity);
    /// @notice Reducing would leave the position less than nothing: it must be liquidated.
    error CloseWouldBeBankrupt(int256 payout);
    error NotLiquidatable(uint256 marginRatioWad, uint256 maintenanceMarginWad);
    /// @notice A chunk of this position was liquidated less than the market's cooldown ago.
    error LiquidationCooldown(address trader, uint256 marketId, uint256 readyAtS);
    /// @notice The vAMM is pushed more than the maintenance margin against the position (index
    ///         and median sources): its exit would pay whoever pushed it.
    error VammAgainstPosition(uint256 vammPriceWad, uint256 marginPriceWad);
    /// @notice The trade would leave a position that is liquidatable at once.
    error OpensLiquidatable(uint256 marginRatioWad, uint256 maintenanceMarginWad);
    error InsufficientMargin(uint256 requested, uint256 margin);
}
