// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PoolPriceSource} from "./PoolPriceSource.sol";

/// @title PoolSpotAggregator
/// @notice The instantaneous price of a pool token: quote reserve / base reserve (decimals adjusted)
///         times the quote token's USD price. Moves with every swap, so one large sale — or a
///         flash-loan manipulation — moves whatever market reads it. This is the "oracle reading a
///         thin internal market" of the wBETH/BNSOL/USDe de-pegs.
contract PoolSpotAggregator is PoolPriceSource {
    /// @param pool_ A ConstantProductPool or Uniswap V2 pair.
    /// @param baseToken_ The pool token to price.
    /// @param quoteAggregator_ USD feed of the other token, or address(0) for a $1 stablecoin.
    /// @param description_ E.g. "ALT / USD (pool spot)".
    constructor(address pool_, address baseToken_, address quoteAggregator_, string memory description_)
        PoolPriceSource(pool_, baseToken_, quoteAggregator_, description_)
    {}

    /// @notice The spot price now. `startedAt` and `updatedAt` are the quote feed's update time
    ///         (the block time when the quote is fixed at $1): a derived price is as stale as its input.
    function latestRoundData() public view override returns (uint80, int256, uint256, uint256, uint80) {
        (uint256 reserveBase, uint256 reserveQuote,) = _baseQuoteReserves();
        (uint256 quoteAnswer, uint256 quoteAnswerUnit, uint256 updatedAt) = _quotePrice();
        uint80 roundId = _currentRoundId();
        int256 answer = _usdPrice(reserveQuote, reserveBase, quoteAnswer, quoteAnswerUnit);
        return (roundId, answer, updatedAt, updatedAt, roundId);
    }
}
