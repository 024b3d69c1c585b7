"""The gas of an auto-deleveraging liquidation as the market fills with positions.

The exchange never scans its book: the liquidator ranks the opposite side off chain
(``positionsOf().adlScore``) and lists the counterparties; the contract checks each listed one and
fills them in falling score. So the gas of a liquidation should depend on the number of listed
counterparties, not on the number of positions in the market. `ape run adl_gas` measures it: one
10x long, then N small shorts from fresh addresses (opened cheaply, below), a whale short that
crashes the mark so the long is bankrupt with an empty insurance fund, and the liquidation with the
``listed`` best-ranked shorts. Each row is measured in a snapshot on the same book, which grows
between rows.

Opening thousands of positions one Ape transaction at a time takes minutes, so
:func:`open_positions` writes each new trader's token balance and allowance straight into the
token's storage (``anvil_setStorageAt``) and sends the ``openPosition`` calls as JSON-RPC batches
from impersonated addresses with automining off, then mines them in one block with a raised block
gas limit (restored afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from sim.tools.ape_deploy import deploy_feed, deploy_token
from sim.units import WAD, to_units

MARKET_ID = 0
V_BASE, V_QUOTE = 10_000_000 * WAD, 20_000_000 * WAD  # $20M of virtual quote at $2 (oct10's ALT)
BATCH = 500  # JSON-RPC requests per HTTP request
OPEN_GAS = 400_000  # gas allowed per openPosition (it uses ~200k)


@dataclass(frozen=True)
class AdlGasRow:
    positions: int  # positions in the market when the liquidation ran (the liquidated one included)
    listed: int  # counterparties the liquidator listed
    fills: int  # AutoDeleveraged events
    gas_used: int


class Rpc:
    """Raw JSON-RPC to the node, in batches."""

    def __init__(self, uri: str):
        self.uri = uri
        self.session = requests.Session()
        self.next_id = 0

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        results = []
        for start in range(0, len(calls), BATCH):
            body = []
            for method, params in calls[start : start + BATCH]:
                self.next_id += 1
                body.append({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
            replies = self.session.post(self.uri, json=body, timeout=600).json()
            replies = sorted(replies, key=lambda reply: reply["id"])
            for reply in replies:
                if "error" in reply:
                    raise RuntimeError(f"{reply['error']}")
                results.append(reply.get("result"))
        return results

    def call(self, method: str, *params: Any) -> Any:
        return self.batch([(method, list(params))])[0]


def trader_address(index: int) -> str:
    """A fresh address per trader, far from precompiles and from the node's dev accounts."""
    return to_checksum_address(f"0x{(0xAD1 << 148) | (index + 1):040x}")


def _mapping_slot(key: str, slot: int) -> bytes:
    return keccak(encode(["address", "uint256"], [key, slot]))


def _nested_slot(key: str, inner: str, slot: int) -> bytes:
    return keccak(encode(["address"], [inner]) + _mapping_slot(key, slot))


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _balance_slot(rpc: Rpc, token: Any, probe: str) -> int:
    """The storage slot of the token's balances mapping, found by writing a probe balance."""
    for slot in range(10):
        key = "0x" + _mapping_slot(probe, slot).hex()
        before = rpc.call("eth_getStorageAt", token.address, key, "latest")
        rpc.call("anvil_setStorageAt", token.address, key, _word(12345))
        found = token.balanceOf(probe) == 12345
        rpc.call("anvil_setStorageAt", token.address, key, before if len(before) == 66 else _word(int(before, 16)))
        if found:
            return slot
    raise RuntimeError("could not find the token's balances slot")


def open_positions(chain: Any, exchange: Any, token: Any, first: int, count: int, is_long: bool, margin: int, leverage_wad: int) -> list[str]:
    """Opens `count` positions of `margin` (collateral units) at `leverage_wad` from the fresh
    addresses `trader_address(first)`, ... in one block. Returns their addresses."""
    rpc = Rpc(chain.provider.uri)
    traders = [trader_address(first + i) for i in range(count)]
    balances = _balance_slot(rpc, token, traders[0])
    allowances = balances + 1  # OpenZeppelin ERC20: _balances, then _allowances
    writes = []
    for trader in traders:
        writes.append(("anvil_setStorageAt", [token.address, "0x" + _mapping_slot(trader, balances).hex(), _word(margin)]))
        writes.append(("anvil_setStorageAt", [token.address, "0x" + _nested_slot(trader, exchange.address, allowances).hex(), _word(margin)]))
        writes.append(("anvil_setBalance", [trader, hex(10**18)]))
    rpc.batch(writes)
    assert token.allowance(traders[0], exchange) == margin, "the allowance slot is not OpenZeppelin's layout"

    data = "0x" + bytes(exchange.openPosition.encode_input(MARKET_ID, is_long, margin, leverage_wad, 0)).hex()
    gas_limit = int(rpc.call("eth_getBlockByNumber", "latest", False)["gasLimit"], 16)
    rpc.call("anvil_autoImpersonateAccount", True)
    rpc.call("evm_setAutomine", False)
    try:
        rpc.call("evm_setBlockGasLimit", hex(max(gas_limit, OPEN_GAS * count + 10_000_000)))
        hashes = rpc.batch([
            ("eth_sendTransaction", [{"from": t, "to": exchange.address, "data": data, "gas": hex(OPEN_GAS), "gasPrice": "0x0"}])
            for t in traders
        ])
        rpc.call("evm_mine")
    finally:
        rpc.call("evm_setAutomine", True)
        rpc.call("anvil_autoImpersonateAccount", False)
        rpc.call("evm_setBlockGasLimit", hex(gas_limit))
        rpc.call("evm_mine")  # the latest block shows the usual limit again (Ape sizes transactions by it)
    receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
    failed = [t for t, r in zip(traders, receipts) if r is None or int(r["status"], 16) != 1]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} openPosition calls failed (first: {failed[0]})")
    return traders


def ranked_counterparties(exchange: Any, candidates: list[str], listed: int, bankruptcy_price_wad: int, unit: int) -> list[str]:
    """The `listed` candidates with the highest ADL score (`positionsOf`, read in chunks) among
    those the contract will fill: in profit at the margin price (score > 0) and at the liquidated
    position's bankruptcy price (a short's open notional above its size × that price)."""
    scored = []
    for start in range(0, len(candidates), BATCH):
        chunk = candidates[start : start + BATCH]
        view = exchange.positionsOf(MARKET_ID, chunk)
        for trader, score, size, open_notional in zip(chunk, view.adlScore, view.sizeBase, view.openNotional):
            value_at_bankruptcy = -(-abs(size) * bankruptcy_price_wad // WAD * unit // WAD)  # rounded up
            in_profit = open_notional > value_at_bankruptcy if size < 0 else value_at_bankruptcy > open_notional
            if score > 0 and in_profit:
                scored.append((score, trader))
    scored.sort(key=lambda row: -row[0])
    return [trader for _, trader in scored[:listed]]


class AdlGasBench:
    """One exchange whose book grows by `grow_to`; `measure` liquidates in a snapshot."""

    def __init__(self, accounts: Any, chain: Any, project: Any):
        self.chain = chain
        self.deployer, self.whale, self.long_trader, self.keeper = accounts[0], accounts[1], accounts[2], accounts[3]
        self.usdc = deploy_token(self.deployer, "USD Coin (sim)", "USDC", 6)
        feed = deploy_feed(self.deployer, "ALT / USD", 2)
        self.exchange = project.PerpExchange.deploy(self.usdc, sender=self.deployer)
        self.exchange.listMarket("ALT-PERP", feed, V_BASE, V_QUOTE, 1_000, 500, 100, 0, sender=self.deployer)
        self.shorts: list[str] = []
        self._open(self.long_trader, True, 20_000, 10)  # $200k long: bankrupt after the crash

    def _open(self, trader: Any, is_long: bool, margin_usd: int, leverage: int) -> None:
        margin = to_units(margin_usd, 6)
        self.usdc.mint(trader, margin, sender=self.deployer)
        self.usdc.approve(self.exchange, margin, sender=trader)
        self.exchange.openPosition(MARKET_ID, is_long, margin, leverage * WAD, 0, sender=trader)

    def grow_to(self, shorts: int) -> None:
        """Adds $100 × 5 shorts from fresh addresses until there are `shorts` of them."""
        new = shorts - len(self.shorts)
        if new > 0:
            self.shorts += open_positions(self.chain, self.exchange, self.usdc, len(self.shorts), new, False, to_units(100, 6), 5 * WAD)

    def measure(self, listed: int) -> AdlGasRow:
        """In a snapshot: the whale's crash, then the long's liquidation listing the `listed`
        best-ranked shorts. The long is larger than any `listed` shorts, so each listed one fills."""
        snapshot = self.chain.snapshot()
        try:
            self._open(self.whale, False, 2_000_000, 5)
            price = self.exchange.bankruptcyPrice(self.long_trader, MARKET_ID)
            ranked = ranked_counterparties(self.exchange, self.shorts, listed, price, 10**6)
            receipt = self.exchange.liquidate(self.long_trader, MARKET_ID, ranked, sender=self.keeper)
            fills = len(receipt.decode_logs(self.exchange.AutoDeleveraged))
            return AdlGasRow(positions=len(self.shorts) + 2, listed=len(ranked), fills=fills, gas_used=int(receipt.gas_used))
        finally:
            self.chain.restore(snapshot)


def measure_adl_gas(accounts: Any, chain: Any, project: Any, sizes: tuple[int, ...] = (10, 100, 1_000, 5_000), listed: int = 5) -> list[AdlGasRow]:
    """One row per book size (shorts in the market), on one growing book."""
    bench = AdlGasBench(accounts, chain, project)
    rows = []
    for shorts in sizes:
        bench.grow_to(shorts)
        rows.append(bench.measure(listed))
    return rows
