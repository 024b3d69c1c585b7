// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPerpEvents
/// @notice Events that let a simulator attribute every loss; emitted by the exchange and its logic
///         libraries.
interface IPerpEvents {
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
    event MarkParamsSet(uint256 indexed marketId, uint8 source, uint32 emaTimeS);
    event LiquidationParamsSet(
        uint256 indexed marketId,
        uint256 minPositionUsdc,
        uint256 partialLiquidationUsdc,
        uint16 maxLiquidationBps,
        uint32 liquidationCooldownS,
        uint256 maxFundFeeUsdc
    );
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
    /// @notice Funding accrued over `elapsedS` at `rateWad` per interval (`paymentPerBaseWad` in all).
    event FundingAccrued(
        uint256 indexed marketId, uint256 elapsedS, int256 rateWad, int256 paymentPerBaseWad, int256 cumulativeFundingWad
    );
    /// @notice `sizeBase` of the position was liquidated (a chunk when `sizeLeftBase` ≠ 0).
    ///         `marginLeft` is margin + realized PnL before the fee (negative: a loss beyond it);
    ///         `liquidatorFee` counts what the fund paid of it; `insuranceChange` is the fund's net
    ///         change (margin left in, losses and the fee out).
    event PositionLiquidated(
        address indexed trader,
        uint256 indexed marketId,
        int256 sizeBase,
        uint256 exitPriceWad,
        int256 marginLeft,
        uint256 liquidatorFee,
        int256 insuranceChange,
        address liquidator,
        int256 sizeLeftBase
    );
    /// @notice One fill of an auto-deleveraging: `counterparty` reduced by `sizeBase` at the price.
    event AutoDeleveraged(
        address liquidated, address counterparty, uint256 marketId, uint256 sizeBase, uint256 bankruptcyPriceWad
    );
    /// @notice A listed ADL counterparty was passed over: 1 no opposite position, 2 not in profit
    ///         (at the margin price or at the bankruptcy price).
    event AdlCandidateSkipped(address indexed counterparty, uint256 indexed marketId, uint8 reason);
    event InsuranceFundChanged(int256 change, uint256 balance);
    event BadDebtRecorded(uint256 indexed marketId, address indexed trader, uint256 amount, uint256 totalBadDebt);
    event CreditChanged(address indexed trader, int256 change, uint256 credit);
}
