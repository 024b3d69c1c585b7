// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOracleErrors
/// @notice Every custom error of the oracle module, each carrying the offending values.
interface IOracleErrors {
    /// @notice No data is kept for round `roundId`.
    error RoundNotFound(uint80 roundId);
    /// @notice `token` is neither token of `pool`.
    error TokenNotInPool(address token, address pool);
    /// @notice `pool` has an empty reserve, so it has no price.
    error EmptyPool(address pool, uint112 reserve0, uint112 reserve1);
    /// @notice The quote token's aggregator answered a non-positive price.
    error InvalidQuotePrice(address quoteAggregator, int256 answer);
    /// @notice A TWAP window or observation capacity of zero (capacity must be at least 2).
    error InvalidTwapConfig(uint32 windowS, uint16 observationCapacity);
    /// @notice No observation is at or before `neededAtOrBefore`; the oldest kept is at `oldestTimestamp`
    ///         (0: none yet). Call `update()` at least once per window, and let a window pass.
    error InsufficientHistory(uint256 neededAtOrBefore, uint256 oldestTimestamp);
    /// @notice Observation `index` (oldest first) is not kept; `count` are.
    error ObservationNotFound(uint256 index, uint256 count);
    /// @notice An LST index's weight on its pool's spot price above 100% (in bps).
    error InvalidSpotWeight(uint16 spotWeightBps);
    /// @notice An LST's exchange rate to its underlying of zero.
    error InvalidExchangeRate(uint256 rateWad);
    /// @notice The underlying's aggregator answered a non-positive price.
    error InvalidUnderlyingPrice(address underlyingAggregator, int256 answer);
}
