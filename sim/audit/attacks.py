"""The attacks an audit can run: each a name, whether a scenario can host it (and why not), and the
scenario with its attacker at a given capital."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sim.scenario import Scenario
from sim.scenario.loading import parse_scenario


@dataclass(frozen=True)
class Attack:
    name: str
    summary: str
    problem: Callable[[Scenario, str], str | None]  # why the scenario cannot host it on this asset, or None
    strategy: str  # the attacker population's strategy

    def with_attacker(self, scenario: Scenario, asset: str, capital_usd: float, start_block: int) -> Scenario:
        """``scenario`` with one attacker of this strategy on ``asset`` holding ``capital_usd``."""
        data = scenario.model_dump(mode="python")
        data["agents"]["attackers"] = [{"count": 1, "strategy": self.strategy, "asset": asset, "capital_usd": float(capital_usd),
                                        "start_block": start_block, "gas_price_gwei": 1_000.0}]
        data["name"] = f"{scenario.name}-{self.name}"[:80]
        return parse_scenario(data, f"{scenario.name} with a {self.name} attacker")


def _spot_pump_problem(scenario: Scenario, asset: str) -> str | None:
    if scenario.pool_of(asset) is None:
        return f"no pool for {asset} to pump"
    reserve = scenario.reserve_of(asset)
    if reserve is None or reserve.ltv_bps == 0:
        return f"{asset} cannot be borrowed against (no reserve, or ltv_bps 0)"
    return None


ATTACKS: dict[str, Attack] = {
    "spot_pump": Attack("spot_pump", "buy the collateral in its pool, borrow at the pumped price, walk away",
                        _spot_pump_problem, "spot_pump"),
}
