"""The tests' own statement of the perp rules: the virtual constant-product AMM, isolated-margin
prices, funding and the ADL score, on integers (WAD for sizes and prices, collateral units for
money; every rounding against the trader)."""

WAD = 10**18
BPS = 10_000


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def buy_base_with_quote(v_base, v_quote, quote_in):
    """Base out for quote in (a long opening); the new base reserve is rounded up."""
    new_quote = v_quote + quote_in
    new_base = ceil_div(v_base * v_quote, new_quote)
    return v_base - new_base, new_base, new_quote


def sell_base_for_quote(v_base, v_quote, quote_out):
    """Base in for quote out (a short opening)."""
    new_quote = v_quote - quote_out
    new_base = ceil_div(v_base * v_quote, new_quote)
    return new_base - v_base, new_base, new_quote


def sell_base(v_base, v_quote, base_in):
    """Quote out for base in (a long closing)."""
    new_base = v_base + base_in
    new_quote = ceil_div(v_base * v_quote, new_base)
    return v_quote - new_quote, new_base, new_quote


def buy_base(v_base, v_quote, base_out):
    """Quote in for base out (a short closing)."""
    new_base = v_base - base_out
    new_quote = ceil_div(v_base * v_quote, new_base)
    return new_quote - v_quote, new_base, new_quote


def to_collateral(quote_wad, unit, round_up=False):
    return ceil_div(quote_wad * unit, WAD) if round_up else quote_wad * unit // WAD


def fee(notional, fee_bps):
    return ceil_div(notional * fee_bps, BPS)


def liquidation_price(size, open_notional, margin, unit, mm_bps):
    """Long: (N − M) / (S (1 − mm)), rounded up; short: (N + M) / (S (1 + mm)), rounded down. WAD."""
    scale = WAD // unit
    n, m = open_notional * scale, margin * scale
    if size > 0:
        return max(0, ceil_div((n - m) * WAD * BPS, size * (BPS - mm_bps))) if n > m else 0
    return (n + m) * WAD * BPS // (-size * (BPS + mm_bps))


def bankruptcy_price(size, open_notional, margin, unit):
    return liquidation_price(size, open_notional, margin, unit, 0)


def unrealized_pnl(size, open_notional, price, unit):
    value = abs(size) * price // WAD
    if size > 0:
        return to_collateral(value, unit) - open_notional
    return open_notional - to_collateral(value, unit, round_up=True)


def adl_score(size, open_notional, margin, price, unit):
    """(max(0, uPnL) / margin) × (notional / (margin + uPnL)), WAD."""
    pnl = unrealized_pnl(size, open_notional, price, unit)
    if pnl <= 0 or margin <= 0:
        return 0
    notional = to_collateral(abs(size) * price // WAD, unit)
    return pnl * notional * WAD // (margin * (margin + pnl))


def funding_payment_per_base(mark, index, factor_wad, max_rate_wad):
    """clamp((mark − index) / index × factor, ±max) × index, each step truncated toward zero like Solidity."""
    def tdiv(a, b):
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b > 0) else -q

    premium = tdiv((mark - index) * WAD, index)
    rate = tdiv(premium * factor_wad, WAD)
    rate = max(-max_rate_wad, min(max_rate_wad, rate))
    return rate, tdiv(rate * index, WAD)


def product_to_collateral(a, b, unit, round_up):
    """|a × b| / WAD (both WAD) in collateral units, rounded once: funding amounts."""
    numerator = abs(a) * abs(b) * unit
    return ceil_div(numerator, WAD * WAD) if round_up else numerator // (WAD * WAD)


def funding_owed(size, cumulative_delta, unit):
    """What a position owes (> 0, rounded up) or is owed (< 0, rounded down) for a funding delta."""
    pays = (size > 0) == (cumulative_delta > 0)
    owed = product_to_collateral(size, cumulative_delta, unit, round_up=pays)
    return owed if pays else -owed
