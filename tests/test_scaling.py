"""Scaling a scenario to N agents: the counts add up, every population keeps its capital, the bots
keep their number, and what cannot be scaled is refused. No node needed."""

from pathlib import Path

import pytest

from sim.scenario import LogNormal, Uniform, load_scenario
from sim.tools.scaling import GROWN, grown_counts, population_agents, scale_population, scaled_distribution

OCT10 = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "oct10.yaml")


def _capital_median(dist) -> float:
    if isinstance(dist, Uniform):
        return sum(dist.uniform) / 2
    if isinstance(dist, LogNormal):
        return dist.lognormal[0]
    return float(dist)


@pytest.mark.parametrize("counts, target", [([2, 4, 2, 4, 20], 96), ([1, 1, 1], 3), ([5], 1000), ([2, 4, 2, 4, 20], 9_992),
                                           ([2, 4, 300, 60, 60], 92)])  # shrinking: the small ones keep one each
def test_grown_counts_add_up_and_keep_the_mix(counts, target):
    grown = grown_counts(counts, target)
    assert sum(grown) == target
    assert all(g >= 1 for g in grown)
    floors = sum(1 for c in counts if c * target / sum(counts) < 1)  # members added to keep one each
    for c, g in zip(counts, grown):
        exact = c * target / sum(counts)
        assert abs(g - exact) < 1 + floors + 1e-9  # largest remainder: within one of exact, the floor's extras aside


def test_grown_counts_refuse_fewer_agents_than_populations():
    with pytest.raises(ValueError, match="cannot fill"):
        grown_counts([1, 2, 3], 2)


@pytest.mark.parametrize("agents", [100, 1_000, 10_000])
def test_scaled_oct10_has_the_agents_and_the_same_capital(agents):
    scaled = scale_population(OCT10, agents)
    assert population_agents(scaled) == agents
    assert scaled.name == f"oct10-x{agents}"
    for name in ("liquidators", "arbitrageurs"):  # the bots keep their number and capital
        assert getattr(scaled.agents, name) == getattr(OCT10.agents, name)
    for name in GROWN:
        grows = agents >= population_agents(OCT10)
        for before, after in zip(getattr(OCT10.agents, name), getattr(scaled.agents, name)):
            assert after.count >= before.count if grows else 1 <= after.count <= before.count
            total_before = before.count * _capital_median(before.capital_usd)
            total_after = after.count * _capital_median(after.capital_usd)
            assert total_after == pytest.approx(total_before, rel=1e-12)
    # the market is untouched
    assert scaled.pools == OCT10.pools and scaled.lending == OCT10.lending and scaled.perp == OCT10.perp
    assert scaled.seed == OCT10.seed and scaled.shock == OCT10.shock and scaled.blocks == OCT10.blocks


def test_blocks_can_be_shortened_but_not_before_the_crash():
    assert scale_population(OCT10, 100, blocks=120).blocks == 120
    with pytest.raises(ValueError, match=r"shock\.crash\.start_block"):
        scale_population(OCT10, 100, blocks=20)


def test_too_few_agents_for_the_bots_is_refused():
    with pytest.raises(ValueError, match="too few"):
        scale_population(OCT10, 10)


def test_scaled_distributions_keep_their_shape():
    assert scaled_distribution(2.0, 0.5) == 1.0
    assert scaled_distribution(Uniform(uniform=[10.0, 50.0]), 0.1) == {"uniform": [1.0, 5.0]}
    assert scaled_distribution(LogNormal(lognormal=[1000.0, 0.3]), 0.5) == {"lognormal": [500.0, 0.3]}
