// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PoolPriceSource} from "./PoolPriceSource.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";

/// @title LstIndexAggregator
/// @notice The USD price of a liquid staking token (wBETH-, BNSOL-like) as a collateral index that
///         blends its own thin market with what it redeems for:
///         index = w × spot on its pool + (1 − w) × rate × underlying price,
///         with w = `spotWeightBps` / 10,000 and rate = underlying per LST (`rateWad`, WAD). This is
///         how an exchange priced wBETH (w = 0.2) and BNSOL (w = 0.3) as collateral on 10 October
///         2025: a seller dumping the LST on its thin pool moves the index by w times the de-peg,
///         and every position using the LST as collateral moves with it.
/// @dev Rounds down once per term: spot as PoolSpotAggregator, rate × underlying, then the blend.
///      `updatedAt` is the older of the pool's quote feed and the underlying feed: a derived price
///      is as stale as its stalest input. Only the owner (the LST's rate keeper) moves the rate.
contract LstIndexAggregator is PoolPriceSource, Ownable {
    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;
    uint256 private constant USD_PRICE_UNIT = 1e8;

    /// @notice USD feed of the token the LST redeems for (e.g. ETH / USD for wBETH).
    AggregatorV3Interface public immutable underlyingAggregator;
    uint256 private immutable _underlyingAggregatorUnit;
    /// @notice Weight of the pool's spot price in the index, in bps (2,000 = 20%).
    uint16 public immutable spotWeightBps;
    /// @notice Underlying tokens one LST redeems for, in WAD (1.07e18: 1 wBETH = 1.07 ETH).
    uint256 public rateWad;

    /// @notice The owner set the exchange rate.
    event ExchangeRateSet(uint256 rateWad);

    /// @param pool_ A ConstantProductPool or Uniswap V2 pair holding the LST.
    /// @param lstToken_ The LST (the pool token priced).
    /// @param quoteAggregator_ USD feed of the pool's other token, or address(0) for a $1 stablecoin.
    /// @param underlyingAggregator_ USD feed of the underlying token.
    /// @param spotWeightBps_ w in bps, at most 10,000.
    /// @param rateWad_ Underlying per LST in WAD, above zero.
    /// @param description_ E.g. "wBETH / USD (collateral index)".
    constructor(
        address pool_,
        address lstToken_,
        address quoteAggregator_,
        address underlyingAggregator_,
        uint16 spotWeightBps_,
        uint256 rateWad_,
        string memory description_
    ) PoolPriceSource(pool_, lstToken_, quoteAggregator_, description_) Ownable(msg.sender) {
        if (spotWeightBps_ > BPS) revert InvalidSpotWeight(spotWeightBps_);
        if (rateWad_ == 0) revert InvalidExchangeRate(rateWad_);
        underlyingAggregator = AggregatorV3Interface(underlyingAggregator_);
        _underlyingAggregatorUnit = 10 ** AggregatorV3Interface(underlyingAggregator_).decimals();
        spotWeightBps = spotWeightBps_;
        rateWad = rateWad_;
    }

    /// @notice Set how many underlying tokens one LST redeems for (staking rewards raise it).
    /// @param rateWad_ Underlying per LST in WAD, above zero.
    function setExchangeRate(uint256 rateWad_) external onlyOwner {
        if (rateWad_ == 0) revert InvalidExchangeRate(rateWad_);
        rateWad = rateWad_;
        emit ExchangeRateSet(rateWad_);
    }

    /// @notice The index now: w × pool spot + (1 − w) × rate × underlying, USD with 8 decimals.
    function latestRoundData() public view override returns (uint80, int256, uint256, uint256, uint80) {
        (uint256 spotUsd8, uint256 spotUpdatedAt) = _spotUsd8();
        (uint256 redeemUsd8, uint256 underlyingUpdatedAt) = _redemptionUsd8();
        uint256 answer = (spotUsd8 * spotWeightBps + redeemUsd8 * (BPS - spotWeightBps)) / BPS;
        uint256 updatedAt = Math.min(spotUpdatedAt, underlyingUpdatedAt);
        uint80 roundId = _currentRoundId();
        return (roundId, SafeCast.toInt256(answer), updatedAt, updatedAt, roundId);
    }

    /// @notice The pool's spot price of the LST alone (what a pool-spot oracle would answer).
    function spotPrice() external view returns (int256) {
        (uint256 spotUsd8,) = _spotUsd8();
        return SafeCast.toInt256(spotUsd8);
    }

    /// @notice What one LST redeems for at the underlying's price: rate × underlying, USD 8 decimals.
    function redemptionPrice() external view returns (int256) {
        (uint256 redeemUsd8,) = _redemptionUsd8();
        return SafeCast.toInt256(redeemUsd8);
    }

    /// @dev The pool's spot price of one LST, USD 8 decimals, and its quote feed's update time.
    function _spotUsd8() private view returns (uint256 spotUsd8, uint256 updatedAt) {
        (uint256 reserveBase, uint256 reserveQuote,) = _baseQuoteReserves();
        (uint256 quoteAnswer, uint256 quoteAnswerUnit, uint256 quoteUpdatedAt) = _quotePrice();
        spotUsd8 = uint256(_usdPrice(reserveQuote, reserveBase, quoteAnswer, quoteAnswerUnit));
        updatedAt = quoteUpdatedAt;
    }

    /// @dev rate × underlying USD price, 8 decimals, rounded down once, and the feed's update time.
    function _redemptionUsd8() private view returns (uint256 redeemUsd8, uint256 updatedAt) {
        (, int256 underlyingAnswer,, uint256 underlyingUpdatedAt,) = underlyingAggregator.latestRoundData();
        if (underlyingAnswer <= 0) revert InvalidUnderlyingPrice(address(underlyingAggregator), underlyingAnswer);
        redeemUsd8 = Math.mulDiv(uint256(underlyingAnswer), rateWad * USD_PRICE_UNIT, WAD * _underlyingAggregatorUnit);
        updatedAt = underlyingUpdatedAt;
    }
}
