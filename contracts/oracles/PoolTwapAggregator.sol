// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {PoolPriceSource} from "./PoolPriceSource.sol";

/// @title PoolTwapAggregator
/// @notice The time-weighted average price of a pool token over the last `windowS` seconds, from
///         the pool's V2 price accumulators, times the quote token's current USD price.
/// @dev KEEPER CALL: `update()` must be called regularly (anyone may call it). It records the
///      accumulator at the current time in a ring of `observationCapacity` slots. A reading at time
///      `now` averages over [start, now], where `start` is the newest observation at or before
///      `now − windowS`. The period is therefore exactly `windowS` when an observation sits at that
///      instant (a keeper that updates every block with `windowS` a multiple of the block time), and
///      longer by less than the keeper's update interval otherwise. Updates closer together than
///      `minObservationGapS` = ceil(windowS / (capacity − 1)) are skipped, so the ring always spans
///      a window and nobody can flush the history by calling `update()` every block; for an exact
///      window, give the keeper's interval as the gap (capacity = windowS / interval + 1 or more).
///      Readings revert with `InsufficientHistory` until an observation is `windowS` old.
///      The manipulation cost is the point: moving this price needs the pool held off-price for a
///      large part of the window, not for one transaction.
contract PoolTwapAggregator is PoolPriceSource {
    struct Observation {
        uint64 timestamp;
        uint256 priceCumulative;
    }

    /// @notice Emitted by `update()` for each observation stored.
    event ObservationRecorded(uint256 timestamp, uint256 priceCumulative);

    uint256 private constant Q112 = 2 ** 112;

    /// @notice Length of the averaging window, in seconds.
    uint32 public immutable windowS;
    /// @notice Number of observations kept (oldest are overwritten).
    uint16 public immutable observationCapacity;
    /// @notice Least time between two observations: windowS / (capacity − 1), rounded up, so that
    ///      no caller can push the history out of the ring faster than a window.
    uint256 public immutable minObservationGapS;
    /// @notice Observations stored so far, up to the capacity.
    uint16 public observationCount;
    uint16 private _nextSlot;
    mapping(uint256 slot => Observation) private _slots;

    /// @param pool_ A ConstantProductPool or Uniswap V2 pair.
    /// @param baseToken_ The pool token to price.
    /// @param quoteAggregator_ USD feed of the other token, or address(0) for a $1 stablecoin.
    /// @param windowS_ Averaging window in seconds (> 0).
    /// @param observationCapacity_ Observations kept (≥ 2); must cover the window at the keeper's pace.
    /// @param description_ E.g. "ALT / USD (pool TWAP 30m)".
    constructor(
        address pool_,
        address baseToken_,
        address quoteAggregator_,
        uint32 windowS_,
        uint16 observationCapacity_,
        string memory description_
    ) PoolPriceSource(pool_, baseToken_, quoteAggregator_, description_) {
        if (windowS_ == 0 || observationCapacity_ < 2) revert InvalidTwapConfig(windowS_, observationCapacity_);
        windowS = windowS_;
        observationCapacity = observationCapacity_;
        minObservationGapS = Math.ceilDiv(windowS_, uint256(observationCapacity_) - 1);
    }

    /// @notice Records the pool's price accumulator at the current block time (keeper call; see the
    ///         contract notes). A call less than `minObservationGapS` after the newest observation
    ///         is a no-op.
    /// @return recorded Whether an observation was stored.
    function update() external returns (bool recorded) {
        if (observationCount > 0 && block.timestamp < _newestObservationTimestamp() + minObservationGapS) return false;
        uint256 priceCumulative = _currentPriceCumulative();
        _slots[_nextSlot] = Observation({timestamp: uint64(block.timestamp), priceCumulative: priceCumulative});
        _nextSlot = uint16((uint256(_nextSlot) + 1) % observationCapacity);
        if (observationCount < observationCapacity) observationCount += 1;
        emit ObservationRecorded(block.timestamp, priceCumulative);
        return true;
    }

    /// @notice The average price of one raw base unit in raw quote units, as UQ112x112, and the start
    ///         of the period it averages over (which ends now).
    function consult() public view returns (uint256 averagePriceQ112, uint256 periodStartS) {
        uint256 count = observationCount;
        uint256 oldestTimestamp = count == 0 ? 0 : _observation(0).timestamp;
        if (count == 0 || block.timestamp < uint256(windowS) + oldestTimestamp) {
            uint256 neededAtOrBefore = block.timestamp > windowS ? block.timestamp - windowS : 0;
            revert InsufficientHistory(neededAtOrBefore, oldestTimestamp);
        }
        Observation memory start = _observation(_newestAtOrBefore(block.timestamp - windowS, count));
        unchecked {
            // The accumulators wrap by design; the difference is right modulo 2**256.
            averagePriceQ112 = (_currentPriceCumulative() - start.priceCumulative) / (block.timestamp - start.timestamp);
        }
        periodStartS = start.timestamp;
    }

    /// @notice The `index`-th kept observation, oldest first.
    function observationAt(uint256 index) external view returns (uint256 timestamp, uint256 priceCumulative) {
        if (index >= observationCount) revert ObservationNotFound(index, observationCount);
        Observation memory observation = _observation(index);
        return (observation.timestamp, observation.priceCumulative);
    }

    /// @notice The TWAP in USD (8 decimals). `startedAt` is the start of the averaging period.
    ///         `updatedAt` is the newest observation's time, or the quote feed's update time if that is
    ///         older: when the keeper stops, the average stretches over a longer period, and a
    ///         consumer's staleness check on `updatedAt` catches it.
    function latestRoundData() public view override returns (uint80, int256, uint256, uint256, uint80) {
        (uint256 averagePriceQ112, uint256 periodStartS) = consult();
        (uint256 quoteAnswer, uint256 quoteAnswerUnit, uint256 quoteUpdatedAt) = _quotePrice();
        uint256 updatedAt = Math.min(_newestObservationTimestamp(), quoteUpdatedAt);
        int256 answer = _usdPrice(averagePriceQ112, Q112, quoteAnswer, quoteAnswerUnit);
        uint80 roundId = _currentRoundId();
        return (roundId, answer, periodStartS, updatedAt, roundId);
    }

    function _newestObservationTimestamp() private view returns (uint256) {
        return _observation(observationCount - 1).timestamp;
    }

    /// @dev The base token's accumulator as it would read after an update now (V2 oracle library).
    function _currentPriceCumulative() private view returns (uint256 priceCumulative) {
        (uint256 reserveBase, uint256 reserveQuote, uint32 blockTimestampLast) = _baseQuoteReserves();
        priceCumulative = baseIsToken0 ? pool.price0CumulativeLast() : pool.price1CumulativeLast();
        unchecked {
            uint32 elapsed = uint32(block.timestamp) - blockTimestampLast;
            if (elapsed > 0) priceCumulative += ((reserveQuote << 112) / reserveBase) * elapsed;
        }
    }

    /// @dev Index (oldest first) of the newest observation with timestamp ≤ `target`; the caller has
    ///      checked that observation 0 qualifies. Binary search: timestamps rise with the index.
    function _newestAtOrBefore(uint256 target, uint256 count) private view returns (uint256 low) {
        uint256 high = count - 1;
        while (low < high) {
            uint256 mid = (low + high + 1) / 2;
            if (_observation(mid).timestamp <= target) low = mid;
            else high = mid - 1;
        }
    }

    /// @dev Observation by age order: index 0 is the oldest kept.
    function _observation(uint256 index) private view returns (Observation memory) {
        uint256 oldestSlot = observationCount < observationCapacity ? 0 : _nextSlot;
        return _slots[(oldestSlot + index) % observationCapacity];
    }
}
