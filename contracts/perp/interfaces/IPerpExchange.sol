// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Positions of many traders in one market, as parallel arrays (`PerpExchange.positionsOf`).
struct PositionsView {
    int256[] sizeBase; // WAD; > 0 long
    uint256[] margin; // collateral units, as stored
    uint256[] openNotional; // collateral units
    int256[] unrealizedPnl; // collateral units, at the margin price
    int256[] pendingFunding; // collateral units owed (> 0) or due (< 0)
    bool[] liquidatable;
}

/// @notice A `PositionsView` of `n` traders, every entry zero.
function emptyPositionsView(uint256 n) pure returns (PositionsView memory out) {
    out.sizeBase = new int256[](n);
    out.margin = new uint256[](n);
    out.openNotional = new uint256[](n);
    out.unrealizedPnl = new int256[](n);
    out.pendingFunding = new int256[](n);
    out.liquidatable = new bool[](n);
}

/// @title IPerpExchangeErrors
/// @notice Every custom error of the perp module, each carrying the offending values.
interface IPerpExchangeErrors {
    error ZeroAddress();
    error ZeroAmount();
    error Paused();
    error UnsupportedCollateralDecimals(uint8 decimals);
    error MarketNotFound(uint256 marketId);
    error InvalidMarketParameters(uint16 initialMarginBps, uint16 maintenanceMarginBps, uint16 liquidationFeeBps, uint16 tradingFeeBps);
    error InvalidVirtualReserves(uint256 vBaseReserve, uint256 vQuoteReserve);
    error InvalidFundingParameters(uint32 intervalS, uint256 maxRatePerIntervalWad);
    error InvalidPriceSource(uint8 source);
    error FundingNotConfigured(uint256 marketId);
    /// @notice `settleFunding` before the interval has passed.
    error FundingTooEarly(uint256 marketId, uint256 nextSettlementS);
    error InvalidIndexPrice(uint256 marketId, int256 answer);
    /// @notice Leverage above 1 / initial margin (or zero).
    error InvalidLeverage(uint256 leverageWad, uint256 maxLeverageWad);
    /// @notice The trade's average price is worse than the trader's limit.
    error PriceLimitExceeded(uint256 averagePriceWad, uint256 priceLimitWad);
    /// @notice An open in the direction opposite to the existing position (close it first).
    error DirectionMismatch(int256 sizeBase, bool isLong);
    error NoPosition(address trader, uint256 marketId);
    /// @notice The trade is larger than the virtual reserves allow.
    error InsufficientVirtualLiquidity(uint256 sizeBase, uint256 vBaseReserve);
    /// @notice After removing margin the margin ratio would fall below the initial margin.
    error MarginRatioBelowInitial(uint256 marginRatioWad, uint256 initialMarginWad);
    /// @notice Funding owed exceeds the margin: the position can only be liquidated.
    error PositionBankrupt(address trader, uint256 marketId, int256 equity);
    /// @notice Closing would pay out less than nothing: the position must be liquidated.
    error CloseWouldBeBankrupt(int256 payout);
    error NotLiquidatable(uint256 marginRatioWad, uint256 maintenanceMarginWad);
    /// @notice The trade would leave a position that is liquidatable at once.
    error OpensLiquidatable(uint256 marginRatioWad, uint256 maintenanceMarginWad);
    error InsufficientMargin(uint256 requested, uint256 margin);
}

/// @title IPerpExchangeEvents
/// @notice Events that let a simulator attribute every loss.
interface IPerpExchangeEvents {
    event MarketListed(
        uint256 indexed marketId,
        string symbol,
        address indexOracle,
        uint256 vBaseReserve,
        uint256 vQuoteReserve,
        uint16 initialMarginBps,
        uint16 maintenanceMarginBps,
        uint16 liquidationFeeBps,
        uint16 tradingFeeBps
    );
    event FundingParamsSet(uint256 indexed marketId, uint32 intervalS, uint256 fundingFactorWad, uint256 maxRatePerIntervalWad);
    event MarginPriceSourceSet(uint256 indexed marketId, uint8 source);
    event AdlEnabledSet(bool enabled);
    event PausedSet(bool paused);

    event PositionChanged(
        address indexed trader,
        uint256 indexed marketId,
        int256 sizeDeltaBase,
        uint256 notional,
        uint256 fee,
        int256 realizedPnl,
        int256 sizeBase,
        uint256 margin
    );
    event MarginChanged(address indexed trader, uint256 indexed marketId, int256 amount, uint256 margin);
    event FundingPaid(address indexed trader, uint256 indexed marketId, int256 amount);
    event FundingSettled(uint256 indexed marketId, int256 rateWad, int256 paymentPerBaseWad, int256 cumulativeFundingWad);
    /// @notice `marginLeft` is what remained of the margin after the exit (negative: a loss beyond it).
    event PositionLiquidated(
        address indexed trader,
        uint256 indexed marketId,
        int256 sizeBase,
        uint256 exitPriceWad,
        int256 marginLeft,
        uint256 liquidatorFee,
        int256 insuranceChange,
        address liquidator
    );
    /// @notice One fill of an auto-deleveraging: `counterparty` reduced by `sizeBase` at the price.
    event AutoDeleveraged(
        address liquidated, address counterparty, uint256 marketId, uint256 sizeBase, uint256 bankruptcyPriceWad
    );
    event InsuranceFundChanged(int256 change, uint256 balance);
    event BadDebtRecorded(uint256 indexed marketId, address indexed trader, uint256 amount, uint256 totalBadDebt);
}
