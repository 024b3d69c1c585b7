"""The set-up block's order: every population spread evenly, so longs and shorts alternate."""

from dataclasses import dataclass

from sim.model.ordering import spread_populations


@dataclass
class Member:
    agent_id: str


def ids(agents):
    return [a.agent_id for a in agents]


def test_equal_populations_alternate_member_by_member():
    whales = [Member(f"whale-1-{i}") for i in range(3)]
    makers = [Member(f"mm-1-{i}") for i in range(3)]
    assert ids(spread_populations(whales + makers)) == ["whale-1-0", "mm-1-0", "whale-1-1", "mm-1-1", "whale-1-2", "mm-1-2"]


def test_a_population_of_two_sits_at_a_quarter_and_three_quarters_of_four():
    # whales at (j + ½) / 4 = 0.125, 0.375, 0.625, 0.875; makers at 0.25 and 0.75
    whales = [Member(f"whale-0-{i}") for i in range(4)]
    makers = [Member(f"mm-0-{i}") for i in range(2)]
    assert ids(spread_populations(whales + makers)) == [
        "whale-0-0", "mm-0-0", "whale-0-1", "whale-0-2", "mm-0-1", "whale-0-3",
    ]


def test_entries_of_one_kind_are_separate_populations_and_every_member_stays():
    members = [Member("whale-0-0"), Member("whale-0-1"), Member("whale-1-0"), Member("noise-0-0")]
    out = spread_populations(members)
    assert sorted(ids(out)) == sorted(ids(members))
    # whale-1-0 and noise-0-0 (one member each, at ½) come after whale-0-0 (¼), before whale-0-1 (¾)
    assert ids(out) == ["whale-0-0", "whale-1-0", "noise-0-0", "whale-0-1"]
