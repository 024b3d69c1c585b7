// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../../oracles/interfaces/AggregatorV3Interface.sol";

/// @title PerpTypes
/// @notice The perp exchange's storage types, scales and the Params structs its logic libraries take.
/// @dev Units: sizes, prices, virtual reserves, funding and the mark's basis in WAD (1e18 = one base
///      unit or one USD); margins, notionals, fees, the insurance fund, credits and bad debt in
///      collateral-token units (`*Usdc` when named); parameters in basis points (`*Bps`); times in
///      seconds (`*S`).
library PerpTypes {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;

    /// @notice Margin checks read the vAMM price of the moment.
    uint8 internal constant PRICE_SOURCE_VAMM = 0;
    /// @notice Margin checks read the index oracle.
    uint8 internal constant PRICE_SOURCE_INDEX = 1;
    /// @notice Margin checks read the median of index × (1 + last funding rate), index + EMA of
    ///         (vAMM − index), and the vAMM price.
    uint8 internal constant PRICE_SOURCE_MEDIAN = 2;

    /// @notice What the owner sets for a market; changed only by owner calls.
    struct MarketConfig {
        AggregatorV3Interface indexOracle;
        uint256 oracleUnit; // 10 ** the oracle's decimals
        uint16 initialMarginBps;
        uint16 maintenanceMarginBps;
        uint16 liquidationFeeBps; // of the liquidated notional at the margin price
        uint16 tradingFeeBps;
        uint8 marginPriceSource;
        uint32 markEmaTimeS; // time constant of the EMA of (vAMM − index) in the median mark
        uint32 fundingIntervalS; // the period a funding rate is quoted for
        uint256 fundingFactorWad;
        uint256 maxFundingRateWad; // per interval
        uint256 minPositionUsdc; // least open notional a position may keep
        uint256 partialLiquidationUsdc; // above this notional, liquidations go in chunks
        uint16 maxLiquidationBps; // largest chunk, as a share of the position's size
        uint32 liquidationCooldownS; // between two chunks of one position
        uint256 maxFundFeeUsdc; // the most the fund pays a liquidator of a bankrupt position
    }

    /// @notice What trading, funding and liquidations change.
    struct MarketState {
        uint256 vBase;
        uint256 vQuote;
        uint256 longBase;
        uint256 shortBase;
        int256 cumulativeFundingWad; // Σ funding paid per unit of long base, USD (WAD)
        int256 lastFundingRateWad; // the rate per interval applied at the last accrual
        int256 basisEmaWad; // EMA of (vAMM − index), USD (WAD)
        uint64 lastAccrualS;
    }

    struct Market {
        string symbol;
        MarketConfig config;
        MarketState state;
    }

    struct Position {
        int256 sizeBase; // > 0 long, < 0 short
        uint256 margin;
        uint256 openNotional;
        int256 lastFundingIndex; // the market's cumulativeFundingWad when funding was last applied
        uint64 lastLiquidationS; // when a chunk of this position was last liquidated (0: never)
    }

    /// @notice One market's positions and their holders (for `tradersOf`; never iterated on chain).
    struct Book {
        mapping(address trader => Position) positions;
        address[] traders;
        mapping(address trader => uint256) slot; // index in `traders` + 1
    }

    /// @notice The exchange's own money: the fund that pays losses beyond margin, and what it owes.
    struct Vault {
        uint256 insuranceFund;
        uint256 badDebt; // losses neither margin, fund nor ADL absorbed
        uint256 totalCredits; // Σ credits
        mapping(address trader => uint256) credits; // collateral owed, pulled with `withdrawCredit`
    }

    /// @notice Where a logic call happens: the market, prices read once, and the collateral's unit.
    struct Ctx {
        uint256 marketId;
        uint256 unit; // 10 ** collateral decimals
        uint256 indexWad;
        uint256 priceWad; // the margin price
    }

    /// @notice A trade of `sizeBase` against the vAMM, computed before it is applied.
    struct Exit {
        uint256 sizeBase;
        uint256 quoteWad;
        uint256 newBase;
        uint256 newQuote;
        uint256 notional; // collateral units
        uint256 openNotional; // the part of the position's open notional the trade closes
        int256 pnl; // collateral units, realized against that open notional
    }

    struct OpenParams {
        bool isLong;
        uint256 margin;
        uint256 leverageWad;
        uint256 priceLimitWad;
    }

    struct ReduceParams {
        uint256 sizeBase; // at most the position's size; larger closes it all
        uint256 priceLimitWad;
    }
}
