"""Trading on constant-product pools: our ConstantProductPool and real Uniswap V2 pairs alike.

The adapter speaks only the V2 pair interface (``token0``, ``getReserves``, ``swap`` and the
``Swap`` event), so an agent trades the same way on a local pool and on a mainnet pair in a fork.
The pool's own ``swapExactIn`` is used when it exists, because it checks the slippage limit and
pulls the input atomically in one transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.units import BPS

UNISWAP_V2_FEE_BPS = 30
MAX_UINT256 = 2**256 - 1


class SlippageError(RuntimeError):
    """The quoted output is below the trader's minimum; nothing was sent."""

    def __init__(self, amount_out: int, min_amount_out: int):
        super().__init__(f"quoted output {amount_out} is below the minimum {min_amount_out}")
        self.amount_out = amount_out
        self.min_amount_out = min_amount_out


def amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Uniswap V2's getAmountOut with the fee in basis points (rounded down)."""
    if amount_in <= 0:
        raise ValueError(f"amount_in must be positive, got {amount_in}")
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError(f"empty pool: reserves {reserve_in}, {reserve_out}")
    amount_in_after_fee = amount_in * (BPS - fee_bps)
    return amount_in_after_fee * reserve_out // (reserve_in * BPS + amount_in_after_fee)



def input_to_reach_price(reserve_in: int, reserve_out: int, target_out_num: int, target_out_den: int, fee_bps: int) -> int:
    """Input that moves the pool's price of the input token (``reserve_out / reserve_in``) down to
    ``target_out_num / target_out_den`` (0 if it is already there or below).

    Arbitrage sizing: the post-trade input reserve is sqrt(k / target), the fee grossed up."""
    if target_out_num <= 0 or reserve_in <= 0:
        return 0
    reserve_in_after = math.isqrt(reserve_in * reserve_out * target_out_den // target_out_num)
    if reserve_in_after <= reserve_in:
        return 0
    return (reserve_in_after - reserve_in) * BPS // (BPS - fee_bps)


def max_input_within_slippage(reserve_in: int, max_slippage_bps: int, fee_bps: int) -> int:
    """The largest input whose output, fee included, is at least ``1 − max_slippage`` of its value
    at the pre-trade spot price: x·(S − f)·B / ((B − f)(B − S)), 0 when the fee alone exceeds S."""
    if max_slippage_bps <= fee_bps or max_slippage_bps >= BPS:
        return 0
    return reserve_in * (max_slippage_bps - fee_bps) * BPS // ((BPS - fee_bps) * (BPS - max_slippage_bps))


@dataclass
class PoolAdapter:
    """One pool, seen as a V2 pair. Build with :meth:`from_contract`."""

    pool: Any
    token0: str
    token1: str
    fee_bps: int
    has_swap_exact_in: bool
    _approved: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @classmethod
    def from_contract(cls, pool: Any, fee_bps: int | None = None) -> "PoolAdapter":
        """Wrap an Ape contract instance. ``fee_bps`` is read from the pool when it has ``feeBps``;
        a plain V2 pair has no such getter and is taken at Uniswap V2's 30 bps unless told otherwise."""
        methods = {abi.name for abi in pool.contract_type.abi if getattr(abi, "type", None) == "function"}
        if fee_bps is None:
            fee_bps = int(pool.feeBps()) if "feeBps" in methods else UNISWAP_V2_FEE_BPS
        return cls(
            pool=pool,
            token0=str(pool.token0()),
            token1=str(pool.token1()),
            fee_bps=fee_bps,
            has_swap_exact_in="swapExactIn" in methods,
        )

    def reserves(self) -> tuple[int, int]:
        reserve0, reserve1, _ = self.pool.getReserves()
        return int(reserve0), int(reserve1)

    def is_token0(self, token: Any) -> bool:
        address = str(getattr(token, "address", token))
        if address == self.token0:
            return True
        if address == self.token1:
            return False
        raise ValueError(f"token {address} is not in pool {self.pool.address} ({self.token0}, {self.token1})")

    def quote(self, token_in: Any, amount_in: int) -> int:
        """Output of selling ``amount_in`` of ``token_in`` at the current reserves."""
        reserve0, reserve1 = self.reserves()
        if self.is_token0(token_in):
            return amount_out(amount_in, reserve0, reserve1, self.fee_bps)
        return amount_out(amount_in, reserve1, reserve0, self.fee_bps)

    def swap_exact_in(
        self, trader: Any, token_in: Any, amount_in: int, min_amount_out: int = 0, to: Any = None
    ) -> int:
        """Sell ``amount_in`` of ``token_in`` (an Ape contract) from ``trader``; returns the output.

        Raises :class:`SlippageError` before sending anything when the quote is zero or below the minimum.
        """
        recipient = to if to is not None else trader
        zero_for_one = self.is_token0(token_in)
        if self.has_swap_exact_in:
            self._ensure_allowance(trader, token_in)
            receipt = self.pool.swapExactIn(token_in, amount_in, min_amount_out, recipient, sender=trader)
        else:
            quoted = self.quote(token_in, amount_in)
            if quoted == 0 or quoted < min_amount_out:
                # Checked before the transfer: input sent to a pair whose swap then fails could be
                # skimmed by anyone.
                raise SlippageError(quoted, max(min_amount_out, 1))
            token_in.transfer(self.pool.address, amount_in, sender=trader)
            amount0_out, amount1_out = (0, quoted) if zero_for_one else (quoted, 0)
            receipt = self.pool.swap(amount0_out, amount1_out, recipient, b"", sender=trader)
        swap_event = next(iter(receipt.decode_logs(self.pool.Swap)))
        return int(swap_event.amount1Out if zero_for_one else swap_event.amount0Out)

    def _ensure_allowance(self, trader: Any, token: Any) -> None:
        key = (str(trader.address), str(token.address))
        if key in self._approved:
            return
        if int(token.allowance(trader, self.pool.address)) < MAX_UINT256 // 2:
            token.approve(self.pool.address, MAX_UINT256, sender=trader)
        self._approved.add(key)
