"""The tests' own statement of the perp rules: the virtual constant-product AMM, isolated-margin
prices, time-accrued funding, the median mark and its EMA, liquidation chunks, the loss waterfall
(liquidator fee, fund, ADL share) and the ADL score, on integers (WAD for sizes and prices,
collateral units for money; every rounding against the trader, Solidity's signed division
truncating toward zero)."""

from dataclasses import dataclass

WAD = 10**18
BPS = 10_000


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tdiv(a: int, b: int) -> int:
    """Solidity's signed division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def median3(a: int, b: int, c: int) -> int:
    return sorted((a, b, c))[1]


# ------------------------------------------------------------------ the vAMM


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


def vamm_price(v_base, v_quote):
    return v_quote * WAD // v_base


def to_collateral(quote_wad, unit, round_up=False):
    return ceil_div(quote_wad * unit, WAD) if round_up else quote_wad * unit // WAD


def notional_at(size, price, unit):
    """|size| × price in collateral units, rounded down."""
    return to_collateral(abs(size) * price // WAD, unit)


def fee(notional, fee_bps):
    """The trading fee: of the notional, rounded up."""
    return ceil_div(notional * fee_bps, BPS)


@dataclass
class Position:
    size: int = 0  # WAD, > 0 long
    margin: int = 0  # collateral units
    open_notional: int = 0  # collateral units


@dataclass
class Exit:
    """Closing `size` of a position against the vAMM, before it is applied."""

    size: int
    quote: int
    new_base: int
    new_quote: int
    notional: int
    open_part: int
    pnl: int

    @property
    def price(self):
        return self.quote * WAD // self.size


@dataclass
class Vamm:
    """The exchange's virtual reserves as the tests predict them, trade by trade."""

    base: int
    quote: int

    @property
    def price(self):
        return vamm_price(self.base, self.quote)

    def open(self, is_long, notional, unit, fee_bps=0, margin=None, position=None):
        """Opens (or adds to) a position of `notional` collateral; returns the position."""
        quote = notional * WAD // unit
        if is_long:
            size, self.base, self.quote = buy_base_with_quote(self.base, self.quote, quote)
        else:
            size, self.base, self.quote = sell_base_for_quote(self.base, self.quote, quote)
            size = -size
        p = position or Position()
        p.size += size
        p.margin += (margin or 0) - fee(notional, fee_bps)
        p.open_notional += notional
        return p

    def quote_exit(self, p: Position, size: int, unit: int) -> Exit:
        """PositionLogic.quoteExit: the closed share of the open notional rounds so the realized PnL
        is the lower one (up for a long, down for a short)."""
        whole = abs(p.size)
        if p.size > 0:
            open_part = ceil_div(p.open_notional * size, whole)
            quote, new_base, new_quote = sell_base(self.base, self.quote, size)
            notional = to_collateral(quote, unit)
            pnl = notional - open_part
        else:
            open_part = p.open_notional * size // whole
            quote, new_base, new_quote = buy_base(self.base, self.quote, size)
            notional = to_collateral(quote, unit, round_up=True)
            pnl = open_part - notional
        return Exit(size, quote, new_base, new_quote, notional, open_part, pnl)

    def apply(self, p: Position, e: Exit):
        self.base, self.quote = e.new_base, e.new_quote
        p.size += -e.size if p.size > 0 else e.size
        p.open_notional -= e.open_part


def reduce_payout(margin_left, exit_pnl, exit_notional, fee_bps, closing, size):
    """TradingLogic.reduce: equity = margin left + the closed part's PnL; the fee (rounded up,
    capped at the equity); a full close pays out the rest, a partial one its closed share (rounded
    down) and keeps the remainder as margin. Returns (payout, fee, margin kept)."""
    equity = margin_left + exit_pnl
    assert equity >= 0
    trade_fee = min(fee(exit_notional, fee_bps), equity)
    if closing == size:
        return equity - trade_fee, trade_fee, 0
    payout = (equity - trade_fee) * closing // size
    return payout, trade_fee, equity - trade_fee - payout


# ------------------------------------------------------------------ risk


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


def margin_ratio(size, open_notional, margin_left, price, unit):
    """(margin left + uPnL) / notional at the price (WAD); 0 when negative."""
    equity = margin_left + unrealized_pnl(size, open_notional, price, unit)
    notional = notional_at(size, price, unit)
    return 0 if equity <= 0 else equity * WAD // notional


def adl_score(size, open_notional, margin, price, unit):
    """(max(0, uPnL) / margin) × (notional / (margin + uPnL)), WAD."""
    pnl = unrealized_pnl(size, open_notional, price, unit)
    if pnl <= 0 or margin <= 0:
        return 0
    notional = to_collateral(abs(size) * price // WAD, unit)
    return pnl * notional * WAD // (margin * (margin + pnl))


# ------------------------------------------------------------------ funding and the mark


def funding_rate(vamm, index, factor_wad, max_rate_wad):
    """clamp((vAMM − index) / index × factor, ±max), each step truncated toward zero."""
    premium = tdiv((vamm - index) * WAD, index)
    rate = tdiv(premium * factor_wad, WAD)
    return max(-max_rate_wad, min(max_rate_wad, rate))


def funding_payment(rate, index, elapsed_s, interval_s):
    """Funding per unit of long base over `elapsed_s`: rate × index × elapsed / interval (WAD)."""
    return tdiv(rate * index * elapsed_s, WAD * interval_s)


def ema_step(ema, sample, elapsed_s, tau_s):
    """ema + (sample − ema) × elapsed / (elapsed + τ), truncated toward zero; no time, no change."""
    if elapsed_s == 0:
        return ema
    return ema + tdiv((sample - ema) * elapsed_s, elapsed_s + tau_s)


def median_mark(index, vamm, ema, last_rate):
    """median(index × (1 + last rate), index + EMA of the basis, vAMM), each floored at 0."""
    funding_price = max(0, index + tdiv(index * last_rate, WAD))
    return median3(funding_price, max(0, index + ema), vamm)


def product_to_collateral(a, b, unit, round_up):
    """|a × b| / WAD (both WAD) in collateral units, rounded once: funding amounts."""
    numerator = abs(a) * abs(b) * unit
    return ceil_div(numerator, WAD * WAD) if round_up else numerator // (WAD * WAD)


def funding_owed(size, cumulative_delta, unit):
    """What a position owes (> 0, rounded up) or is owed (< 0, rounded down) for a funding delta."""
    pays = (size > 0) == (cumulative_delta > 0)
    owed = product_to_collateral(size, cumulative_delta, unit, round_up=pays)
    return owed if pays else -owed


def fund_imbalance(long_base, short_base, payment, unit):
    """What the fund receives (> 0, rounded down) or pays (< 0, rounded up) for one payment."""
    net = long_base - short_base
    receives = (net > 0) == (payment > 0)
    amount = product_to_collateral(net, payment, unit, round_up=not receives)
    return amount if receives else -amount


# ------------------------------------------------------------------ liquidation


def chunk_size(size, open_notional, notional_now, partial_usdc, max_bps, min_position_usdc):
    """LiquidationLogic.chunkSize: the whole size at or below the partial threshold, else
    max_bps of it rounded up, unless that would leave less than the minimum open notional."""
    size = abs(size)
    if notional_now <= partial_usdc:
        return size
    chunk = ceil_div(size * max_bps, BPS)
    if chunk >= size:
        return size
    open_left = open_notional - ceil_div(open_notional * chunk, size)
    return size if open_left < min_position_usdc else chunk


def liquidation_fee_due(size, price, unit, fee_bps):
    """The liquidator's fee: fee_bps of the notional at the margin price, rounded down."""
    return notional_at(size, price, unit) * fee_bps // BPS


def fee_split(due, remaining, cap, fund):
    """(from the margin, from the fund): the margin's leftover after the exit pays first, then the
    fund up to the cap and what it holds."""
    from_margin = min(due, remaining) if remaining > 0 else 0
    from_fund = min(due - from_margin, cap, fund)
    return from_margin, from_fund


def adl_size(size, loss, fund):
    """The share φ = (loss − fund) / loss of the size placed with counterparties, rounded up."""
    return ceil_div(abs(size) * (loss - fund), loss)


def adl_fill_pnl(q: Position, size, price, unit):
    """A counterparty's realized PnL for `size` closed at the bankruptcy price, and its open part."""
    quote = size * price // WAD
    if q.size > 0:
        open_part = ceil_div(q.open_notional * size, abs(q.size))
        return to_collateral(quote, unit) - open_part, open_part
    open_part = q.open_notional * size // abs(q.size)
    return open_part - to_collateral(quote, unit, round_up=True), open_part
