"""The tests' own statement of the lending rules (Aave v3.0–3.2, and v3.3: deficit, close factor,
dust), on integers."""

BPS = 10_000
WAD = 10**18
RAY = 10**27
USD = 10**8
SECONDS_PER_YEAR = 365 * 24 * 3600


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def collateral_value(amount: int, price: int, decimals: int) -> int:
    """USD (8 decimals) of a collateral amount, rounded down (against the user)."""
    return amount * price // 10**decimals


def debt_value(amount: int, price: int, decimals: int) -> int:
    """USD (8 decimals) of a debt amount, rounded up (against the user)."""
    return ceil_div(amount * price, 10**decimals)


def health_factor(collaterals, debts) -> int:
    """HF = Σ collateral × price × LT / Σ debt × price, in WAD, rounded down.
    collaterals: [(amount, price, decimals, lt_bps)], debts: [(amount, price, decimals)]."""
    debt = sum(debt_value(a, p, d) for a, p, d in debts)
    if debt == 0:
        return 2**256 - 1
    weighted = sum(collateral_value(a, p, d) * lt for a, p, d, lt in collaterals)
    return weighted * WAD // (debt * BPS)


def liquidation(debt_to_cover, user_collateral, debt_price, debt_decimals, collateral_price, collateral_decimals, bonus_bps, fee_bps):
    """(collateral seized, debt repaid, protocol fee) by the rules in the LendingPool issue."""
    debt_unit, collateral_unit = 10**debt_decimals, 10**collateral_decimals
    max_collateral = debt_to_cover * debt_price * collateral_unit * bonus_bps // (collateral_price * debt_unit * BPS)
    if max_collateral > user_collateral:
        seized = user_collateral
        repaid = ceil_div(user_collateral * collateral_price * debt_unit * BPS, debt_price * collateral_unit * bonus_bps)
    else:
        seized, repaid = max_collateral, debt_to_cover
    bonus_part = seized - seized * BPS // bonus_bps
    fee = ceil_div(bonus_part * fee_bps, BPS)
    return seized, repaid, fee


V3_0, V3_3 = 0, 1  # LiquidationRules
FULL_LIQUIDATION_HF = 95 * WAD // 100
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2_000 * USD
MIN_LEFTOVER_BASE = 1_000 * USD


def base_value(amount: int, price: int, decimals: int) -> int:
    """USD (8 decimals) as Aave v3.3's close-factor and dust checks value an amount: rounded down."""
    return amount * price // 10**decimals


def max_debt_to_liquidate(rules, user_debt, user_collateral, hf, debt_price, debt_decimals, collateral_price, collateral_decimals,
                          close_factor_bps=5_000, full_liquidation_hf=FULL_LIQUIDATION_HF):
    """V3_0: the close factor while HF > 0.95, all of the debt at or below (Aave v3.0.2).
    V3_3: all of the debt unless the pair's collateral and debt are each worth >= $2,000 and HF > 0.95."""
    capped = hf > full_liquidation_hf
    if rules == V3_3:
        capped = capped and base_value(user_collateral, collateral_price, collateral_decimals) >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
        capped = capped and base_value(user_debt, debt_price, debt_decimals) >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
    return user_debt * close_factor_bps // BPS if capped else user_debt


def dust_left(user_debt, repaid, user_collateral, seized, debt_price, debt_decimals, collateral_price, collateral_decimals):
    """V3_3: None when the liquidation may proceed, else (debtLeftBase, collateralLeftBase) of the
    MustNotLeaveDust revert. `seized` includes the protocol fee."""
    if repaid >= user_debt or seized >= user_collateral:
        return None
    debt_left = base_value(user_debt - repaid, debt_price, debt_decimals)
    collateral_left = base_value(user_collateral - seized, collateral_price, collateral_decimals)
    if debt_left < MIN_LEFTOVER_BASE or collateral_left < MIN_LEFTOVER_BASE:
        return debt_left, collateral_left
    return None


def borrow_rate(utilization_ray, base_bps, slope1_bps, slope2_bps, optimal_bps):
    to_ray = RAY // BPS
    optimal = optimal_bps * to_ray
    if utilization_ray <= optimal:
        return base_bps * to_ray + slope1_bps * to_ray * utilization_ray // optimal
    return base_bps * to_ray + slope1_bps * to_ray + slope2_bps * to_ray * (utilization_ray - optimal) // (RAY - optimal)


def linear_growth(rate_ray, seconds):
    return RAY + rate_ray * seconds // SECONDS_PER_YEAR


def compounded_growth(rate_ray, seconds):
    """(1 + r/year)^t to the third binomial term, as Aave v3."""
    if seconds == 0:
        return RAY
    r2 = rate_ray * rate_ray // RAY // SECONDS_PER_YEAR**2
    r3 = r2 * rate_ray // RAY // SECONDS_PER_YEAR
    t = seconds
    return RAY + rate_ray * t // SECONDS_PER_YEAR + t * (t - 1) * r2 // 2 + t * (t - 1) * max(t - 2, 0) * r3 // 6
