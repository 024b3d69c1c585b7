// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {AggregatorV3Interface} from "../oracles/interfaces/AggregatorV3Interface.sol";
import {IPerpExchangeErrors, IPerpExchangeEvents, PositionsView, emptyPositionsView} from "./interfaces/IPerpExchange.sol";
import {VammMath} from "./libraries/VammMath.sol";

/// @title PerpExchange
/// @notice Perpetual futures on virtual constant-product AMMs, with isolated margin in one
///         stablecoin, funding, liquidations, an insurance fund and auto-deleveraging (ADL).
/// @dev Units: `sizeBase`, prices, virtual reserves and funding in WAD (1e18 = one base unit or one
///      USD); margin, notionals, fees, PnL, the insurance fund and bad debt in collateral-token
///      units; parameters in basis points. Every conversion rounds against the trader.
///
///      LOSS WATERFALL. A position's loss is absorbed, in this order, by
///        1. the position's own margin;
///        2. the insurance fund (seeded by `fundInsurance`, fed by trading fees, the rest of
///           liquidated margins and the funding imbalance);
///        3. auto-deleveraging: if closing against the vAMM would leave a loss larger than the
///           insurance fund, the position is instead closed against opposite positions at its
///           bankruptcy price, most profitable-and-levered first (see `adlScore`). Those traders
///           absorb the loss as profit they do not get: they exit at the bankruptcy price, not
///           the market's, and their hedge is gone. The vAMM and the insurance fund are untouched;
///        4. with ADL disabled (or too few opposite positions), the part the fund cannot pay is
///           recorded in `badDebt`: the exchange owes more than it holds.
///
///      ADL SCAN. `liquidate` ranks the opposite side on-chain: one pass reads every position of
///      the market (about 16.5k gas each, measured by `ape run adl_gas`), then each fill picks the
///      best remaining score. Gas is O(positions × fills): the ranking is always correct, and a
///      30M-gas block holds an ADL over about 1,800 positions of one market.
contract PerpExchange is IPerpExchangeErrors, IPerpExchangeEvents, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Margin checks read the vAMM's mark price.
    uint8 public constant PRICE_SOURCE_MARK = 0;
    /// @notice Margin checks read the index oracle.
    uint8 public constant PRICE_SOURCE_INDEX = 1;
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;

    struct Market {
        string symbol;
        AggregatorV3Interface indexOracle;
        uint256 oracleUnit;
        uint256 vBase; // WAD
        uint256 vQuote; // WAD
        uint16 initialMarginBps;
        uint16 maintenanceMarginBps;
        uint16 liquidationFeeBps;
        uint16 tradingFeeBps;
        uint8 marginPriceSource;
        uint32 fundingIntervalS;
        uint64 lastFundingS;
        uint256 fundingFactorWad;
        uint256 maxFundingRateWad;
        int256 cumulativeFundingWad; // Σ funding paid per unit of long base, in USD (WAD)
        uint256 longBase;
        uint256 shortBase;
    }

    struct Position {
        int256 sizeBase; // WAD; > 0 long, < 0 short
        uint256 margin; // collateral units
        uint256 openNotional; // collateral units
        int256 lastFundingIndex; // the market's cumulativeFundingWad when funding was last applied
    }

    /// @dev A position's exit against the vAMM, computed before it is applied.
    struct Exit {
        uint256 quoteWad;
        uint256 newBase;
        uint256 newQuote;
        uint256 notional; // collateral units
        int256 pnl; // collateral units
    }

    /// @notice The stablecoin all margin is posted in.
    IERC20 public immutable collateralToken;
    uint256 private immutable _collateralUnit;

    /// @notice Collateral held to pay losses beyond a position's margin.
    uint256 public insuranceFund;
    /// @notice Losses neither margin, insurance fund nor ADL absorbed (collateral units).
    uint256 public badDebt;
    /// @notice Whether liquidations the insurance fund cannot pay go to auto-deleveraging.
    bool public adlEnabled = true;
    /// @notice While true, trading, margin changes, funding and liquidations revert with `Paused()`.
    bool public paused;

    Market[] private _markets;
    mapping(uint256 marketId => mapping(address trader => Position)) private _positions;
    mapping(uint256 marketId => address[]) private _traders;
    mapping(uint256 marketId => mapping(address trader => uint256)) private _traderSlot; // index + 1

    modifier whenNotPaused() {
        if (paused) revert Paused();
        _;
    }

    /// @param collateralToken_ The stablecoin margins are posted in (at most 18 decimals); the
    ///        deployer becomes owner.
    constructor(address collateralToken_) Ownable(msg.sender) {
        if (collateralToken_ == address(0)) revert ZeroAddress();
        uint8 decimals = IERC20Metadata(collateralToken_).decimals();
        if (decimals > 18) revert UnsupportedCollateralDecimals(decimals);
        collateralToken = IERC20(collateralToken_);
        _collateralUnit = 10 ** decimals;
    }

    // ================================================================== owner

    /// @notice Lists a market on a virtual AMM of `vBaseReserve` base and `vQuoteReserve` USD (both
    ///         WAD; mark = quote / base, depth = their product) with an index oracle.
    /// @param initialMarginBps Least margin / notional at opening (max leverage = 1 / this).
    /// @param maintenanceMarginBps Below this margin ratio a position can be liquidated.
    /// @param liquidationFeeBps Liquidator's share of the exit notional, out of what margin remains.
    /// @param tradingFeeBps Fee on each open and close notional, paid into the insurance fund;
    ///        below the maintenance margin.
    /// @return marketId Index of the new market (also in `MarketListed`).
    function listMarket(
        string calldata symbol,
        address indexOracle,
        uint256 vBaseReserve,
        uint256 vQuoteReserve,
        uint16 initialMarginBps,
        uint16 maintenanceMarginBps,
        uint16 liquidationFeeBps,
        uint16 tradingFeeBps
    ) external onlyOwner returns (uint256 marketId) {
        if (indexOracle == address(0)) revert ZeroAddress();
        if (vBaseReserve == 0 || vQuoteReserve == 0) revert InvalidVirtualReserves(vBaseReserve, vQuoteReserve);
        bool valid = maintenanceMarginBps > 0 && maintenanceMarginBps < initialMarginBps && initialMarginBps <= BPS
            && liquidationFeeBps <= BPS && tradingFeeBps < maintenanceMarginBps;
        if (!valid) {
            revert InvalidMarketParameters(initialMarginBps, maintenanceMarginBps, liquidationFeeBps, tradingFeeBps);
        }
        marketId = _markets.length;
        Market storage m = _markets.push();
        m.symbol = symbol;
        m.indexOracle = AggregatorV3Interface(indexOracle);
        m.oracleUnit = 10 ** AggregatorV3Interface(indexOracle).decimals();
        m.vBase = vBaseReserve;
        m.vQuote = vQuoteReserve;
        m.initialMarginBps = initialMarginBps;
        m.maintenanceMarginBps = maintenanceMarginBps;
        m.liquidationFeeBps = liquidationFeeBps;
        m.tradingFeeBps = tradingFeeBps;
        emit MarketListed(
            marketId,
            symbol,
            indexOracle,
            vBaseReserve,
            vQuoteReserve,
            initialMarginBps,
            maintenanceMarginBps,
            liquidationFeeBps,
            tradingFeeBps
        );
    }

    /// @notice Funding every `intervalS` seconds at rate = clamp((mark − index) / index ×
    ///         fundingFactorWad, ±maxRatePerIntervalWad) per interval (rates in WAD).
    function setFundingParams(uint256 marketId, uint32 intervalS, uint256 fundingFactorWad, uint256 maxRatePerIntervalWad)
        external
        onlyOwner
    {
        Market storage m = _market(marketId);
        if (intervalS == 0 || maxRatePerIntervalWad > WAD) revert InvalidFundingParameters(intervalS, maxRatePerIntervalWad);
        m.fundingIntervalS = intervalS;
        m.fundingFactorWad = fundingFactorWad;
        m.maxFundingRateWad = maxRatePerIntervalWad;
        if (m.lastFundingS == 0) m.lastFundingS = uint64(block.timestamp);
        emit FundingParamsSet(marketId, intervalS, fundingFactorWad, maxRatePerIntervalWad);
    }

    /// @notice Which price margin checks read: PRICE_SOURCE_MARK (0, default) or PRICE_SOURCE_INDEX (1).
    function setMarginPriceSource(uint256 marketId, uint8 source) external onlyOwner {
        if (source > PRICE_SOURCE_INDEX) revert InvalidPriceSource(source);
        _market(marketId).marginPriceSource = source;
        emit MarginPriceSourceSet(marketId, source);
    }

    /// @notice Turns auto-deleveraging on (default) or off (uncovered losses become bad debt).
    function setAdlEnabled(bool enabled) external onlyOwner {
        adlEnabled = enabled;
        emit AdlEnabledSet(enabled);
    }

    /// @notice Stops (or resumes) trading, margin changes, funding and liquidations.
    function setPaused(bool paused_) external onlyOwner {
        paused = paused_;
        emit PausedSet(paused_);
    }

    // ================================================================== anyone

    /// @notice Adds `amount` of the caller's collateral to the insurance fund.
    function fundInsurance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _changeInsurance(amount.toInt256());
        collateralToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Settles one funding interval of `marketId` (callable once per interval).
    /// @dev Longs pay shorts `rate × index` per unit of base when mark > index (and the reverse),
    ///      through a cumulative index each position pays or receives when next touched. The
    ///      imbalance between long and short open interest is paid or received by the insurance
    ///      fund, so funding creates and destroys nothing.
    function settleFunding(uint256 marketId) external nonReentrant whenNotPaused {
        Market storage m = _market(marketId);
        if (m.fundingIntervalS == 0) revert FundingNotConfigured(marketId);
        uint256 next = uint256(m.lastFundingS) + m.fundingIntervalS;
        if (block.timestamp < next) revert FundingTooEarly(marketId, next);
        uint256 index = _indexPrice(marketId, m);
        int256 premiumWad = ((_markPrice(m).toInt256() - index.toInt256()) * int256(WAD)) / index.toInt256();
        int256 rateWad = (premiumWad * m.fundingFactorWad.toInt256()) / int256(WAD);
        int256 maxRate = m.maxFundingRateWad.toInt256();
        if (rateWad > maxRate) rateWad = maxRate;
        if (rateWad < -maxRate) rateWad = -maxRate;
        int256 paymentPerBaseWad = (rateWad * index.toInt256()) / int256(WAD);
        m.cumulativeFundingWad += paymentPerBaseWad;
        m.lastFundingS = uint64(block.timestamp);
        // Net paid by traders = (long − short) × payment; the fund takes it, or pays it when negative.
        int256 netBase = m.longBase.toInt256() - m.shortBase.toInt256();
        bool fundReceives = (netBase > 0) == (paymentPerBaseWad > 0);
        uint256 net = _signedProductToCollateral(netBase, paymentPerBaseWad, !fundReceives);
        if (fundReceives) _changeInsurance(net.toInt256());
        else _payFromInsurance(marketId, address(0), net);
        emit FundingSettled(marketId, rateWad, paymentPerBaseWad, m.cumulativeFundingWad);
    }

    /// @notice Liquidates `trader`'s position in `marketId` when its margin ratio is below the
    ///         maintenance margin. See the contract's loss waterfall.
    /// @dev Covered case: the whole position exits against the vAMM; the liquidator gets
    ///      `liquidationFeeBps` of the exit notional, capped by the margin left, and the rest of the
    ///      margin goes to the insurance fund. A loss the fund can pay, it pays (no liquidator fee).
    ///      Otherwise ADL (no fee, no vAMM trade for the matched size), else bad debt.
    function liquidate(address trader, uint256 marketId) external nonReentrant whenNotPaused {
        Market storage m = _market(marketId);
        Position storage p = _existingPosition(trader, marketId);
        if (!_isLiquidatable(marketId, m, p)) {
            revert NotLiquidatable(_marginRatio(m, p, _marginPrice(marketId, m), false), _maintenanceWad(m));
        }
        int256 size = p.sizeBase;
        int256 marginLeft = _takeFunding(marketId, m, trader, p);
        Exit memory exit = _quoteExit(m, p);
        int256 remaining = marginLeft + exit.pnl;
        uint256 exitPrice = exit.quoteWad * WAD / SignedMath.abs(size);

        if (remaining >= 0) {
            _applyExit(m, size, exit);
            uint256 fee = Math.min(exit.notional * m.liquidationFeeBps / BPS, uint256(remaining));
            uint256 toFund = uint256(remaining) - fee;
            _changeInsurance(toFund.toInt256());
            _removePosition(marketId, trader);
            if (fee > 0) collateralToken.safeTransfer(msg.sender, fee);
            emit PositionLiquidated(trader, marketId, size, exitPrice, remaining, fee, toFund.toInt256(), msg.sender);
            return;
        }
        uint256 loss = uint256(-remaining);
        if (loss <= insuranceFund || !adlEnabled) {
            _applyExit(m, size, exit);
            uint256 paid = _payFromInsurance(marketId, trader, loss);
            _removePosition(marketId, trader);
            emit PositionLiquidated(trader, marketId, size, exitPrice, remaining, 0, -paid.toInt256(), msg.sender);
            return;
        }
        _liquidateByAdl(marketId, m, trader, p, marginLeft);
    }

    // ================================================================== traders

    /// @notice Opens a position of notional = margin × leverage, or adds to one in the same direction.
    /// @param margin Collateral pulled from the caller; the trading fee is taken out of it.
    /// @param leverageWad Notional / margin, at most 1 / initial margin.
    /// @param priceLimitWad Worst average price accepted (a long's highest, a short's lowest); 0 = none.
    function openPosition(uint256 marketId, bool isLong, uint256 margin, uint256 leverageWad, uint256 priceLimitWad)
        external
        nonReentrant
        whenNotPaused
    {
        Market storage m = _market(marketId);
        if (margin == 0) revert ZeroAmount();
        uint256 maxLeverage = WAD * BPS / m.initialMarginBps;
        if (leverageWad == 0 || leverageWad > maxLeverage) revert InvalidLeverage(leverageWad, maxLeverage);
        Position storage p = _positions[marketId][msg.sender];
        if (p.sizeBase != 0 && (p.sizeBase > 0) != isLong) revert DirectionMismatch(p.sizeBase, isLong);
        if (p.sizeBase != 0) {
            _settleFundingIntoMargin(marketId, m, msg.sender, p);
        } else {
            p.lastFundingIndex = m.cumulativeFundingWad;
            _addTrader(marketId, msg.sender);
        }

        uint256 notional = margin * leverageWad / WAD;
        uint256 fee = Math.mulDiv(notional, m.tradingFeeBps, BPS, Math.Rounding.Ceil);
        if (notional == 0) revert ZeroAmount();
        uint256 quoteWad = notional * WAD / _collateralUnit;
        uint256 sizeBase = _tradeOpen(m, isLong, quoteWad, priceLimitWad);

        p.sizeBase += isLong ? sizeBase.toInt256() : -sizeBase.toInt256();
        p.margin += margin - fee;
        p.openNotional += notional;
        if (isLong) m.longBase += sizeBase;
        else m.shortBase += sizeBase;
        if (_isLiquidatable(marketId, m, p)) {
            revert OpensLiquidatable(_marginRatio(m, p, _marginPrice(marketId, m), false), _maintenanceWad(m));
        }
        if (fee > 0) _changeInsurance(fee.toInt256());
        collateralToken.safeTransferFrom(msg.sender, address(this), margin);
        emit PositionChanged(
            msg.sender, marketId, isLong ? sizeBase.toInt256() : -sizeBase.toInt256(), notional, fee, 0, p.sizeBase, p.margin
        );
    }

    /// @notice Closes the caller's whole position against the vAMM and pays out margin + PnL −
    ///         funding − fee (the fee capped at what is left). Reverts when margin + PnL − funding is
    ///         negative: such a position is liquidatable and must be liquidated.
    /// @param priceLimitWad Worst average exit price (a long's lowest, a short's highest); 0 = none.
    function closePosition(uint256 marketId, uint256 priceLimitWad) external nonReentrant whenNotPaused {
        Market storage m = _market(marketId);
        Position storage p = _existingPosition(msg.sender, marketId);
        int256 size = p.sizeBase;
        int256 marginLeft = _takeFunding(marketId, m, msg.sender, p);
        Exit memory exit = _quoteExit(m, p);
        uint256 exitPrice = exit.quoteWad * WAD / SignedMath.abs(size);
        if (priceLimitWad != 0 && (size > 0 ? exitPrice < priceLimitWad : exitPrice > priceLimitWad)) {
            revert PriceLimitExceeded(exitPrice, priceLimitWad);
        }
        int256 equity = marginLeft + exit.pnl;
        if (equity < 0) revert CloseWouldBeBankrupt(equity);
        // The fee never takes more than the equity, so any solvent position can be closed.
        uint256 fee = Math.min(Math.mulDiv(exit.notional, m.tradingFeeBps, BPS, Math.Rounding.Ceil), uint256(equity));
        int256 payout = equity - fee.toInt256();
        _applyExit(m, size, exit);
        _removePosition(marketId, msg.sender);
        if (fee > 0) _changeInsurance(fee.toInt256());
        if (payout > 0) collateralToken.safeTransfer(msg.sender, uint256(payout));
        emit PositionChanged(msg.sender, marketId, -size, exit.notional, fee, exit.pnl, 0, 0);
    }

    /// @notice Adds `amount` of collateral to the caller's position margin.
    function addMargin(uint256 marketId, uint256 amount) external nonReentrant whenNotPaused {
        Market storage m = _market(marketId);
        Position storage p = _existingPosition(msg.sender, marketId);
        if (amount == 0) revert ZeroAmount();
        p.margin += amount;
        _settleFundingIntoMargin(marketId, m, msg.sender, p);
        collateralToken.safeTransferFrom(msg.sender, address(this), amount);
        emit MarginChanged(msg.sender, marketId, amount.toInt256(), p.margin);
    }

    /// @notice Withdraws `amount` of margin; the margin ratio, counting losses but no unrealized
    ///         profit, must stay at or above the initial margin.
    function removeMargin(uint256 marketId, uint256 amount) external nonReentrant whenNotPaused {
        Market storage m = _market(marketId);
        Position storage p = _existingPosition(msg.sender, marketId);
        if (amount == 0) revert ZeroAmount();
        _settleFundingIntoMargin(marketId, m, msg.sender, p);
        if (amount > p.margin) revert InsufficientMargin(amount, p.margin);
        p.margin -= amount;
        // Unrealized profit does not back a withdrawal: a trader's own price impact shows as profit
        // at the mark but would not survive the exit.
        uint256 ratio = _marginRatio(m, p, _marginPrice(marketId, m), true);
        uint256 initial = uint256(m.initialMarginBps) * WAD / BPS;
        if (ratio < initial) revert MarginRatioBelowInitial(ratio, initial);
        collateralToken.safeTransfer(msg.sender, amount);
        emit MarginChanged(msg.sender, marketId, -amount.toInt256(), p.margin);
    }

    // ================================================================== views

    /// @notice A position as stored (funding since `lastFundingIndex` not yet applied).
    function getPosition(address trader, uint256 marketId)
        external
        view
        returns (int256 sizeBase, uint256 margin, uint256 openNotional, int256 lastFundingIndex)
    {
        Position storage p = _positions[marketId][trader];
        return (p.sizeBase, p.margin, p.openNotional, p.lastFundingIndex);
    }

    /// @notice Virtual quote / virtual base (WAD).
    function markPrice(uint256 marketId) external view returns (uint256) {
        return _markPrice(_market(marketId));
    }

    /// @notice The index oracle's price (WAD); reverts on a non-positive answer.
    function indexPrice(uint256 marketId) external view returns (uint256) {
        return _indexPrice(marketId, _market(marketId));
    }

    /// @notice PnL at the margin price, before fees and funding (collateral units).
    function unrealizedPnl(address trader, uint256 marketId) external view returns (int256) {
        Market storage m = _market(marketId);
        return _unrealizedPnl(_existingPosition(trader, marketId), _marginPrice(marketId, m));
    }

    /// @notice Funding the position owes (> 0) or is owed (< 0) since it was last touched.
    function pendingFunding(address trader, uint256 marketId) external view returns (int256) {
        return _fundingOwed(_market(marketId), _existingPosition(trader, marketId));
    }

    /// @notice (margin − funding owed + uPnL) / (|size| × margin price), WAD; 0 when that is negative.
    function marginRatio(address trader, uint256 marketId) external view returns (uint256) {
        Market storage m = _market(marketId);
        return _marginRatio(m, _existingPosition(trader, marketId), _marginPrice(marketId, m), false);
    }

    /// @notice Whether `liquidate` would accept the position now: margin ratio below maintenance, or
    ///         an exit against the vAMM that would not cover the position's losses (so no position is
    ///         left that can be neither closed nor liquidated).
    function isLiquidatable(address trader, uint256 marketId) external view returns (bool) {
        Market storage m = _market(marketId);
        Position storage p = _positions[marketId][trader];
        return p.sizeBase != 0 && _isLiquidatable(marketId, m, p);
    }

    /// @notice Each of `traders`' position in `marketId` with the values of `unrealizedPnl`,
    ///         `pendingFunding` and `isLiquidatable`, the margin price read once for all (one
    ///         oracle read instead of three per trader). Traders without a position read as zeros.
    /// @dev For batched readers; reverts when the margin price does (a bad index oracle).
    function positionsOf(uint256 marketId, address[] calldata traders) external view returns (PositionsView memory out) {
        Market storage m = _market(marketId);
        uint256 price = _marginPrice(marketId, m);
        uint256 n = traders.length;
        out = emptyPositionsView(n);
        for (uint256 i = 0; i < n; ++i) {
            Position storage p = _positions[marketId][traders[i]];
            if (p.sizeBase == 0) continue;
            out.sizeBase[i] = p.sizeBase;
            out.margin[i] = p.margin;
            out.openNotional[i] = p.openNotional;
            out.unrealizedPnl[i] = _unrealizedPnl(p, price);
            out.pendingFunding[i] = _fundingOwed(m, p);
            out.liquidatable[i] = _isLiquidatableAt(m, p, price);
        }
    }

    /// @notice The margin price (WAD) at which the margin ratio equals the maintenance margin:
    ///         long (N − M) / (S (1 − mm)), short (N + M) / (S (1 + mm)), with M the margin less
    ///         funding owed and N the open notional. 0 for a long that cannot be liquidated.
    function liquidationPrice(address trader, uint256 marketId) external view returns (uint256) {
        Market storage m = _market(marketId);
        Position storage p = _existingPosition(trader, marketId);
        return _thresholdPrice(p, _fundingOwed(m, p), m.maintenanceMarginBps);
    }

    /// @notice The margin price (WAD) at which the position's equity is zero: long (N − M) / S,
    ///         short (N + M) / S. ADL fills happen at this price.
    function bankruptcyPrice(address trader, uint256 marketId) external view returns (uint256) {
        Market storage m = _market(marketId);
        Position storage p = _existingPosition(trader, marketId);
        return _thresholdPrice(p, _fundingOwed(m, p), 0);
    }

    /// @notice (max(0, uPnL) / margin) × (notional / (margin + uPnL)) at the margin price, in WAD:
    ///         PnL% × effective leverage. ADL takes the highest first.
    function adlScore(address trader, uint256 marketId) external view returns (uint256) {
        Market storage m = _market(marketId);
        return _adlScore(m, _existingPosition(trader, marketId), _marginPrice(marketId, m));
    }

    /// @notice Open interest (WAD): total long size and total short size.
    function openInterest(uint256 marketId) external view returns (uint256 longBase, uint256 shortBase) {
        Market storage m = _market(marketId);
        return (m.longBase, m.shortBase);
    }

    /// @notice The market's configuration and state.
    function getMarket(uint256 marketId) external view returns (Market memory) {
        return _market(marketId);
    }

    /// @notice Number of listed markets.
    function marketCount() external view returns (uint256) {
        return _markets.length;
    }

    /// @notice Traders with an open position in `marketId`, in no particular order.
    function tradersOf(uint256 marketId) external view returns (address[] memory) {
        return _traders[marketId];
    }

    // ================================================================== internals: prices

    function _market(uint256 marketId) internal view returns (Market storage) {
        if (marketId >= _markets.length) revert MarketNotFound(marketId);
        return _markets[marketId];
    }

    function _existingPosition(address trader, uint256 marketId) internal view returns (Position storage p) {
        p = _positions[marketId][trader];
        if (p.sizeBase == 0) revert NoPosition(trader, marketId);
    }

    function _markPrice(Market storage m) internal view returns (uint256) {
        return m.vQuote * WAD / m.vBase;
    }

    function _indexPrice(uint256 marketId, Market storage m) internal view returns (uint256) {
        (, int256 answer,,,) = m.indexOracle.latestRoundData();
        if (answer <= 0) revert InvalidIndexPrice(marketId, answer);
        return uint256(answer) * WAD / m.oracleUnit;
    }

    function _marginPrice(uint256 marketId, Market storage m) internal view returns (uint256) {
        return m.marginPriceSource == PRICE_SOURCE_INDEX ? _indexPrice(marketId, m) : _markPrice(m);
    }

    /// @dev Quote WAD to collateral units, rounded down or up.
    function _toCollateral(uint256 quoteWad, bool roundUp) internal view returns (uint256) {
        return Math.mulDiv(quoteWad, _collateralUnit, WAD, roundUp ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }

    // ================================================================== internals: positions

    /// @dev Funding owed (> 0) or due (< 0) in collateral units, rounded against the trader.
    function _fundingOwed(Market storage m, Position storage p) internal view returns (int256) {
        int256 delta = m.cumulativeFundingWad - p.lastFundingIndex;
        bool pays = (p.sizeBase > 0) == (delta > 0);
        uint256 owed = _signedProductToCollateral(p.sizeBase, delta, pays);
        return pays ? owed.toInt256() : -owed.toInt256();
    }

    /// @dev |a × b| / WAD in collateral units, in one rounding (up or down).
    function _signedProductToCollateral(int256 a, int256 b, bool roundUp) internal view returns (uint256) {
        return Math.mulDiv(
            SignedMath.abs(a) * _collateralUnit,
            SignedMath.abs(b),
            WAD * WAD,
            roundUp ? Math.Rounding.Ceil : Math.Rounding.Floor
        );
    }

    /// @dev uPnL at `price`: a long's value rounds down, a short's buy-back cost up.
    function _unrealizedPnl(Position storage p, uint256 price) internal view returns (int256) {
        uint256 valueQuoteWad = SignedMath.abs(p.sizeBase) * price / WAD;
        if (p.sizeBase > 0) return _toCollateral(valueQuoteWad, false).toInt256() - p.openNotional.toInt256();
        return p.openNotional.toInt256() - _toCollateral(valueQuoteWad, true).toInt256();
    }

    /// @dev (margin − funding owed + uPnL) / notional at `price`; with `ignoreProfit`, uPnL counts only
    ///      when negative.
    function _marginRatio(Market storage m, Position storage p, uint256 price, bool ignoreProfit)
        internal
        view
        returns (uint256)
    {
        int256 pnl = _unrealizedPnl(p, price);
        if (ignoreProfit && pnl > 0) pnl = 0;
        int256 equity = p.margin.toInt256() - _fundingOwed(m, p) + pnl;
        uint256 notional = _toCollateral(SignedMath.abs(p.sizeBase) * price / WAD, false);
        if (notional == 0) return type(uint256).max;
        return equity <= 0 ? 0 : Math.mulDiv(uint256(equity), WAD, notional);
    }

    function _maintenanceWad(Market storage m) internal view returns (uint256) {
        return uint256(m.maintenanceMarginBps) * WAD / BPS;
    }

    function _isLiquidatable(uint256 marketId, Market storage m, Position storage p) internal view returns (bool) {
        return _isLiquidatableAt(m, p, _marginPrice(marketId, m));
    }

    /// @dev `_isLiquidatable` with the margin price already read.
    function _isLiquidatableAt(Market storage m, Position storage p, uint256 marginPrice) internal view returns (bool) {
        if (_marginRatio(m, p, marginPrice, false) < _maintenanceWad(m)) return true;
        return p.margin.toInt256() - _fundingOwed(m, p) + _quoteExit(m, p).pnl < 0;
    }

    function _adlScore(Market storage m, Position storage p, uint256 price) internal view returns (uint256) {
        int256 pnl = _unrealizedPnl(p, price);
        int256 margin = p.margin.toInt256() - _fundingOwed(m, p);
        if (pnl <= 0 || margin <= 0) return 0;
        uint256 notional = _toCollateral(SignedMath.abs(p.sizeBase) * price / WAD, false);
        return Math.mulDiv(uint256(pnl) * notional, WAD, uint256(margin) * uint256(margin + pnl));
    }

    /// @dev Price where equity / (|S| × price) = marginBps: long (N − M)/(S(1 − mm)), short (N + M)/(S(1 + mm)).
    function _thresholdPrice(Position storage p, int256 fundingOwed, uint16 marginBps) internal view returns (uint256) {
        int256 marginQuoteWad = (p.margin.toInt256() - fundingOwed) * int256(WAD / _collateralUnit);
        int256 notionalQuoteWad = (p.openNotional * (WAD / _collateralUnit)).toInt256();
        uint256 size = SignedMath.abs(p.sizeBase);
        if (p.sizeBase > 0) {
            int256 numerator = notionalQuoteWad - marginQuoteWad;
            if (numerator <= 0) return 0;
            return Math.mulDiv(uint256(numerator) * WAD, BPS, size * (BPS - marginBps), Math.Rounding.Ceil);
        }
        int256 shortNumerator = notionalQuoteWad + marginQuoteWad;
        if (shortNumerator <= 0) return 0;
        return Math.mulDiv(uint256(shortNumerator) * WAD, BPS, size * (BPS + marginBps));
    }

    /// @dev Applies pending funding to the position's bookkeeping and returns margin − funding owed
    ///      (which may be negative); the stored margin is left for the caller to settle.
    function _takeFunding(uint256 marketId, Market storage m, address trader, Position storage p)
        internal
        returns (int256 marginLeft)
    {
        int256 owed = _fundingOwed(m, p);
        p.lastFundingIndex = m.cumulativeFundingWad;
        if (owed != 0) emit FundingPaid(trader, marketId, owed);
        return p.margin.toInt256() - owed;
    }

    function _settleFundingIntoMargin(uint256 marketId, Market storage m, address trader, Position storage p) internal {
        int256 marginLeft = _takeFunding(marketId, m, trader, p);
        if (marginLeft < 0) revert PositionBankrupt(trader, marketId, marginLeft);
        p.margin = uint256(marginLeft);
    }

    /// @dev Executes an opening trade on the vAMM and returns the size; checks the price limit.
    function _tradeOpen(Market storage m, bool isLong, uint256 quoteWad, uint256 priceLimitWad)
        internal
        returns (uint256 sizeBase)
    {
        uint256 newBase;
        uint256 newQuote;
        if (isLong) {
            (sizeBase, newBase, newQuote) = VammMath.buyBaseWithQuote(m.vBase, m.vQuote, quoteWad);
        } else {
            if (quoteWad >= m.vQuote) revert InsufficientVirtualLiquidity(quoteWad, m.vQuote);
            (sizeBase, newBase, newQuote) = VammMath.sellBaseForQuote(m.vBase, m.vQuote, quoteWad);
        }
        if (sizeBase == 0) revert ZeroAmount();
        uint256 averagePrice = quoteWad * WAD / sizeBase;
        if (priceLimitWad != 0 && (isLong ? averagePrice > priceLimitWad : averagePrice < priceLimitWad)) {
            revert PriceLimitExceeded(averagePrice, priceLimitWad);
        }
        m.vBase = newBase;
        m.vQuote = newQuote;
    }

    /// @dev What closing the whole position against the vAMM would give, not yet applied.
    function _quoteExit(Market storage m, Position storage p) internal view returns (Exit memory exit) {
        uint256 size = SignedMath.abs(p.sizeBase);
        if (p.sizeBase > 0) {
            (exit.quoteWad, exit.newBase, exit.newQuote) = VammMath.sellBase(m.vBase, m.vQuote, size);
            exit.notional = _toCollateral(exit.quoteWad, false);
            exit.pnl = exit.notional.toInt256() - p.openNotional.toInt256();
        } else {
            if (size >= m.vBase) revert InsufficientVirtualLiquidity(size, m.vBase);
            (exit.quoteWad, exit.newBase, exit.newQuote) = VammMath.buyBase(m.vBase, m.vQuote, size);
            exit.notional = _toCollateral(exit.quoteWad, true);
            exit.pnl = p.openNotional.toInt256() - exit.notional.toInt256();
        }
    }

    function _applyExit(Market storage m, int256 size, Exit memory exit) internal {
        m.vBase = exit.newBase;
        m.vQuote = exit.newQuote;
        if (size > 0) m.longBase -= uint256(size);
        else m.shortBase -= uint256(-size);
    }

    function _addTrader(uint256 marketId, address trader) internal {
        _traders[marketId].push(trader);
        _traderSlot[marketId][trader] = _traders[marketId].length;
    }

    function _removePosition(uint256 marketId, address trader) internal {
        delete _positions[marketId][trader];
        address[] storage traders = _traders[marketId];
        uint256 slot = _traderSlot[marketId][trader];
        address last = traders[traders.length - 1];
        traders[slot - 1] = last;
        _traderSlot[marketId][last] = slot;
        traders.pop();
        delete _traderSlot[marketId][trader];
    }

    // ================================================================== internals: losses

    function _changeInsurance(int256 change) internal {
        if (change == 0) return;
        insuranceFund = (insuranceFund.toInt256() + change).toUint256();
        emit InsuranceFundChanged(change, insuranceFund);
    }

    /// @dev The fund pays what it can of `amount`; the rest becomes bad debt. Returns what it paid.
    function _payFromInsurance(uint256 marketId, address trader, uint256 amount) internal returns (uint256 paid) {
        paid = Math.min(amount, insuranceFund);
        _changeInsurance(-paid.toInt256());
        if (amount > paid) {
            badDebt += amount - paid;
            emit BadDebtRecorded(marketId, trader, amount - paid, badDebt);
        }
    }

    /// @dev Closes `trader`'s position against opposite positions at its bankruptcy price, highest
    ///      ADL score first. Whatever size they cannot cover exits against the vAMM, its loss going
    ///      to the fund and then to bad debt.
    function _liquidateByAdl(uint256 marketId, Market storage m, address trader, Position storage p, int256 marginLeft)
        internal
    {
        int256 size = p.sizeBase;
        uint256 absSize = SignedMath.abs(size);
        uint256 price = _thresholdPrice(p, p.margin.toInt256() - marginLeft, 0);
        uint256 unmatched = _matchAgainstOpposite(marketId, m, trader, size > 0, absSize, price);
        uint256 matched = absSize - unmatched;
        m.longBase -= matched;
        m.shortBase -= matched;
        int256 insuranceChange;
        if (unmatched > 0) {
            // Shrink the position to its unmatched part and exit that against the vAMM.
            p.openNotional = Math.mulDiv(p.openNotional, unmatched, absSize);
            p.sizeBase = size > 0 ? unmatched.toInt256() : -unmatched.toInt256();
            int256 partMargin = marginLeft >= 0
                ? (marginLeft * unmatched.toInt256()) / absSize.toInt256()
                : -Math.mulDiv(uint256(-marginLeft), unmatched, absSize, Math.Rounding.Ceil).toInt256();
            Exit memory exit = _quoteExit(m, p);
            _applyExit(m, p.sizeBase, exit);
            int256 remaining = partMargin + exit.pnl;
            if (remaining >= 0) {
                insuranceChange = remaining;
                _changeInsurance(remaining);
            } else {
                insuranceChange = -_payFromInsurance(marketId, trader, uint256(-remaining)).toInt256();
            }
        }
        _removePosition(marketId, trader);
        emit PositionLiquidated(trader, marketId, size, price, marginLeft, 0, insuranceChange, msg.sender);
    }

    /// @dev Reduces opposite positions, best ADL score first, by up to `size` at `price`.
    ///      Returns the size no opposite position was left to take.
    function _matchAgainstOpposite(
        uint256 marketId,
        Market storage m,
        address liquidated,
        bool liquidatedIsLong,
        uint256 size,
        uint256 price
    ) internal returns (uint256 remaining) {
        (address[] memory candidates, uint256[] memory scores, bool[] memory eligible) =
            _rankOpposite(marketId, m, liquidated, liquidatedIsLong);
        remaining = size;
        while (remaining > 0) {
            (bool found, uint256 best) = _bestCandidate(scores, eligible);
            if (!found) break;
            eligible[best] = false;
            remaining -= _fillCounterparty(marketId, m, liquidated, candidates[best], remaining, price);
        }
    }

    /// @dev Every position of the market on the side opposite the liquidated one, with its ADL score.
    function _rankOpposite(uint256 marketId, Market storage m, address liquidated, bool liquidatedIsLong)
        internal
        view
        returns (address[] memory candidates, uint256[] memory scores, bool[] memory eligible)
    {
        candidates = _traders[marketId];
        uint256 marginPrice = _marginPrice(marketId, m);
        scores = new uint256[](candidates.length);
        eligible = new bool[](candidates.length);
        for (uint256 i = 0; i < candidates.length; ++i) {
            Position storage q = _positions[marketId][candidates[i]];
            if (candidates[i] == liquidated || (q.sizeBase > 0) == liquidatedIsLong) continue;
            scores[i] = _adlScore(m, q, marginPrice);
            eligible[i] = scores[i] > 0; // only positions in profit are deleveraged
        }
    }

    function _fillCounterparty(
        uint256 marketId,
        Market storage m,
        address liquidated,
        address counterparty,
        uint256 remaining,
        uint256 price
    ) internal returns (uint256 fill) {
        fill = Math.min(remaining, SignedMath.abs(_positions[marketId][counterparty].sizeBase));
        _deleverage(marketId, m, counterparty, fill, price);
        emit AutoDeleveraged(liquidated, counterparty, marketId, fill, price);
    }

    function _bestCandidate(uint256[] memory scores, bool[] memory eligible)
        internal
        pure
        returns (bool found, uint256 best)
    {
        for (uint256 i = 0; i < scores.length; ++i) {
            if (eligible[i] && (!found || scores[i] > scores[best])) {
                found = true;
                best = i;
            }
        }
    }

    /// @dev Closes `fill` of `trader`'s position at `price`. The realized PnL (and pending funding)
    ///      stays in the position's margin; a position closed in full is paid out.
    function _deleverage(uint256 marketId, Market storage m, address trader, uint256 fill, uint256 price) internal {
        Position storage q = _positions[marketId][trader];
        int256 marginLeft = _takeFunding(marketId, m, trader, q);
        uint256 absSize = SignedMath.abs(q.sizeBase);
        uint256 notionalPart = Math.mulDiv(q.openNotional, fill, absSize);
        uint256 fillQuoteWad = fill * price / WAD;
        int256 pnl = q.sizeBase > 0
            ? _toCollateral(fillQuoteWad, false).toInt256() - notionalPart.toInt256()
            : notionalPart.toInt256() - _toCollateral(fillQuoteWad, true).toInt256();
        int256 sizeDelta = q.sizeBase > 0 ? -fill.toInt256() : fill.toInt256();
        int256 newMargin = marginLeft + pnl;
        if (newMargin < 0) {
            // Filled at a price worse than its entry: the fund, then bad debt, takes the shortfall.
            _payFromInsurance(marketId, trader, uint256(-newMargin));
            newMargin = 0;
        }
        if (fill == absSize) {
            _removePosition(marketId, trader);
            if (newMargin > 0) collateralToken.safeTransfer(trader, uint256(newMargin));
            emit PositionChanged(trader, marketId, sizeDelta, _toCollateral(fillQuoteWad, false), 0, pnl, 0, 0);
        } else {
            q.sizeBase += sizeDelta;
            q.openNotional -= notionalPart;
            q.margin = uint256(newMargin);
            emit PositionChanged(trader, marketId, sizeDelta, _toCollateral(fillQuoteWad, false), 0, pnl, q.sizeBase, q.margin);
        }
    }
}
