// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IConstantProductPool} from "../amm/interfaces/IConstantProductPool.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IOracleErrors} from "./interfaces/IOracleErrors.sol";

/// @title PoolPriceSource
/// @notice What the pool-derived aggregators share: which pool token is priced, its decimals, and
///         the USD price of the other (quote) token from another aggregator — exactly $1 when none
///         is given. Answers are USD with 8 decimals, rounded down.
/// @dev Reads only the Uniswap V2 pair interface (token0, token1, getReserves, price*CumulativeLast),
///      so a real V2 pair on a fork works as well as a ConstantProductPool.
///      Rounds: a derived price has no stored history; its round id is the block number, and
///      `getRoundData` answers only for the current one.
abstract contract PoolPriceSource is AggregatorV3Interface, IOracleErrors {
    /// @inheritdoc AggregatorV3Interface
    uint8 public constant override decimals = 8;
    /// @inheritdoc AggregatorV3Interface
    uint256 public constant override version = 1;
    uint256 private constant USD_PRICE_UNIT = 1e8;

    /// @notice The pair the price is read from.
    IConstantProductPool public immutable pool;
    /// @notice The pool token whose USD price is answered.
    address public immutable baseToken;
    /// @notice The other pool token.
    address public immutable quoteToken;
    /// @notice True when baseToken is the pool's token0.
    bool public immutable baseIsToken0;
    /// @notice Feed of the quote token's USD price; the zero address means exactly $1.
    AggregatorV3Interface public immutable quoteAggregator;
    uint256 private immutable _baseUnit;
    uint256 private immutable _quoteUnit;
    uint256 private immutable _quoteAggregatorUnit;

    /// @inheritdoc AggregatorV3Interface
    string public override description;

    /// @param pool_ A ConstantProductPool or Uniswap V2 pair.
    /// @param baseToken_ The pool token to price.
    /// @param quoteAggregator_ USD feed of the other token, or address(0) for a $1 stablecoin.
    /// @param description_ E.g. "ALT / USD (pool spot)".
    constructor(address pool_, address baseToken_, address quoteAggregator_, string memory description_) {
        address token0 = IConstantProductPool(pool_).token0();
        address token1 = IConstantProductPool(pool_).token1();
        if (baseToken_ != token0 && baseToken_ != token1) revert TokenNotInPool(baseToken_, pool_);
        pool = IConstantProductPool(pool_);
        baseToken = baseToken_;
        baseIsToken0 = baseToken_ == token0;
        quoteToken = baseIsToken0 ? token1 : token0;
        quoteAggregator = AggregatorV3Interface(quoteAggregator_);
        _baseUnit = 10 ** IERC20Metadata(baseToken_).decimals();
        _quoteUnit = 10 ** IERC20Metadata(quoteToken).decimals();
        _quoteAggregatorUnit = quoteAggregator_ == address(0) ? USD_PRICE_UNIT : 10 ** AggregatorV3Interface(quoteAggregator_).decimals();
        description = description_;
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() public view virtual override returns (uint80, int256, uint256, uint256, uint80);

    /// @notice The newest answer (Chainlink's legacy getter, which Aave V3's AaveOracle reads).
    function latestAnswer() external view returns (int256 answer) {
        (, answer,,,) = latestRoundData();
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) external view override returns (uint80, int256, uint256, uint256, uint80) {
        if (roundId != _currentRoundId()) revert RoundNotFound(roundId);
        return latestRoundData();
    }

    /// @dev The round id of a derived price: the block number.
    function _currentRoundId() internal view returns (uint80) {
        return uint80(block.number);
    }

    /// @dev Current reserves as (base, quote); reverts on an empty pool.
    function _baseQuoteReserves() internal view returns (uint256 reserveBase, uint256 reserveQuote, uint32 updatedAt) {
        (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast) = pool.getReserves();
        if (reserve0 == 0 || reserve1 == 0) revert EmptyPool(address(pool), reserve0, reserve1);
        (reserveBase, reserveQuote) = baseIsToken0 ? (reserve0, reserve1) : (reserve1, reserve0);
        updatedAt = blockTimestampLast;
    }

    /// @dev The quote token's USD price as the fraction answer / answerUnit, and when it was updated.
    function _quotePrice() internal view returns (uint256 answer, uint256 answerUnit, uint256 updatedAt) {
        if (address(quoteAggregator) == address(0)) return (USD_PRICE_UNIT, USD_PRICE_UNIT, block.timestamp);
        (, int256 quoteAnswer,, uint256 quoteUpdatedAt,) = quoteAggregator.latestRoundData();
        if (quoteAnswer <= 0) revert InvalidQuotePrice(address(quoteAggregator), quoteAnswer);
        return (uint256(quoteAnswer), _quoteAggregatorUnit, quoteUpdatedAt);
    }

    /// @dev USD price (8 decimals, rounded down once) of one whole base token, given quote-per-base in
    ///      raw units as quoteRaw / baseRaw and the quote's USD price as answer / answerUnit:
    ///      quoteRaw·10^baseDecimals·answer·1e8 / (baseRaw·10^quoteDecimals·answerUnit).
    function _usdPrice(uint256 quoteRaw, uint256 baseRaw, uint256 answer, uint256 answerUnit)
        internal
        view
        returns (int256)
    {
        uint256 price = Math.mulDiv(quoteRaw, _baseUnit * answer * USD_PRICE_UNIT, baseRaw * _quoteUnit * answerUnit);
        return SafeCast.toInt256(price);
    }
}
