// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title VammMath
/// @notice The virtual constant-product AMM of a perp market: base and quote reserves in WAD whose
///         product is kept. Each new reserve is rounded up, so every trade's result rounds against
///         the trader (less base out, more base in, less quote out, more quote in).
library VammMath {
    /// @notice Buy base with `quoteIn` (a long opening or a short closing by quote).
    function buyBaseWithQuote(uint256 vBase, uint256 vQuote, uint256 quoteIn)
        internal
        pure
        returns (uint256 baseOut, uint256 newBase, uint256 newQuote)
    {
        newQuote = vQuote + quoteIn;
        newBase = Math.mulDiv(vBase, vQuote, newQuote, Math.Rounding.Ceil);
        baseOut = vBase - newBase;
    }

    /// @notice Sell base for `quoteOut` (a short opening): how much base must go in.
    function sellBaseForQuote(uint256 vBase, uint256 vQuote, uint256 quoteOut)
        internal
        pure
        returns (uint256 baseIn, uint256 newBase, uint256 newQuote)
    {
        newQuote = vQuote - quoteOut; // the caller checks quoteOut < vQuote
        newBase = Math.mulDiv(vBase, vQuote, newQuote, Math.Rounding.Ceil);
        baseIn = newBase - vBase;
    }

    /// @notice Sell `baseIn` (a long closing): the quote that comes out.
    function sellBase(uint256 vBase, uint256 vQuote, uint256 baseIn)
        internal
        pure
        returns (uint256 quoteOut, uint256 newBase, uint256 newQuote)
    {
        newBase = vBase + baseIn;
        newQuote = Math.mulDiv(vBase, vQuote, newBase, Math.Rounding.Ceil);
        quoteOut = vQuote - newQuote;
    }

    /// @notice Buy back `baseOut` (a short closing): the quote that must go in.
    function buyBase(uint256 vBase, uint256 vQuote, uint256 baseOut)
        internal
        pure
        returns (uint256 quoteIn, uint256 newBase, uint256 newQuote)
    {
        newBase = vBase - baseOut; // the caller checks baseOut < vBase
        newQuote = Math.mulDiv(vBase, vQuote, newBase, Math.Rounding.Ceil);
        quoteIn = newQuote - vQuote;
    }
}
