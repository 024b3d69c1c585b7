// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {AggregatorV3Interface} from "../oracles/interfaces/AggregatorV3Interface.sol";
import {IPerpErrors} from "./interfaces/IPerpErrors.sol";
import {IPerpEvents} from "./interfaces/IPerpEvents.sol";
import {PositionsView, emptyPositionsView} from "./interfaces/IPerpExchange.sol";
import {FundingLogic} from "./libraries/FundingLogic.sol";
import {InsuranceLogic} from "./libraries/InsuranceLogic.sol";
import {LiquidationLogic} from "./libraries/LiquidationLogic.sol";
import {PerpTypes} from "./libraries/PerpTypes.sol";
import {PositionLogic} from "./libraries/PositionLogic.sol";
import {PricingLogic} from "./libraries/PricingLogic.sol";
import {TradingLogic} from "./libraries/TradingLogic.sol";

/// @title PerpExchange
/// @notice Perpetual futures on virtual constant-product AMMs, with isolated margin in one
///         stablecoin, time-accrued funding, a median mark, liquidation in chunks, an insurance
///         fund, and auto-deleveraging (ADL) against counterparties the liquidator ranks.
/// @dev Storage and thin entry points; the logic lives in one library per concern: TradingLogic
///      (positions), FundingLogic, PricingLogic (mark and margin price), LiquidationLogic (chunks
///      and the loss waterfall: margin, liquidator fee, fund, ADL, bad debt), AdlLogic and
///      InsuranceLogic. Units in `PerpTypes`. Every entry point first accrues the market
///      (funding and the mark's EMA, FundingLogic) and writes the market's state back at the end.
contract PerpExchange is IPerpErrors, IPerpEvents, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice Margin checks read the vAMM price (the default).
    uint8 public constant PRICE_SOURCE_MARK = PerpTypes.PRICE_SOURCE_VAMM;
    /// @notice Margin checks read the index oracle.
    uint8 public constant PRICE_SOURCE_INDEX = PerpTypes.PRICE_SOURCE_INDEX;
    /// @notice Margin checks read the median mark (`PricingLogic.medianMark`).
    uint8 public constant PRICE_SOURCE_MEDIAN = PerpTypes.PRICE_SOURCE_MEDIAN;

    /// @notice What `setLiquidationParams` sets (see `PerpTypes.MarketConfig`).
    struct LiquidationParams {
        uint256 minPositionUsdc;
        uint256 partialLiquidationUsdc;
        uint16 maxLiquidationBps;
        uint32 liquidationCooldownS;
        uint256 maxFundFeeUsdc;
    }

    /// @notice The stablecoin all margin is posted in.
    IERC20 public immutable collateralToken;
    uint256 private immutable _collateralUnit;

    /// @notice Whether losses the insurance fund cannot pay go to auto-deleveraging.
    bool public adlEnabled = true;
    /// @notice While true, trading, margin changes, funding and liquidations revert with `Paused()`.
    bool public paused;

    uint64 private _pausedAtS;
    PerpTypes.Vault private _vault;
    PerpTypes.Market[] private _markets;
    mapping(uint256 marketId => PerpTypes.Book) private _books;

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
    ///         WAD; vAMM price = quote / base, depth = their product) with an index oracle. Chunked
    ///         liquidation, a minimum size and the fund's fee are off until `setLiquidationParams`.
    /// @param initialMarginBps Least margin / notional at opening (max leverage = 1 / this).
    /// @param maintenanceMarginBps Below this margin ratio a position can be liquidated.
    /// @param liquidationFeeBps Liquidator's share of the liquidated notional at the margin price.
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
        bool valid = maintenanceMarginBps > 0 && maintenanceMarginBps < initialMarginBps && initialMarginBps <= PerpTypes.BPS
            && liquidationFeeBps <= PerpTypes.BPS && tradingFeeBps < maintenanceMarginBps;
        if (!valid) {
            revert InvalidMarketParameters(initialMarginBps, maintenanceMarginBps, liquidationFeeBps, tradingFeeBps);
        }
        marketId = _markets.length;
        PerpTypes.Market storage m = _markets.push();
        m.symbol = symbol;
        PerpTypes.MarketConfig storage c = m.config;
        c.indexOracle = AggregatorV3Interface(indexOracle);
        c.oracleUnit = 10 ** AggregatorV3Interface(indexOracle).decimals();
        c.initialMarginBps = initialMarginBps;
        c.maintenanceMarginBps = maintenanceMarginBps;
        c.liquidationFeeBps = liquidationFeeBps;
        c.tradingFeeBps = tradingFeeBps;
        c.partialLiquidationUsdc = type(uint256).max;
        c.maxLiquidationBps = uint16(PerpTypes.BPS);
        m.state.vBase = vBaseReserve;
        m.state.vQuote = vQuoteReserve;
        m.state.lastAccrualS = uint64(block.timestamp);
        emit MarketListed(
            marketId, symbol, indexOracle, vBaseReserve, vQuoteReserve,
            initialMarginBps, maintenanceMarginBps, liquidationFeeBps, tradingFeeBps
        );
    }

    /// @notice Funding at rate = clamp((vAMM − index) / index × fundingFactorWad, ±maxRatePerIntervalWad)
    ///         per `intervalS`, accrued by the second (rates in WAD). When funding was already set,
    ///         what accrued so far is settled at the old parameters first (this reads the index).
    function setFundingParams(uint256 marketId, uint32 intervalS, uint256 fundingFactorWad, uint256 maxRatePerIntervalWad)
        external
        onlyOwner
    {
        if (intervalS == 0 || maxRatePerIntervalWad > PerpTypes.WAD || fundingFactorWad > 100 * PerpTypes.WAD) {
            revert InvalidFundingParameters(intervalS, fundingFactorWad, maxRatePerIntervalWad);
        }
        PerpTypes.Market storage m = _market(marketId);
        if (m.config.fundingIntervalS != 0) {
            (, PerpTypes.MarketState memory s,) = _accrue(marketId); // at the old rate until now
            m.state = s;
        } else {
            m.state.lastAccrualS = uint64(block.timestamp); // funding starts now, never back-dated
        }
        m.config.fundingIntervalS = intervalS;
        m.config.fundingFactorWad = fundingFactorWad;
        m.config.maxFundingRateWad = maxRatePerIntervalWad;
        emit FundingParamsSet(marketId, intervalS, fundingFactorWad, maxRatePerIntervalWad);
    }

    /// @notice Which price margin checks read (PRICE_SOURCE_MARK 0, _INDEX 1, _MEDIAN 2) and the time
    ///         constant (seconds) of the median mark's EMA of (vAMM − index).
    function setMarkParams(uint256 marketId, uint8 source, uint32 emaTimeS) external onlyOwner {
        if (source > PerpTypes.PRICE_SOURCE_MEDIAN) revert InvalidPriceSource(source);
        if (source == PerpTypes.PRICE_SOURCE_MEDIAN && emaTimeS == 0) revert InvalidMarkEma(source, emaTimeS);
        PerpTypes.Market storage m = _market(marketId);
        m.config.marginPriceSource = source;
        m.config.markEmaTimeS = emaTimeS;
        emit MarkParamsSet(marketId, source, emaTimeS);
    }

    /// @notice Minimum position, chunked liquidation (above `partialLiquidationUsdc` of notional, at
    ///         most `maxLiquidationBps` of the size per call, `liquidationCooldownS` apart) and the
    ///         most the fund pays a bankrupt position's liquidator.
    function setLiquidationParams(uint256 marketId, LiquidationParams calldata lp) external onlyOwner {
        if (lp.maxLiquidationBps < 100 || lp.maxLiquidationBps > PerpTypes.BPS) {
            revert InvalidLiquidationParameters(lp.maxLiquidationBps, lp.partialLiquidationUsdc, lp.minPositionUsdc);
        }
        PerpTypes.MarketConfig storage c = _market(marketId).config;
        c.minPositionUsdc = lp.minPositionUsdc;
        c.partialLiquidationUsdc = lp.partialLiquidationUsdc;
        c.maxLiquidationBps = lp.maxLiquidationBps;
        c.liquidationCooldownS = lp.liquidationCooldownS;
        c.maxFundFeeUsdc = lp.maxFundFeeUsdc;
        emit LiquidationParamsSet(
            marketId, lp.minPositionUsdc, lp.partialLiquidationUsdc, lp.maxLiquidationBps, lp.liquidationCooldownS, lp.maxFundFeeUsdc
        );
    }

    /// @notice Turns auto-deleveraging on (default) or off (uncovered losses become bad debt).
    function setAdlEnabled(bool enabled) external onlyOwner {
        adlEnabled = enabled;
        emit AdlEnabledSet(enabled);
    }

    /// @notice Stops (or resumes) trading, margin changes, funding and liquidations. Nothing accrues
    ///         for the paused time (no one could act in it): on resuming, every market's last
    ///         accrual moves forward by the pause's length.
    function setPaused(bool paused_) external onlyOwner {
        if (!paused && paused_) _pausedAtS = uint64(block.timestamp);
        if (paused && !paused_) {
            uint64 pausedForS = uint64(block.timestamp) - _pausedAtS;
            for (uint256 i = 0; i < _markets.length; ++i) {
                _markets[i].state.lastAccrualS += pausedForS;
            }
        }
        paused = paused_;
        emit PausedSet(paused_);
    }

    // ================================================================== anyone

    /// @notice Adds `amount` (collateral units) of the caller's collateral to the insurance fund.
    function fundInsurance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        InsuranceLogic.change(_vault, amount.toInt256());
        collateralToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Accrues `marketId`'s funding and mark EMA up to now. Anyone may call it at any time:
    ///         funding accrues by elapsed time (FundingLogic), so while the index holds, calling
    ///         early or late changes nothing owed.
    function settleFunding(uint256 marketId) external nonReentrant whenNotPaused {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s,) = _accrue(marketId);
        m.state = s;
    }

    /// @notice Liquidates `trader`'s position in `marketId` (or a chunk of it) when its margin ratio
    ///         is below maintenance; pays the caller the liquidator fee. See LiquidationLogic for the
    ///         loss waterfall and the chunks.
    /// @param adlCounterparties Opposite positions to deleverage, best `positionsOf().adlScore`
    ///        first, used only when the fund cannot cover the loss; filled in falling score order,
    ///        entries that fail the checks skipped (AdlLogic). May be empty.
    function liquidate(address trader, uint256 marketId, address[] calldata adlCounterparties)
        external
        nonReentrant
        whenNotPaused
    {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _accrue(marketId);
        LiquidationLogic.Params memory lp = LiquidationLogic.Params(trader, msg.sender, adlEnabled, adlCounterparties);
        uint256 fee = LiquidationLogic.liquidate(_books[marketId], m.config, _vault, s, ctx, lp);
        m.state = s;
        if (fee > 0) collateralToken.safeTransfer(msg.sender, fee);
    }

    /// @notice Pays the caller the collateral credited to them (by ADL closing their position).
    function withdrawCredit() external nonReentrant returns (uint256 amount) {
        amount = InsuranceLogic.takeCredit(_vault, msg.sender);
        if (amount > 0) collateralToken.safeTransfer(msg.sender, amount);
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
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _accrue(marketId);
        PerpTypes.OpenParams memory op = PerpTypes.OpenParams(isLong, margin, leverageWad, priceLimitWad);
        uint256 fee = TradingLogic.open(_books[marketId], m.config, s, ctx, msg.sender, op);
        m.state = s;
        InsuranceLogic.change(_vault, fee.toInt256());
        collateralToken.safeTransferFrom(msg.sender, address(this), margin);
    }

    /// @notice Closes `sizeBase` (WAD) of the caller's position against the vAMM (all of it when
    ///         `sizeBase` is at least its size) and pays out the closed share of margin + PnL −
    ///         funding − fee. A partial close must leave at least the market's minimum open notional.
    /// @param priceLimitWad Worst average exit price (a long's lowest, a short's highest); 0 = none.
    function reducePosition(uint256 marketId, uint256 sizeBase, uint256 priceLimitWad) external nonReentrant whenNotPaused {
        _reduce(marketId, PerpTypes.ReduceParams(sizeBase, priceLimitWad));
    }

    /// @notice Closes the caller's whole position (`reducePosition` with its whole size). Reverts
    ///         with `CloseWouldBeBankrupt` when the exit would not cover its losses: under the vAMM
    ///         source such a position is liquidatable; under the index and median sources it may be
    ///         healthy at the margin price while the vAMM is far from it, and waits for arbitrage
    ///         (or more margin).
    function closePosition(uint256 marketId, uint256 priceLimitWad) external nonReentrant whenNotPaused {
        _reduce(marketId, PerpTypes.ReduceParams(type(uint256).max, priceLimitWad));
    }

    /// @notice Adds `amount` (collateral units) to the caller's position margin.
    function addMargin(uint256 marketId, uint256 amount) external nonReentrant whenNotPaused {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _accrue(marketId);
        TradingLogic.addMargin(_books[marketId], s, ctx, msg.sender, amount);
        m.state = s;
        collateralToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Withdraws `amount` of margin; the margin ratio at the margin price, counting losses
    ///         but no unrealized profit, must stay at or above the initial margin.
    function removeMargin(uint256 marketId, uint256 amount) external nonReentrant whenNotPaused {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _accrue(marketId);
        TradingLogic.removeMargin(_books[marketId], m.config, s, ctx, msg.sender, amount);
        m.state = s;
        collateralToken.safeTransfer(msg.sender, amount);
    }

    // ================================================================== views

    /// @notice A position as stored (funding since `lastFundingIndex` not yet applied).
    function getPosition(address trader, uint256 marketId) external view returns (PerpTypes.Position memory) {
        return _books[marketId].positions[trader];
    }

    /// @notice The vAMM's price: virtual quote / virtual base (WAD).
    function markPrice(uint256 marketId) external view returns (uint256) {
        (, PerpTypes.MarketState memory s,) = _preview(marketId);
        return PricingLogic.vammPrice(s);
    }

    /// @notice The price margin checks read now (WAD), by the market's price source.
    function marginPrice(uint256 marketId) external view returns (uint256) {
        (,, PerpTypes.Ctx memory ctx) = _preview(marketId);
        return ctx.priceWad;
    }

    /// @notice The median mark now (WAD), whichever source margin checks read.
    function medianMarkPrice(uint256 marketId) external view returns (uint256) {
        (, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _preview(marketId);
        return PricingLogic.medianMark(ctx.indexWad, PricingLogic.vammPrice(s), s.basisEmaWad, s.lastFundingRateWad);
    }

    /// @notice The index oracle's price (WAD); reverts on a non-positive answer.
    function indexPrice(uint256 marketId) external view returns (uint256) {
        return PricingLogic.indexPrice(_market(marketId).config, marketId);
    }

    /// @notice PnL at the margin price, before fees and funding (collateral units).
    function unrealizedPnl(address trader, uint256 marketId) external view returns (int256) {
        (,, PerpTypes.Ctx memory ctx) = _preview(marketId);
        return PositionLogic.unrealizedPnl(TradingLogic.existing(_books[marketId], trader, marketId), ctx.priceWad, ctx.unit);
    }

    /// @notice Funding the position owes (> 0) or is owed (< 0) since it was last touched, accrued to now.
    function pendingFunding(address trader, uint256 marketId) external view returns (int256) {
        (, PerpTypes.MarketState memory s,) = _preview(marketId);
        return FundingLogic.owed(s, TradingLogic.existing(_books[marketId], trader, marketId), _collateralUnit);
    }

    /// @notice (margin − funding owed + uPnL) / (|size| × margin price), WAD; 0 when that is negative.
    function marginRatio(address trader, uint256 marketId) external view returns (uint256) {
        (, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _preview(marketId);
        return PositionLogic.marginRatio(s, TradingLogic.existing(_books[marketId], trader, marketId), ctx, false);
    }

    /// @notice Whether `liquidate` would accept the position now: PositionLogic.isLiquidatable, not
    ///         cooling down after a chunk, and no vAMM pushed against it (LiquidationLogic).
    function isLiquidatable(address trader, uint256 marketId) external view returns (bool) {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _preview(marketId);
        return _liquidatableNow(m.config, s, _books[marketId].positions[trader], ctx);
    }

    /// @notice When the next chunk of the position may be liquidated (0: no chunk was).
    function liquidationCooldownEnd(address trader, uint256 marketId) external view returns (uint256) {
        return LiquidationLogic.cooldownEnd(_market(marketId).config, _books[marketId].positions[trader]);
    }

    /// @notice Each of `traders`' position in `marketId` with `unrealizedPnl`, `pendingFunding`,
    ///         `isLiquidatable` and `adlScore`, the margin price read once for all. Traders
    ///         without a position read as zeros.
    /// @dev For batched readers; reverts when the margin price does (a bad index oracle).
    function positionsOf(uint256 marketId, address[] calldata traders) external view returns (PositionsView memory out) {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _preview(marketId);
        out = emptyPositionsView(traders.length);
        for (uint256 i = 0; i < traders.length; ++i) {
            PerpTypes.Position storage p = _books[marketId].positions[traders[i]];
            if (p.sizeBase == 0) continue;
            out.sizeBase[i] = p.sizeBase;
            out.margin[i] = p.margin;
            out.openNotional[i] = p.openNotional;
            out.unrealizedPnl[i] = PositionLogic.unrealizedPnl(p, ctx.priceWad, ctx.unit);
            out.pendingFunding[i] = FundingLogic.owed(s, p, ctx.unit);
            out.liquidatable[i] = _liquidatableNow(m.config, s, p, ctx);
            out.adlScore[i] = PositionLogic.adlScore(s, p, ctx);
        }
    }

    /// @notice The margin price (WAD) at which the margin ratio equals the maintenance margin:
    ///         long (N − M) / (S (1 − mm)), short (N + M) / (S (1 + mm)), with M the margin less
    ///         funding owed and N the open notional. 0 for a long that cannot be liquidated.
    function liquidationPrice(address trader, uint256 marketId) external view returns (uint256) {
        return _thresholdPrice(trader, marketId, _market(marketId).config.maintenanceMarginBps);
    }

    /// @notice The margin price (WAD) at which the position's equity is zero: long (N − M) / S,
    ///         short (N + M) / S. ADL fills happen at this price.
    function bankruptcyPrice(address trader, uint256 marketId) external view returns (uint256) {
        return _thresholdPrice(trader, marketId, 0);
    }

    /// @notice (max(0, uPnL) / margin) × (notional / (margin + uPnL)) at the margin price, in WAD:
    ///         PnL% × effective leverage. ADL takes the highest first.
    function adlScore(address trader, uint256 marketId) external view returns (uint256) {
        (, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _preview(marketId);
        return PositionLogic.adlScore(s, TradingLogic.existing(_books[marketId], trader, marketId), ctx);
    }

    /// @notice Open interest (WAD): total long size and total short size.
    function openInterest(uint256 marketId) external view returns (uint256 longBase, uint256 shortBase) {
        PerpTypes.MarketState storage s = _market(marketId).state;
        return (s.longBase, s.shortBase);
    }

    /// @notice The market's parameters.
    function marketConfig(uint256 marketId) external view returns (PerpTypes.MarketConfig memory) {
        return _market(marketId).config;
    }

    /// @notice The market's state as of its last accrual (vAMM reserves, open interest, funding,
    ///         basis EMA); never reads the index, so it answers even when the oracle reverts.
    function marketState(uint256 marketId) external view returns (PerpTypes.MarketState memory) {
        return _market(marketId).state;
    }

    /// @notice Number of listed markets.
    function marketCount() external view returns (uint256) {
        return _markets.length;
    }

    /// @notice Traders with an open position in `marketId`, in no particular order.
    function tradersOf(uint256 marketId) external view returns (address[] memory) {
        return _books[marketId].traders;
    }

    /// @notice Collateral held to pay losses beyond a position's margin.
    function insuranceFund() external view returns (uint256) {
        return _vault.insuranceFund;
    }

    /// @notice Losses neither margin, insurance fund nor ADL absorbed (collateral units).
    function badDebt() external view returns (uint256) {
        return _vault.badDebt;
    }

    /// @notice Collateral owed to `trader`, withdrawn with `withdrawCredit`.
    function creditOf(address trader) external view returns (uint256) {
        return _vault.credits[trader];
    }

    /// @notice Σ credits owed to all traders.
    function totalCredits() external view returns (uint256) {
        return _vault.totalCredits;
    }

    // ================================================================== internals

    function _market(uint256 marketId) internal view returns (PerpTypes.Market storage) {
        if (marketId >= _markets.length) revert MarketNotFound(marketId);
        return _markets[marketId];
    }

    /// @dev The market, its state accrued to now in memory, and the prices read once.
    function _preview(uint256 marketId)
        internal
        view
        returns (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx)
    {
        (m, s, ctx,) = _accrued(marketId);
    }

    /// @dev `_preview` with what the accrual did.
    function _accrued(uint256 marketId)
        internal
        view
        returns (
            PerpTypes.Market storage m,
            PerpTypes.MarketState memory s,
            PerpTypes.Ctx memory ctx,
            FundingLogic.Accrual memory a
        )
    {
        m = _market(marketId);
        s = m.state;
        ctx.marketId = marketId;
        ctx.unit = _collateralUnit;
        ctx.indexWad = PricingLogic.indexPrice(m.config, marketId);
        a = FundingLogic.accrue(m.config, s, ctx.indexWad, block.timestamp);
        ctx.priceWad = PricingLogic.marginPrice(m.config, s, ctx.indexWad);
    }

    /// @dev `_preview`, and the fund takes or pays the funding imbalance; the caller writes `s` back.
    function _accrue(uint256 marketId)
        internal
        returns (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx)
    {
        FundingLogic.Accrual memory a;
        (m, s, ctx, a) = _accrued(marketId);
        if (a.paymentPerBaseWad == 0) return (m, s, ctx);
        int256 imbalance = FundingLogic.fundImbalance(s, a.paymentPerBaseWad, ctx.unit);
        if (imbalance >= 0) InsuranceLogic.change(_vault, imbalance);
        else InsuranceLogic.coverLoss(_vault, marketId, address(0), uint256(-imbalance));
        emit FundingAccrued(marketId, a.elapsedS, a.rateWad, a.paymentPerBaseWad, s.cumulativeFundingWad);
    }

    function _reduce(uint256 marketId, PerpTypes.ReduceParams memory rp) internal {
        (PerpTypes.Market storage m, PerpTypes.MarketState memory s, PerpTypes.Ctx memory ctx) = _accrue(marketId);
        (uint256 payout, uint256 fee) = TradingLogic.reduce(_books[marketId], m.config, s, ctx, msg.sender, rp);
        m.state = s;
        InsuranceLogic.change(_vault, fee.toInt256());
        if (payout > 0) collateralToken.safeTransfer(msg.sender, payout);
    }

    function _liquidatableNow(
        PerpTypes.MarketConfig storage c,
        PerpTypes.MarketState memory s,
        PerpTypes.Position storage p,
        PerpTypes.Ctx memory ctx
    ) internal view returns (bool) {
        if (p.sizeBase == 0 || !PositionLogic.isLiquidatable(c, s, p, ctx)) return false;
        return !LiquidationLogic.coolingDown(c, s, p, ctx) && !LiquidationLogic.vammAgainst(c, s, p, ctx);
    }

    function _thresholdPrice(address trader, uint256 marketId, uint16 marginBps) internal view returns (uint256) {
        (, PerpTypes.MarketState memory s,) = _preview(marketId);
        PerpTypes.Position storage p = TradingLogic.existing(_books[marketId], trader, marketId);
        return PositionLogic.thresholdPrice(p, PositionLogic.marginLeft(s, p, _collateralUnit), marginBps, _collateralUnit);
    }
}
