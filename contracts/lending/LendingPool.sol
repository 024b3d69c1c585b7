// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AggregatorV3Interface} from "../oracles/interfaces/AggregatorV3Interface.sol";
import {ILendingPoolErrors, ILendingPoolEvents, LiquidationRules} from "./interfaces/ILendingPool.sol";
import {InterestRateMath} from "./libraries/InterestRateMath.sol";
import {LiquidationMath} from "./libraries/LiquidationMath.sol";

/// @title LendingPool
/// @notice An Aave-v3-style pool: supply assets as collateral, borrow others against them, get
///         liquidated below a health factor of 1, with Aave v3.3's deficit (bad-debt) accounting.
/// @dev Units: token amounts in each token's native decimals; "base" values in USD with 8 decimals
///      (Aave's base currency); prices from `AggregatorV3Interface` oracles rescaled to 8 decimals;
///      health factor and ratios in WAD; rates and indexes in RAY; parameters in basis points.
///      Every supplied asset with a liquidation threshold above zero is collateral.
///      ROUNDING IS AGAINST THE USER everywhere an amount is converted: supply balances round down
///      and debts round up (scaled balances and USD values alike), withdrawals burn scaled
///      collateral rounded up, borrows mint scaled debt rounded up, repayments burn it rounded
///      down, and the health factor rounds down. Index growth itself rounds down, as Aave's.
///      Supply claims are scaled balances (Aave's aTokens without the token): a liquidation's
///      protocol fee, and with `receiveAToken` the liquidator's collateral, are credited as such.
///      WHO ABSORBS A LOSS: a liquidation that leaves an account with no collateral writes its
///      remaining debt off into each debt reserve's `deficit`. Suppliers' claims are not cut: the
///      deficit is the shortfall between what suppliers are owed and what the reserve holds or is
///      owed, and stays visible until someone covers it.
contract LendingPool is ILendingPoolErrors, ILendingPoolEvents, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant BASE_UNIT = 1e8; // USD with 8 decimals
    /// @notice Most reserves the pool lists (account data loops over them).
    uint256 public constant MAX_RESERVES = 32;
    /// @notice v3.3 rules: a position whose collateral or debt in the liquidated pair is worth less
    ///         than this (USD, 8 decimals: $2,000) may be liquidated in full at any HF below 1.
    uint256 public constant MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = LiquidationMath.MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD;
    /// @notice v3.3 rules: the least value (USD, 8 decimals: $1,000) a partial liquidation may
    ///         leave of the debt and of the collateral in the liquidated pair.
    uint256 public constant MIN_LEFTOVER_BASE = LiquidationMath.MIN_LEFTOVER_BASE;

    struct ReserveConfig {
        bool listed;
        bool borrowingEnabled;
        uint16 ltvBps;
        uint16 liquidationThresholdBps;
        uint16 liquidationBonusBps;
        uint16 liquidationProtocolFeeBps;
        uint32 baseRateBps;
        uint32 slope1Bps;
        uint32 slope2Bps;
        uint16 optimalUtilizationBps;
        address oracle;
        uint256 oracleUnit; // 10 ** oracle decimals
        uint256 assetUnit; // 10 ** token decimals
        uint256 supplyCap; // native units, 0 = none
        uint256 borrowCap; // native units, 0 = none
    }

    struct ReserveState {
        uint256 liquidityIndexRay;
        uint256 borrowIndexRay;
        uint256 liquidityRateRay;
        uint256 borrowRateRay;
        uint256 totalScaledSupply;
        uint256 totalScaledDebt;
        uint256 cash; // tokens held for this reserve, by the pool's own accounting
        uint256 deficit; // debt written off, native units
        uint40 lastUpdateS;
    }

    /// @notice One account's totals, as `getUserAccountData` reports them.
    struct AccountData {
        uint256 collateralBase;
        uint256 debtBase;
        uint256 ltvWeightedBase; // Σ collateral value × LTV (bps)
        uint256 thresholdWeightedBase; // Σ collateral value × liquidation threshold (bps)
        uint256 healthFactorWad;
    }

    /// @dev What valuing accounts needs of one reserve, read at most once per call: the current
    ///      indexes, and each price when first needed (0 = not read yet; a read price is never 0).
    struct ReserveQuote {
        bool indexesRead;
        uint256 liquidityIndex;
        uint256 borrowIndex;
        uint256 collateralPrice; // rounded down
        uint256 debtPrice; // rounded up
    }

    struct LiquidationVars {
        LiquidationMath.Position position;
        uint256 collateralSeized; // native units, protocol fee included
        uint256 debtRepaid;
        uint256 protocolFee;
    }

    /// @notice Receiver of liquidation protocol fees.
    address public treasury;
    /// @notice Share of a user's debt in one reserve that one liquidation may repay (bps).
    uint16 public closeFactorBps = 5_000;
    /// @notice At or below this health factor a liquidation may repay all of the debt (WAD).
    uint256 public fullLiquidationHealthFactorWad = 0.95e18;
    /// @notice Oracle answers older than this many seconds are refused; 0 disables the check.
    uint256 public maxOracleAgeS;
    /// @notice While true, every user action reverts with `Paused()`.
    bool public paused;
    /// @notice The liquidation rules in force; V3_0 until `setLiquidationRules`.
    LiquidationRules public liquidationRules;

    address[] private _reservesList;
    mapping(address asset => ReserveConfig) private _configs;
    mapping(address asset => ReserveState) private _states;
    mapping(address user => mapping(address asset => uint256)) private _scaledCollateral;
    mapping(address user => mapping(address asset => uint256)) private _scaledDebt;

    modifier whenNotPaused() {
        if (paused) revert Paused();
        _;
    }

    /// @notice The deployer becomes owner and treasury.
    constructor() Ownable(msg.sender) {
        treasury = msg.sender;
    }

    // ================================================================== owner configuration

    /// @notice Lists `asset` with its oracle and risk parameters. Rates are zero until
    ///         `setInterestRateModel`; caps are off; the protocol fee is zero.
    /// @param liquidationBonusBps Aave's convention: 10500 = the liquidator gets 5% more collateral
    ///        than the debt it repays. Requires LTV ≤ LT, bonus ≥ 100% and LT × bonus ≤ 100%.
    function listReserve(
        address asset,
        address oracle,
        uint16 ltvBps,
        uint16 liquidationThresholdBps,
        uint16 liquidationBonusBps,
        bool borrowingEnabled
    ) external onlyOwner {
        if (asset == address(0) || oracle == address(0)) revert ZeroAddress();
        if (_configs[asset].listed) revert ReserveAlreadyListed(asset);
        if (_reservesList.length >= MAX_RESERVES) revert TooManyReserves(MAX_RESERVES);
        _checkRiskParameters(ltvBps, liquidationThresholdBps, liquidationBonusBps);
        ReserveConfig storage config = _configs[asset];
        config.listed = true;
        config.borrowingEnabled = borrowingEnabled;
        config.ltvBps = ltvBps;
        config.liquidationThresholdBps = liquidationThresholdBps;
        config.liquidationBonusBps = liquidationBonusBps;
        config.assetUnit = 10 ** IERC20Metadata(asset).decimals();
        _setOracle(config, oracle);
        ReserveState storage state = _states[asset];
        state.liquidityIndexRay = RAY;
        state.borrowIndexRay = RAY;
        state.lastUpdateS = uint40(block.timestamp);
        _reservesList.push(asset);
        emit ReserveListed(asset, oracle, ltvBps, liquidationThresholdBps, liquidationBonusBps, borrowingEnabled);
    }

    /// @notice Sets the close factor (bps, in (0, 10000]) and the health factor (WAD, ≤ 1) at or
    ///         under which a liquidation may repay the whole debt. Defaults: 5000 and 0.95e18.
    function setCloseFactor(uint16 closeFactorBps_, uint256 fullLiquidationHealthFactorWad_) external onlyOwner {
        if (closeFactorBps_ == 0 || closeFactorBps_ > BPS || fullLiquidationHealthFactorWad_ > WAD) {
            revert InvalidCloseFactor(closeFactorBps_, fullLiquidationHealthFactorWad_);
        }
        closeFactorBps = closeFactorBps_;
        fullLiquidationHealthFactorWad = fullLiquidationHealthFactorWad_;
        emit CloseFactorSet(closeFactorBps_, fullLiquidationHealthFactorWad_);
    }

    /// @notice Chooses the liquidation rules: Aave v3.0–3.2 (`V3_0`, the default) or Aave v3.3
    ///         (`V3_3`: small positions liquidated in full, no dust left). See LiquidationMath.
    function setLiquidationRules(LiquidationRules rules) external onlyOwner {
        liquidationRules = rules;
        emit LiquidationRulesSet(rules);
    }

    /// @notice Share (bps) of the liquidation bonus on `asset` collateral paid to the treasury.
    function setLiquidationProtocolFee(address asset, uint16 feeBps) external onlyOwner {
        if (feeBps > BPS) revert InvalidProtocolFee(feeBps);
        _listedConfig(asset).liquidationProtocolFeeBps = feeBps;
        emit LiquidationProtocolFeeSet(asset, feeBps);
    }

    /// @notice Sets the receiver of liquidation protocol fees.
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @notice Sets the kinked yearly borrow-rate model of `asset` (all rates in bps per year,
    ///         optimal utilization in bps, in (0, 10000)). Interest due so far accrues first.
    function setInterestRateModel(
        address asset,
        uint32 baseRateBps,
        uint32 slope1Bps,
        uint32 slope2Bps,
        uint16 optimalUtilizationBps
    ) external onlyOwner {
        ReserveConfig storage config = _listedConfig(asset);
        if (optimalUtilizationBps == 0 || optimalUtilizationBps >= BPS) {
            revert InvalidInterestRateModel(optimalUtilizationBps);
        }
        _accrue(asset);
        config.baseRateBps = baseRateBps;
        config.slope1Bps = slope1Bps;
        config.slope2Bps = slope2Bps;
        config.optimalUtilizationBps = optimalUtilizationBps;
        _updateRates(asset);
        emit InterestRateModelSet(asset, baseRateBps, slope1Bps, slope2Bps, optimalUtilizationBps);
    }

    /// @notice Caps in native token units on total supplied and total borrowed; 0 means no cap.
    function setCaps(address asset, uint256 supplyCap, uint256 borrowCap) external onlyOwner {
        ReserveConfig storage config = _listedConfig(asset);
        config.supplyCap = supplyCap;
        config.borrowCap = borrowCap;
        emit CapsSet(asset, supplyCap, borrowCap);
    }

    /// @notice Points `asset` at another price feed (any AggregatorV3Interface: push, spot, TWAP).
    function setOracle(address asset, address oracle) external onlyOwner {
        if (oracle == address(0)) revert ZeroAddress();
        _setOracle(_listedConfig(asset), oracle);
        emit OracleSet(asset, oracle);
    }

    /// @notice Oracle answers older than `seconds_` are refused; 0 disables the check.
    function setMaxOracleAge(uint256 seconds_) external onlyOwner {
        maxOracleAgeS = seconds_;
        emit MaxOracleAgeSet(seconds_);
    }

    /// @notice Stops (or resumes) every user action, liquidations included.
    function setPaused(bool paused_) external onlyOwner {
        paused = paused_;
        emit PausedSet(paused_);
    }

    // ================================================================== user actions

    /// @notice Supplies `amount` of `asset` (pulled from the caller) as collateral of `onBehalfOf`.
    function supply(address asset, uint256 amount, address onBehalfOf) external nonReentrant whenNotPaused {
        ReserveConfig storage config = _listedConfig(asset);
        if (amount == 0) revert ZeroAmount();
        if (onBehalfOf == address(0)) revert ZeroAddress();
        ReserveState storage state = _accrue(asset);
        uint256 suppliedAfter = _totalSupplied(state) + amount;
        if (config.supplyCap != 0 && suppliedAfter > config.supplyCap) {
            revert SupplyCapExceeded(asset, suppliedAfter, config.supplyCap);
        }
        uint256 scaled = Math.mulDiv(amount, RAY, state.liquidityIndexRay); // down: against the supplier
        if (scaled == 0) revert ZeroAmount(); // too small to credit anything
        _scaledCollateral[onBehalfOf][asset] += scaled;
        state.totalScaledSupply += scaled;
        state.cash += amount;
        _updateRates(asset);
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        emit Supply(asset, msg.sender, onBehalfOf, amount);
    }

    /// @notice Withdraws `amount` (type(uint256).max: all) of the caller's `asset` to `to`; the
    ///         caller's health factor must stay ≥ 1.
    /// @return withdrawn The amount sent.
    function withdraw(address asset, uint256 amount, address to)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 withdrawn)
    {
        _listedConfig(asset);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        ReserveState storage state = _accrue(asset);
        uint256 balance = _collateralBalance(msg.sender, asset, state.liquidityIndexRay);
        withdrawn = amount == type(uint256).max ? balance : amount;
        if (withdrawn > balance) revert InsufficientCollateral(asset, withdrawn, balance);
        if (withdrawn > state.cash) revert InsufficientLiquidity(asset, withdrawn, state.cash);
        uint256 scaled = withdrawn == balance
            ? _scaledCollateral[msg.sender][asset]
            : Math.mulDiv(withdrawn, RAY, state.liquidityIndexRay, Math.Rounding.Ceil); // up: against the user
        _scaledCollateral[msg.sender][asset] -= scaled;
        state.totalScaledSupply -= scaled;
        state.cash -= withdrawn;
        _updateRates(asset);
        AccountData memory account = _accountData(msg.sender, _noQuotes());
        if (account.healthFactorWad < WAD) revert HealthFactorBelowOne(account.healthFactorWad);
        IERC20(asset).safeTransfer(to, withdrawn);
        emit Withdraw(asset, msg.sender, to, withdrawn);
    }

    /// @notice Borrows `amount` of `asset` to the caller. Afterwards the caller's debt must be at
    ///         most Σ collateral × price × LTV and the health factor at least 1.
    function borrow(address asset, uint256 amount) external nonReentrant whenNotPaused {
        ReserveConfig storage config = _listedConfig(asset);
        if (!config.borrowingEnabled) revert BorrowingNotEnabled(asset);
        if (amount == 0) revert ZeroAmount();
        ReserveState storage state = _accrue(asset);
        if (amount > state.cash) revert InsufficientLiquidity(asset, amount, state.cash);
        uint256 debtAfter = _totalDebt(state) + amount;
        if (config.borrowCap != 0 && debtAfter > config.borrowCap) {
            revert BorrowCapExceeded(asset, debtAfter, config.borrowCap);
        }
        uint256 scaled = Math.mulDiv(amount, RAY, state.borrowIndexRay, Math.Rounding.Ceil); // up: against the user
        _scaledDebt[msg.sender][asset] += scaled;
        state.totalScaledDebt += scaled;
        state.cash -= amount;
        _updateRates(asset);
        AccountData memory account = _accountData(msg.sender, _noQuotes());
        uint256 maxDebtBase = account.ltvWeightedBase / BPS;
        if (account.debtBase > maxDebtBase) revert BorrowExceedsLtv(account.debtBase, maxDebtBase);
        if (account.healthFactorWad < WAD) revert HealthFactorBelowOne(account.healthFactorWad);
        IERC20(asset).safeTransfer(msg.sender, amount);
        emit Borrow(asset, msg.sender, amount, state.borrowRateRay);
    }

    /// @notice Repays up to `amount` (type(uint256).max: all) of `onBehalfOf`'s `asset` debt with the
    ///         caller's tokens. More than the debt repays the debt.
    /// @return repaid The amount pulled from the caller.
    function repay(address asset, uint256 amount, address onBehalfOf)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 repaid)
    {
        _listedConfig(asset);
        if (amount == 0) revert ZeroAmount();
        ReserveState storage state = _accrue(asset);
        uint256 debt = _debtBalance(onBehalfOf, asset, state.borrowIndexRay);
        if (debt == 0) revert NoDebt(onBehalfOf, asset);
        repaid = Math.min(amount, debt);
        _burnDebt(onBehalfOf, asset, state, repaid, debt);
        state.cash += repaid;
        _updateRates(asset);
        IERC20(asset).safeTransferFrom(msg.sender, address(this), repaid);
        emit Repay(asset, onBehalfOf, msg.sender, repaid);
    }

    /// @notice Repays part or all of an unhealthy (HF < 1) account's `debtAsset` debt and takes its
    ///         `collateralAsset` at a bonus. Aave v3's signature (and selector).
    /// @param debtToCover Most debt to repay; type(uint256).max = as much as the rules allow.
    /// @param receiveAToken True: the seized collateral (fee excluded) is credited to the caller as
    ///        a supply claim in the collateral reserve; no token leaves the pool and no idle cash
    ///        is needed. False: the tokens are sent, which needs that much idle cash.
    /// @dev Amounts by LiquidationMath under `liquidationRules`: the close factor, the collateral
    ///      seized and the protocol fee, and (v3.3) the dust rule. The fee is credited to the
    ///      treasury as a supply claim either way. ROUNDING: the user's scaled collateral is burned
    ///      rounded up, the liquidator's and the treasury's credits round down, so no claim is
    ///      created; the wei of difference stays with the reserve's suppliers. (Aave moves aTokens
    ///      with `rayDiv`, half-up, debiting what it credits: at most a scaled wei per amount apart.)
    ///      A credited claim is collateral of its holder at once, as every supply here; Aave
    ///      enables a liquidator's new aTokens as collateral only if it held none before.
    ///      WHO ABSORBS A LOSS: if the account is left with no collateral and still owes, all its
    ///      remaining debt is written off into the reserves' deficits (`DeficitCreated`), borne by
    ///      those reserves' suppliers until covered.
    function liquidationCall(
        address collateralAsset,
        address debtAsset,
        address user,
        uint256 debtToCover,
        bool receiveAToken
    ) external nonReentrant whenNotPaused {
        LiquidationVars memory vars = _liquidationAmounts(collateralAsset, debtAsset, user, debtToCover);
        ReserveState storage debtState = _states[debtAsset];
        _burnDebt(user, debtAsset, debtState, vars.debtRepaid, vars.position.userDebt);
        debtState.cash += vars.debtRepaid;
        uint256 toLiquidator = vars.collateralSeized - vars.protocolFee;
        _seizeCollateral(collateralAsset, user, vars, receiveAToken);
        _updateRates(debtAsset);
        if (collateralAsset != debtAsset) _updateRates(collateralAsset);
        if (!_hasCollateral(user)) _writeOffDebt(user);

        IERC20(debtAsset).safeTransferFrom(msg.sender, address(this), vars.debtRepaid);
        if (!receiveAToken) IERC20(collateralAsset).safeTransfer(msg.sender, toLiquidator);
        if (vars.protocolFee > 0) emit LiquidationProtocolFeePaid(collateralAsset, user, vars.protocolFee);
        emit LiquidationCall(collateralAsset, debtAsset, user, vars.debtRepaid, toLiquidator, msg.sender, receiveAToken);
    }

    // ================================================================== views

    /// @notice Aave's account summary: collateral and debt in USD (8 decimals), borrowing power
    ///         left, the collateral-weighted liquidation threshold and LTV (bps), and the health
    ///         factor (WAD; type(uint256).max with no debt).
    function getUserAccountData(address user)
        external
        view
        returns (
            uint256 totalCollateralBase,
            uint256 totalDebtBase,
            uint256 availableBorrowsBase,
            uint256 currentLiquidationThreshold,
            uint256 ltv,
            uint256 healthFactor
        )
    {
        AccountData memory account = _accountData(user, _noQuotes());
        uint256 maxDebtBase = account.ltvWeightedBase / BPS;
        totalCollateralBase = account.collateralBase;
        totalDebtBase = account.debtBase;
        availableBorrowsBase = maxDebtBase > account.debtBase ? maxDebtBase - account.debtBase : 0;
        if (account.collateralBase > 0) {
            currentLiquidationThreshold = account.thresholdWeightedBase / account.collateralBase;
            ltv = account.ltvWeightedBase / account.collateralBase;
        }
        healthFactor = account.healthFactorWad;
    }

    /// @notice The health factor of `user` (WAD; type(uint256).max with no debt).
    function healthFactorOf(address user) external view returns (uint256) {
        return _accountData(user, _noQuotes()).healthFactorWad;
    }

    /// @notice For each of `users`: collateral and debt in every listed reserve (native units,
    ///         interest included; index `i * reserves + j` is users[i] in `getReservesList()[j]`)
    ///         and the health factor (WAD; type(uint256).max with no debt), the values of
    ///         `getUserReserve` and `healthFactorOf`, with each reserve's indexes and prices read
    ///         once for all users.
    /// @dev For batched readers; reverts like `healthFactorOf` on a bad price of a reserve in use.
    function accountsOf(address[] calldata users)
        external
        view
        returns (uint256[] memory collateral, uint256[] memory debt, uint256[] memory healthFactorWad)
    {
        uint256 width = _reservesList.length;
        ReserveQuote[] memory quotes = new ReserveQuote[](width);
        collateral = new uint256[](users.length * width);
        debt = new uint256[](users.length * width);
        healthFactorWad = new uint256[](users.length);
        for (uint256 i = 0; i < users.length; ++i) {
            for (uint256 j = 0; j < width; ++j) {
                address asset = _reservesList[j];
                if (_scaledCollateral[users[i]][asset] == 0 && _scaledDebt[users[i]][asset] == 0) continue;
                ReserveQuote memory q = _quoteIndexes(asset, quotes[j]);
                collateral[i * width + j] = _collateralBalance(users[i], asset, q.liquidityIndex);
                debt[i * width + j] = _debtBalance(users[i], asset, q.borrowIndex);
            }
            healthFactorWad[i] = _accountData(users[i], quotes).healthFactorWad;
        }
    }

    /// @notice `user`'s scaled collateral and scaled debt in `asset` (balance = scaled × index / RAY).
    function getUserScaledReserve(address user, address asset)
        external
        view
        returns (uint256 scaledCollateral, uint256 scaledDebt)
    {
        return (_scaledCollateral[user][asset], _scaledDebt[user][asset]);
    }

    /// @notice The sums of every account's scaled collateral and scaled debt in `asset`.
    function getReserveScaledTotals(address asset)
        external
        view
        returns (uint256 totalScaledSupply, uint256 totalScaledDebt)
    {
        return (_states[asset].totalScaledSupply, _states[asset].totalScaledDebt);
    }

    /// @notice `user`'s supplied collateral and debt in `asset`, in native units, interest included.
    function getUserReserve(address user, address asset) external view returns (uint256 collateral, uint256 debt) {
        (uint256 liquidityIndex, uint256 borrowIndex) = _currentIndexes(asset);
        return (_collateralBalance(user, asset, liquidityIndex), _debtBalance(user, asset, borrowIndex));
    }

    /// @notice Debt of `asset` written off as bad debt, in native units.
    function getReserveDeficit(address asset) external view returns (uint256) {
        return _states[asset].deficit;
    }

    /// @notice Totals of a reserve now (native units), its utilization (WAD) and yearly rates (RAY).
    function getReserveData(address asset)
        external
        view
        returns (
            uint256 totalSupplied,
            uint256 totalDebt,
            uint256 cash,
            uint256 deficit,
            uint256 utilizationWad,
            uint256 liquidityRateRay,
            uint256 borrowRateRay
        )
    {
        ReserveState storage state = _states[asset];
        (uint256 liquidityIndex, uint256 borrowIndex) = _currentIndexes(asset);
        totalSupplied = Math.mulDiv(state.totalScaledSupply, liquidityIndex, RAY);
        totalDebt = Math.mulDiv(state.totalScaledDebt, borrowIndex, RAY, Math.Rounding.Ceil);
        cash = state.cash;
        deficit = state.deficit;
        utilizationWad = InterestRateMath.utilizationRay(totalDebt, cash) / 1e9;
        liquidityRateRay = state.liquidityRateRay;
        borrowRateRay = state.borrowRateRay;
    }

    /// @notice The supply and borrow indexes (RAY) as of now, pending interest included.
    function getReserveIndexes(address asset) external view returns (uint256 liquidityIndexRay, uint256 borrowIndexRay) {
        return _currentIndexes(asset);
    }

    /// @notice The configuration of a reserve, every parameter in its stored unit.
    function getReserveConfig(address asset) external view returns (ReserveConfig memory) {
        return _configs[asset];
    }

    /// @notice The listed assets, in listing order.
    function getReservesList() external view returns (address[] memory) {
        return _reservesList;
    }

    /// @notice The price of `asset` the pool uses now: USD with 8 decimals, validated.
    function getAssetPrice(address asset) external view returns (uint256) {
        return _price(asset, false);
    }

    // ================================================================== internals: state

    function _listedConfig(address asset) internal view returns (ReserveConfig storage config) {
        config = _configs[asset];
        if (!config.listed) revert ReserveNotListed(asset);
    }

    function _checkRiskParameters(uint16 ltvBps, uint16 thresholdBps, uint16 bonusBps) internal pure {
        bool valid = ltvBps <= thresholdBps && bonusBps >= BPS && uint256(thresholdBps) * bonusBps <= BPS * BPS;
        if (!valid) revert InvalidRiskParameters(ltvBps, thresholdBps, bonusBps);
    }

    function _setOracle(ReserveConfig storage config, address oracle) internal {
        config.oracle = oracle;
        config.oracleUnit = 10 ** AggregatorV3Interface(oracle).decimals();
    }

    /// @dev Brings the indexes of `asset` to now at the rates set by the last action.
    function _accrue(address asset) internal returns (ReserveState storage state) {
        state = _states[asset];
        if (state.lastUpdateS == block.timestamp) return state;
        (state.liquidityIndexRay, state.borrowIndexRay) = _currentIndexes(asset);
        state.lastUpdateS = uint40(block.timestamp);
    }

    /// @dev Sets the rates for the next period from the utilization after an action (as Aave).
    function _updateRates(address asset) internal {
        ReserveConfig storage config = _configs[asset];
        ReserveState storage state = _states[asset];
        uint256 totalDebt = _totalDebt(state);
        uint256 utilization = InterestRateMath.utilizationRay(totalDebt, state.cash);
        uint256 borrowRate = config.optimalUtilizationBps == 0
            ? 0
            : InterestRateMath.borrowRateRay(
                utilization, config.baseRateBps, config.slope1Bps, config.slope2Bps, config.optimalUtilizationBps
            );
        state.borrowRateRay = borrowRate;
        state.liquidityRateRay = InterestRateMath.liquidityRateRay(borrowRate, totalDebt, _totalSupplied(state));
        emit ReserveDataUpdated(
            asset, state.liquidityRateRay, borrowRate, state.liquidityIndexRay, state.borrowIndexRay
        );
    }

    /// @dev The indexes as of now. As in Aave, the debt index only grows while there is debt.
    function _currentIndexes(address asset) internal view returns (uint256 liquidityIndex, uint256 borrowIndex) {
        ReserveState storage state = _states[asset];
        uint256 elapsed = block.timestamp - state.lastUpdateS;
        liquidityIndex =
            Math.mulDiv(state.liquidityIndexRay, InterestRateMath.linearGrowthRay(state.liquidityRateRay, elapsed), RAY);
        borrowIndex = state.totalScaledDebt == 0
            ? state.borrowIndexRay
            : Math.mulDiv(state.borrowIndexRay, InterestRateMath.compoundedGrowthRay(state.borrowRateRay, elapsed), RAY);
    }

    function _totalSupplied(ReserveState storage state) internal view returns (uint256) {
        return Math.mulDiv(state.totalScaledSupply, state.liquidityIndexRay, RAY);
    }

    function _totalDebt(ReserveState storage state) internal view returns (uint256) {
        return Math.mulDiv(state.totalScaledDebt, state.borrowIndexRay, RAY, Math.Rounding.Ceil);
    }

    function _collateralBalance(address user, address asset, uint256 liquidityIndex) internal view returns (uint256) {
        return Math.mulDiv(_scaledCollateral[user][asset], liquidityIndex, RAY); // down: against the user
    }

    function _debtBalance(address user, address asset, uint256 borrowIndex) internal view returns (uint256) {
        return Math.mulDiv(_scaledDebt[user][asset], borrowIndex, RAY, Math.Rounding.Ceil); // up: against the user
    }

    /// @dev Burns `amount` of `user`'s debt (all of the scaled debt when `amount` is the whole `debt`).
    function _burnDebt(address user, address asset, ReserveState storage state, uint256 amount, uint256 debt)
        internal
    {
        uint256 scaled = amount == debt
            ? _scaledDebt[user][asset]
            : Math.mulDiv(amount, RAY, state.borrowIndexRay); // down: against the user
        _scaledDebt[user][asset] -= scaled;
        state.totalScaledDebt -= scaled;
    }

    /// @dev Burns `amount` of `user`'s collateral (all of it when `amount` is the whole `balance`).
    function _burnCollateral(address user, address asset, ReserveState storage state, uint256 amount, uint256 balance)
        internal
    {
        uint256 scaled = amount == balance
            ? _scaledCollateral[user][asset]
            : Math.mulDiv(amount, RAY, state.liquidityIndexRay, Math.Rounding.Ceil); // up: against the user
        _scaledCollateral[user][asset] -= scaled;
        state.totalScaledSupply -= scaled;
    }

    /// @dev Credits `to` with a supply claim of `amount` (scaled rounded down: nothing created).
    function _creditCollateral(address to, address asset, ReserveState storage state, uint256 amount) internal {
        uint256 scaled = Math.mulDiv(amount, RAY, state.liquidityIndexRay);
        _scaledCollateral[to][asset] += scaled;
        state.totalScaledSupply += scaled;
    }

    function _hasCollateral(address user) internal view returns (bool) {
        uint256 count = _reservesList.length;
        for (uint256 i = 0; i < count; ++i) {
            address asset = _reservesList[i];
            if (_scaledCollateral[user][asset] != 0 && _configs[asset].liquidationThresholdBps != 0) return true;
        }
        return false;
    }

    /// @dev Aave v3.3: an account with debt and no collateral left has all its debt written off.
    function _writeOffDebt(address user) internal {
        uint256 count = _reservesList.length;
        for (uint256 i = 0; i < count; ++i) {
            address asset = _reservesList[i];
            uint256 scaled = _scaledDebt[user][asset];
            if (scaled == 0) continue;
            ReserveState storage state = _accrue(asset);
            uint256 debt = _debtBalance(user, asset, state.borrowIndexRay);
            _scaledDebt[user][asset] = 0;
            state.totalScaledDebt -= scaled;
            state.deficit += debt;
            _updateRates(asset);
            emit DeficitCreated(user, asset, debt);
        }
    }

    // ================================================================== internals: liquidation

    /// @dev Validates a liquidation and computes its amounts (all reserves' indexes brought to now).
    function _liquidationAmounts(address collateralAsset, address debtAsset, address user, uint256 debtToCover)
        internal
        returns (LiquidationVars memory vars)
    {
        ReserveConfig storage collateralConfig = _listedConfig(collateralAsset);
        _listedConfig(debtAsset);
        if (debtToCover == 0) revert ZeroAmount();
        ReserveState storage collateralState = _accrue(collateralAsset);
        ReserveState storage debtState = _accrue(debtAsset);

        LiquidationMath.Position memory position = vars.position;
        position.healthFactorWad = _accountData(user, _noQuotes()).healthFactorWad;
        if (position.healthFactorWad >= WAD) revert HealthFactorNotBelowThreshold(position.healthFactorWad);
        position.userCollateral = _collateralBalance(user, collateralAsset, collateralState.liquidityIndexRay);
        if (position.userCollateral == 0 || collateralConfig.liquidationThresholdBps == 0) {
            revert NoCollateralToSeize(user, collateralAsset);
        }
        position.userDebt = _debtBalance(user, debtAsset, debtState.borrowIndexRay);
        if (position.userDebt == 0) revert NoDebt(user, debtAsset);
        position.closeFactorBps = closeFactorBps;
        position.fullLiquidationHealthFactorWad = fullLiquidationHealthFactorWad;

        LiquidationMath.Prices memory prices = _liquidationPrices(collateralAsset, debtAsset);
        LiquidationRules rules = liquidationRules;
        uint256 debtToLiquidate = Math.min(debtToCover, LiquidationMath.maxDebtToLiquidate(rules, position, prices));
        (vars.collateralSeized, vars.debtRepaid, vars.protocolFee) = LiquidationMath.seize(
            debtToLiquidate,
            position.userCollateral,
            prices,
            collateralConfig.liquidationBonusBps,
            collateralConfig.liquidationProtocolFeeBps
        );
        if (rules == LiquidationRules.V3_3) {
            LiquidationMath.checkDust(position, vars.debtRepaid, vars.collateralSeized, prices);
        }
    }

    /// @dev Burns the seized collateral from `user` (scaled, rounded up) and credits the fee to the
    ///      treasury and, with `receiveAToken`, the rest to the caller as supply claims (rounded
    ///      down); otherwise the rest leaves the reserve's cash (sent by the caller of this).
    function _seizeCollateral(address asset, address user, LiquidationVars memory vars, bool receiveAToken)
        internal
    {
        ReserveState storage state = _states[asset];
        uint256 toLiquidator = vars.collateralSeized - vars.protocolFee;
        if (!receiveAToken && toLiquidator > state.cash) {
            revert InsufficientLiquidity(asset, toLiquidator, state.cash);
        }
        _burnCollateral(user, asset, state, vars.collateralSeized, vars.position.userCollateral);
        if (vars.protocolFee > 0) _creditCollateral(treasury, asset, state, vars.protocolFee);
        if (receiveAToken) _creditCollateral(msg.sender, asset, state, toLiquidator);
        else state.cash -= toLiquidator;
    }

    // ================================================================== internals: prices and health

    /// @dev The validated price of `asset` in USD with 8 decimals, rescaled from the oracle's
    ///      decimals rounding down (collateral) or up (debt): against the user.
    function _price(address asset, bool roundUp) internal view returns (uint256 price) {
        ReserveConfig storage config = _configs[asset];
        (, int256 answer,, uint256 updatedAt,) = AggregatorV3Interface(config.oracle).latestRoundData();
        if (answer <= 0) revert InvalidPrice(asset, answer);
        uint256 maxAge = maxOracleAgeS;
        if (maxAge != 0 && updatedAt < block.timestamp && block.timestamp - updatedAt > maxAge) {
            revert StalePrice(asset, updatedAt, maxAge);
        }
        price = Math.mulDiv(uint256(answer), BASE_UNIT, config.oracleUnit, roundUp ? Math.Rounding.Ceil : Math.Rounding.Floor);
        if (price == 0) revert InvalidPrice(asset, answer); // below 1e-8 USD: not usable
    }

    function _liquidationPrices(address collateralAsset, address debtAsset)
        internal
        view
        returns (LiquidationMath.Prices memory prices)
    {
        prices.debtPrice = _price(debtAsset, false);
        prices.debtUnit = _configs[debtAsset].assetUnit;
        prices.collateralPrice = _price(collateralAsset, false);
        prices.collateralUnit = _configs[collateralAsset].assetUnit;
    }

    /// @dev Σ over the user's reserves. Collateral values round down, debt values up, the health
    ///      factor down: all against the user.
    function _noQuotes() internal view returns (ReserveQuote[] memory) {
        return new ReserveQuote[](_reservesList.length);
    }

    /// @dev `q` with the reserve's current indexes read (once).
    function _quoteIndexes(address asset, ReserveQuote memory q) internal view returns (ReserveQuote memory) {
        if (!q.indexesRead) {
            (q.liquidityIndex, q.borrowIndex) = _currentIndexes(asset);
            q.indexesRead = true;
        }
        return q;
    }

    /// @dev `user`'s totals; `quotes` (one per listed reserve) carries indexes and prices already
    ///      read in this call and keeps those read here.
    function _accountData(address user, ReserveQuote[] memory quotes) internal view returns (AccountData memory account) {
        uint256 count = _reservesList.length;
        for (uint256 i = 0; i < count; ++i) {
            address asset = _reservesList[i];
            uint256 scaledCollateral = _scaledCollateral[user][asset];
            uint256 scaledDebt = _scaledDebt[user][asset];
            if (scaledCollateral == 0 && scaledDebt == 0) continue;
            ReserveConfig storage config = _configs[asset];
            ReserveQuote memory q = _quoteIndexes(asset, quotes[i]);
            if (scaledCollateral != 0 && config.liquidationThresholdBps != 0) {
                if (q.collateralPrice == 0) q.collateralPrice = _price(asset, false);
                uint256 value = Math.mulDiv(_collateralBalance(user, asset, q.liquidityIndex), q.collateralPrice, config.assetUnit);
                account.collateralBase += value;
                account.ltvWeightedBase += value * config.ltvBps;
                account.thresholdWeightedBase += value * config.liquidationThresholdBps;
            }
            if (scaledDebt != 0) {
                if (q.debtPrice == 0) q.debtPrice = _price(asset, true);
                account.debtBase +=
                    Math.mulDiv(_debtBalance(user, asset, q.borrowIndex), q.debtPrice, config.assetUnit, Math.Rounding.Ceil);
            }
        }
        account.healthFactorWad = account.debtBase == 0
            ? type(uint256).max
            : Math.mulDiv(account.thresholdWeightedBase, WAD, account.debtBase * BPS);
    }
}
