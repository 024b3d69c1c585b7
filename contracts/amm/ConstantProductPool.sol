// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IConstantProductPool, IUniswapV2Callee} from "./interfaces/IConstantProductPool.sol";

/// @title ConstantProductPool
/// @notice A Uniswap-V2-compatible x*y=k pair for solc 0.8 with a fee set in basis points,
///         LP shares as an ERC20 (18 decimals), V2 price accumulators, and agent conveniences
///         (`swapExactIn`, `addLiquidity`, `removeLiquidity`) that pull tokens with transferFrom.
/// @dev Differences from the V2 pair, none of which changes the core interface:
///      - no factory and no protocol fee (`kLast` is not kept);
///      - the permanently locked MINIMUM_LIQUIDITY shares go to 0x...dEaD, because OpenZeppelin's
///        ERC20 refuses to mint to the zero address;
///      - the fee is `feeBps` (30 = V2's 0.3%) instead of a hard-coded 3/1000.
///      Rounding: every division rounds down, i.e. in the pool's favour (fewer tokens out,
///      fewer shares minted), as in V2.
contract ConstantProductPool is IConstantProductPool, ERC20, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Shares burned forever on the first deposit so the share price can't be inflated to dust.
    uint256 public constant MINIMUM_LIQUIDITY = 1000;
    /// @notice Holder of the locked MINIMUM_LIQUIDITY shares.
    address public constant LOCKED_LIQUIDITY_HOLDER = address(0xdEaD);
    /// @notice Highest accepted fee (99.99%).
    uint16 public constant MAX_FEE_BPS = 9_999;
    uint256 private constant BPS = 10_000;

    /// @notice The token with the lower address.
    address public immutable override token0;
    /// @notice The token with the higher address.
    address public immutable override token1;
    /// @notice Swap fee in basis points, charged on the input amount.
    uint16 public immutable override feeBps;

    uint112 private _reserve0;
    uint112 private _reserve1;
    uint32 private _blockTimestampLast;

    /// @notice Σ (reserve1/reserve0 as UQ112x112) × seconds, as in V2 (wraps by design).
    uint256 public override price0CumulativeLast;
    /// @notice Σ (reserve0/reserve1 as UQ112x112) × seconds, as in V2 (wraps by design).
    uint256 public override price1CumulativeLast;

    /// @param tokenA One token of the pair (order does not matter; token0 < token1 by address).
    /// @param tokenB The other token.
    /// @param feeBps_ Swap fee in basis points taken from the input amount (30 = 0.3%).
    constructor(address tokenA, address tokenB, uint16 feeBps_) ERC20("ConstantProductPool LP", "CPP-LP") {
        if (tokenA == address(0) || tokenB == address(0)) revert ZeroAddress();
        if (tokenA == tokenB) revert IdenticalTokens(tokenA);
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        (token0, token1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        feeBps = feeBps_;
    }

    // ------------------------------------------------------------------ views

    /// @notice Reserves as of the last update, and the (mod 2**32) timestamp of that update.
    function getReserves() public view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast) {
        return (_reserve0, _reserve1, _blockTimestampLast);
    }

    /// @notice Output of `swapExactIn(tokenIn, amountIn, ...)` at the current reserves.
    /// @dev amountOut = amountIn·(1−fee)·reserveOut / (reserveIn + amountIn·(1−fee)), rounded down;
    ///      the largest output the fee-adjusted K check accepts.
    /// @param tokenIn token0 or token1.
    /// @param amountIn Input in tokenIn's native units.
    function getAmountOut(address tokenIn, uint256 amountIn) public view returns (uint256 amountOut) {
        if (amountIn == 0) revert ZeroAmount();
        (uint256 reserveIn, uint256 reserveOut) = _isToken0(tokenIn)
            ? (uint256(_reserve0), uint256(_reserve1))
            : (uint256(_reserve1), uint256(_reserve0));
        if (reserveIn == 0 || reserveOut == 0) revert InsufficientLiquidity(0, 0, _reserve0, _reserve1);
        uint256 amountInAfterFee = amountIn * (BPS - feeBps);
        amountOut = (amountInAfterFee * reserveOut) / (reserveIn * BPS + amountInAfterFee);
    }

    // ------------------------------------------------------------------ V2 core

    /// @notice Mints LP shares to `to` for the tokens sent to the pool since the last update.
    /// @dev First deposit: sqrt(amount0·amount1) − MINIMUM_LIQUIDITY shares; later deposits:
    ///      min(amount0·supply/reserve0, amount1·supply/reserve1), so an unbalanced deposit donates
    ///      its excess to existing holders.
    function mint(address to) external nonReentrant returns (uint256 liquidity) {
        return _mintShares(to);
    }

    /// @notice Burns the LP shares held by the pool itself and sends the pro-rata tokens to `to`.
    function burn(address to) external nonReentrant returns (uint256 amount0, uint256 amount1) {
        return _burnShares(to);
    }

    /// @notice Sends the requested outputs to `to`, optionally calls `to.uniswapV2Call` (flash swap),
    ///         then requires that the inputs received satisfy the fee-adjusted constant product.
    /// @param amount0Out token0 to send out.
    /// @param amount1Out token1 to send out.
    /// @param to Recipient (and flash-swap callee when `data` is non-empty).
    /// @param data Passed to the callback; empty for a plain swap.
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external nonReentrant {
        _swap(amount0Out, amount1Out, to, data);
    }

    /// @notice Sends any token balance above the reserves to `to`.
    function skim(address to) external nonReentrant {
        (uint256 balance0, uint256 balance1) = _balances();
        IERC20(token0).safeTransfer(to, balance0 - _reserve0);
        IERC20(token1).safeTransfer(to, balance1 - _reserve1);
    }

    /// @notice Sets the reserves to the balances (after a donation or a rebasing token).
    function sync() external nonReentrant {
        (uint256 balance0, uint256 balance1) = _balances();
        _update(balance0, balance1, _reserve0, _reserve1);
    }

    // ------------------------------------------------------------------ agent conveniences

    /// @notice Pulls `amountIn` of `tokenIn` from the caller and sends at least `minAmountOut` of the
    ///         other token to `to`.
    /// @param tokenIn token0 or token1 (the caller must have approved the pool).
    /// @param amountIn Input in tokenIn's native units.
    /// @param minAmountOut Slippage limit, in the output token's native units.
    /// @param to Recipient of the output.
    /// @return amountOut Output sent, equal to `getAmountOut(tokenIn, amountIn)` before the call.
    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minAmountOut, address to)
        external
        nonReentrant
        returns (uint256 amountOut)
    {
        amountOut = getAmountOut(tokenIn, amountIn);
        if (amountOut < minAmountOut) revert SlippageExceeded(amountOut, minAmountOut);
        IERC20(tokenIn).safeTransferFrom(msg.sender, address(this), amountIn);
        bool zeroForOne = tokenIn == token0;
        _swap(zeroForOne ? 0 : amountOut, zeroForOne ? amountOut : 0, to, "");
    }

    /// @notice Pulls the largest amounts at the current ratio not above the desired ones (all of
    ///         both on the first deposit) and mints the LP shares to `to`, as Uniswap's router does.
    /// @param amount0Desired Most token0 to deposit.
    /// @param amount1Desired Most token1 to deposit.
    /// @param amount0Min Least token0 to deposit (slippage limit).
    /// @param amount1Min Least token1 to deposit (slippage limit).
    /// @param to Receiver of the LP shares.
    function addLiquidity(
        uint256 amount0Desired,
        uint256 amount1Desired,
        uint256 amount0Min,
        uint256 amount1Min,
        address to
    ) external nonReentrant returns (uint256 amount0, uint256 amount1, uint256 liquidity) {
        if (amount0Desired == 0 || amount1Desired == 0) revert ZeroAmount();
        (amount0, amount1) = _depositAmounts(amount0Desired, amount1Desired);
        if (amount0 < amount0Min) revert AmountBelowMinimum(token0, amount0, amount0Min);
        if (amount1 < amount1Min) revert AmountBelowMinimum(token1, amount1, amount1Min);
        IERC20(token0).safeTransferFrom(msg.sender, address(this), amount0);
        IERC20(token1).safeTransferFrom(msg.sender, address(this), amount1);
        liquidity = _mintShares(to);
    }

    /// @notice Burns `liquidity` of the caller's LP shares and sends the pro-rata tokens to `to`.
    /// @param liquidity LP shares to burn (no approval needed: the caller's own shares move).
    /// @param amount0Min Least token0 to receive.
    /// @param amount1Min Least token1 to receive.
    /// @param to Receiver of the tokens.
    function removeLiquidity(uint256 liquidity, uint256 amount0Min, uint256 amount1Min, address to)
        external
        nonReentrant
        returns (uint256 amount0, uint256 amount1)
    {
        if (liquidity == 0) revert ZeroAmount();
        _transfer(msg.sender, address(this), liquidity);
        (amount0, amount1) = _burnShares(to);
        if (amount0 < amount0Min) revert AmountBelowMinimum(token0, amount0, amount0Min);
        if (amount1 < amount1Min) revert AmountBelowMinimum(token1, amount1, amount1Min);
    }

    // ------------------------------------------------------------------ internals

    function _isToken0(address token) private view returns (bool) {
        if (token == token0) return true;
        if (token == token1) return false;
        revert UnknownToken(token);
    }

    function _depositAmounts(uint256 amount0Desired, uint256 amount1Desired)
        private
        view
        returns (uint256 amount0, uint256 amount1)
    {
        (uint256 reserve0, uint256 reserve1) = (_reserve0, _reserve1);
        if (reserve0 == 0 && reserve1 == 0) return (amount0Desired, amount1Desired);
        uint256 amount1AtRatio = (amount0Desired * reserve1) / reserve0;
        if (amount1AtRatio <= amount1Desired) return (amount0Desired, amount1AtRatio);
        return ((amount1Desired * reserve0) / reserve1, amount1Desired);
    }

    function _mintShares(address to) private returns (uint256 liquidity) {
        (uint112 reserve0, uint112 reserve1) = (_reserve0, _reserve1);
        (uint256 balance0, uint256 balance1) = _balances();
        uint256 amount0 = balance0 - reserve0;
        uint256 amount1 = balance1 - reserve1;
        uint256 supply = totalSupply();
        if (supply == 0) {
            uint256 root = Math.sqrt(amount0 * amount1);
            if (root <= MINIMUM_LIQUIDITY) revert InsufficientLiquidityMinted(amount0, amount1);
            liquidity = root - MINIMUM_LIQUIDITY;
            _mint(LOCKED_LIQUIDITY_HOLDER, MINIMUM_LIQUIDITY);
        } else {
            liquidity = Math.min((amount0 * supply) / reserve0, (amount1 * supply) / reserve1);
        }
        if (liquidity == 0) revert InsufficientLiquidityMinted(amount0, amount1);
        _mint(to, liquidity);
        _update(balance0, balance1, reserve0, reserve1);
        emit Mint(msg.sender, amount0, amount1);
    }

    function _burnShares(address to) private returns (uint256 amount0, uint256 amount1) {
        (uint112 reserve0, uint112 reserve1) = (_reserve0, _reserve1);
        (uint256 balance0, uint256 balance1) = _balances();
        uint256 liquidity = balanceOf(address(this));
        uint256 supply = totalSupply();
        amount0 = (liquidity * balance0) / supply;
        amount1 = (liquidity * balance1) / supply;
        if (amount0 == 0 || amount1 == 0) revert InsufficientLiquidityBurned(liquidity, amount0, amount1);
        _burn(address(this), liquidity);
        IERC20(token0).safeTransfer(to, amount0);
        IERC20(token1).safeTransfer(to, amount1);
        (balance0, balance1) = _balances();
        _update(balance0, balance1, reserve0, reserve1);
        emit Burn(msg.sender, amount0, amount1, to);
    }

    function _swap(uint256 amount0Out, uint256 amount1Out, address to, bytes memory data) private {
        if (amount0Out == 0 && amount1Out == 0) revert InsufficientOutputAmount(amount0Out, amount1Out);
        (uint112 reserve0, uint112 reserve1) = (_reserve0, _reserve1);
        if (amount0Out >= reserve0 || amount1Out >= reserve1) {
            revert InsufficientLiquidity(amount0Out, amount1Out, reserve0, reserve1);
        }
        if (to == token0 || to == token1) revert InvalidRecipient(to);

        if (amount0Out > 0) IERC20(token0).safeTransfer(to, amount0Out);
        if (amount1Out > 0) IERC20(token1).safeTransfer(to, amount1Out);
        if (data.length > 0) IUniswapV2Callee(to).uniswapV2Call(msg.sender, amount0Out, amount1Out, data);

        (uint256 balance0, uint256 balance1) = _balances();
        uint256 amount0In = balance0 > reserve0 - amount0Out ? balance0 - (reserve0 - amount0Out) : 0;
        uint256 amount1In = balance1 > reserve1 - amount1Out ? balance1 - (reserve1 - amount1Out) : 0;
        if (amount0In == 0 && amount1In == 0) revert InsufficientInputAmount(amount0In, amount1In);
        _requireConstantProduct(balance0, balance1, amount0In, amount1In, reserve0, reserve1);

        _update(balance0, balance1, reserve0, reserve1);
        emit Swap(msg.sender, amount0In, amount1In, amount0Out, amount1Out, to);
    }

    /// @dev The fee is charged on the input only: (b0·BPS − in0·fee)·(b1·BPS − in1·fee) ≥ r0·r1·BPS².
    function _requireConstantProduct(
        uint256 balance0,
        uint256 balance1,
        uint256 amount0In,
        uint256 amount1In,
        uint112 reserve0,
        uint112 reserve1
    ) private view {
        uint256 productAfter = (balance0 * BPS - amount0In * feeBps) * (balance1 * BPS - amount1In * feeBps);
        uint256 productBefore = uint256(reserve0) * reserve1 * BPS * BPS;
        if (productAfter < productBefore) revert KInvariantViolated(productAfter, productBefore);
    }

    function _balances() private view returns (uint256 balance0, uint256 balance1) {
        balance0 = IERC20(token0).balanceOf(address(this));
        balance1 = IERC20(token1).balanceOf(address(this));
    }

    /// @dev Accumulates the prices that held since the last update (V2's UQ112x112 accumulators,
    ///      which wrap by design), then stores the new reserves.
    function _update(uint256 balance0, uint256 balance1, uint112 reserve0, uint112 reserve1) private {
        if (balance0 > type(uint112).max || balance1 > type(uint112).max) revert ReserveOverflow(balance0, balance1);
        uint32 blockTimestamp = uint32(block.timestamp);
        unchecked {
            uint32 timeElapsed = blockTimestamp - _blockTimestampLast;
            if (timeElapsed > 0 && reserve0 != 0 && reserve1 != 0) {
                price0CumulativeLast += ((uint256(reserve1) << 112) / reserve0) * timeElapsed;
                price1CumulativeLast += ((uint256(reserve0) << 112) / reserve1) * timeElapsed;
            }
        }
        _reserve0 = uint112(balance0);
        _reserve1 = uint112(balance1);
        _blockTimestampLast = blockTimestamp;
        emit Sync(_reserve0, _reserve1);
    }
}
