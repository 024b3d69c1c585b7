// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IConstantProductPoolErrors
/// @notice Every custom error of the AMM module, each carrying the offending values.
interface IConstantProductPoolErrors {
    /// @notice A token address given to the constructor is zero.
    error ZeroAddress();
    /// @notice Both constructor tokens are the same address.
    error IdenticalTokens(address token);
    /// @notice The swap fee is at or above 100%.
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice `token` is neither token0 nor token1 of this pool.
    error UnknownToken(address token);
    /// @notice An input amount (swap input, liquidity to remove, tokens to add) is zero.
    error ZeroAmount();
    /// @notice `swap` was asked for no output at all.
    error InsufficientOutputAmount(uint256 amount0Out, uint256 amount1Out);
    /// @notice `swap` received no input.
    error InsufficientInputAmount(uint256 amount0In, uint256 amount1In);
    /// @notice The requested output is not strictly below the reserve.
    error InsufficientLiquidity(uint256 amount0Out, uint256 amount1Out, uint112 reserve0, uint112 reserve1);
    /// @notice A swap's recipient is one of the pool's tokens.
    error InvalidRecipient(address to);
    /// @notice The fee-adjusted product of balances fell below the product of reserves.
    error KInvariantViolated(uint256 balanceProductAdjusted, uint256 reserveProductScaled);
    /// @notice A balance does not fit the 112-bit reserves.
    error ReserveOverflow(uint256 balance0, uint256 balance1);
    /// @notice A deposit would mint no LP shares.
    error InsufficientLiquidityMinted(uint256 amount0, uint256 amount1);
    /// @notice Burning `liquidity` shares would return nothing of one token.
    error InsufficientLiquidityBurned(uint256 liquidity, uint256 amount0, uint256 amount1);
    /// @notice The output of a swap is below the caller's minimum.
    error SlippageExceeded(uint256 amountOut, uint256 minAmountOut);
    /// @notice An amount added or removed is below the caller's minimum for `token`.
    error AmountBelowMinimum(address token, uint256 amount, uint256 minAmount);
}

/// @title IConstantProductPoolEvents
/// @notice The Uniswap V2 pair events, with the same names and fields.
interface IConstantProductPoolEvents {
    event Mint(address indexed sender, uint256 amount0, uint256 amount1);
    event Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to);
    event Swap(
        address indexed sender,
        uint256 amount0In,
        uint256 amount1In,
        uint256 amount0Out,
        uint256 amount1Out,
        address indexed to
    );
    event Sync(uint112 reserve0, uint112 reserve1);
}

/// @title IConstantProductPool
/// @notice A Uniswap-V2-compatible pair (core interface) plus agent conveniences that pull tokens.
interface IConstantProductPool is IConstantProductPoolErrors, IConstantProductPoolEvents {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function feeBps() external view returns (uint16);
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function price0CumulativeLast() external view returns (uint256);
    function price1CumulativeLast() external view returns (uint256);

    function mint(address to) external returns (uint256 liquidity);
    function burn(address to) external returns (uint256 amount0, uint256 amount1);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
    function skim(address to) external;
    function sync() external;

    function getAmountOut(address tokenIn, uint256 amountIn) external view returns (uint256 amountOut);
    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minAmountOut, address to)
        external
        returns (uint256 amountOut);
    function addLiquidity(
        uint256 amount0Desired,
        uint256 amount1Desired,
        uint256 amount0Min,
        uint256 amount1Min,
        address to
    ) external returns (uint256 amount0, uint256 amount1, uint256 liquidity);
    function removeLiquidity(uint256 liquidity, uint256 amount0Min, uint256 amount1Min, address to)
        external
        returns (uint256 amount0, uint256 amount1);
}

/// @title IUniswapV2Callee
/// @notice The flash-swap callback of Uniswap V2, called on `to` when `swap` gets non-empty `data`.
interface IUniswapV2Callee {
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external;
}
