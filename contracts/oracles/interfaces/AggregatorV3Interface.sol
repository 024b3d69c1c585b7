// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AggregatorV3Interface
/// @notice Chainlink's price-feed interface, so lending and perp markets can read any of our
///         oracles (or a real Chainlink feed on a fork) through the same calls.
interface AggregatorV3Interface {
    /// @notice Decimals of `answer` (8 for our USD prices).
    function decimals() external view returns (uint8);

    /// @notice Human-readable pair, e.g. "ALT / USD".
    function description() external view returns (string memory);

    /// @notice Version of the aggregator implementation.
    function version() external view returns (uint256);

    /// @notice Data of round `roundId`; reverts when that round is not available.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice Data of the newest round.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
