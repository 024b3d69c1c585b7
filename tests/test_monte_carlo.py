"""Many seeds of one scenario over worker processes (sim/tools/monte_carlo.py): each path is a
whole run, written apart, and equal to the same seed run on its own."""

import json

import pandas as pd
from test_cascade_run import TINY

from sim.model import run_cascade
from sim.scenario import parse_scenario
from sim.tools.monte_carlo import run_paths, seeded


def test_each_path_is_its_seeds_run_and_the_paths_table_lists_them(tmp_path, monkeypatch):
    from sim.model.model import CascadeModel

    original = CascadeModel.step
    broken_seed = TINY["seed"] + 2

    def breaks_one_seed(self):
        if self.scenario.seed == broken_seed and self.block == 3:
            raise RuntimeError("a bad path")
        return original(self)

    monkeypatch.setattr(CascadeModel, "step", breaks_one_seed)  # the workers are forked: they inherit it
    scenario = parse_scenario(TINY, "tiny")
    result = run_paths(scenario, runs=3, workers=2, out_dir=tmp_path / "paths", progress=False)
    paths = pd.read_parquet(tmp_path / "paths" / "paths.parquet")
    assert list(paths["seed"]) == [TINY["seed"], TINY["seed"] + 1, broken_seed]
    assert list(paths["status"]) == ["completed", "completed", "failed"]
    assert "failed in block 4: RuntimeError: a bad path" in paths["error"].iloc[2]
    assert paths.equals(result["paths"]) and result["failed_runs"] == 1
    assert result["runs_per_min"] > 0 and result["workers"] == 2
    for seed in paths["seed"]:
        out = tmp_path / "paths" / f"seed-{seed}"
        assert {p.name for p in out.iterdir()} == {"timeseries.parquet", "events.parquet", "agents.parquet", "summary.json"}
    # a path run in a worker is the same run as that seed on its own, here
    alone = run_cascade(seeded(scenario, TINY["seed"] + 1), tmp_path / "alone", progress=False, report=False)
    in_worker = json.loads((tmp_path / "paths" / f"seed-{TINY['seed'] + 1}" / "summary.json").read_text())
    strip = lambda s: {k: v for k, v in s.items() if k != "wall_s"}  # noqa: E731
    assert strip(in_worker) == strip(alone.summary)
    row = paths.set_index("seed").loc[TINY["seed"] + 1]
    assert row["liquidated_usd"] == alone.summary["liquidations_usd"]["total"]
    assert in_worker["seed"] == TINY["seed"] + 1 and in_worker["scenario"] == f"tiny-seed{TINY['seed'] + 1}"
