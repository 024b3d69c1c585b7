"""Calibration end to end: a tiny run on revm whose scenario names targets writes
``calibration.json`` beside its summary and a Calibration section in its report, a failed run
still writes it, and ``ape run cascade`` prints the score (or exits 2 naming a bad targets file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_cascade_run import TINY

from sim.model import RunFailed, run_cascade
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
APE = Path(sys.executable).with_name("ape")
TARGETS = [
    {"name": "alt_pool_drawdown", "metric": "pool_drawdown", "asset": "ALT", "value": 0.4, "tolerance": 0.1, "source": "test"},
    {"name": "long_share", "metric": "perp_liquidations_long_share", "value": 0.9, "tolerance": 0.05, "source": "test"},
    {"name": "adl_share", "metric": "adl_to_perp_liquidation_notional", "value": 0.38, "tolerance_factor": 2,
     "weight": 0.5, "source": "test"},
]


@pytest.fixture
def targets_file(tmp_path) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"targets": TARGETS}))
    return path


def test_a_run_writes_its_calibration_and_the_report_shows_it(tmp_path, targets_file):
    run = run_cascade(parse_scenario({**TINY, "calibration": str(targets_file)}), tmp_path / "out", progress=False,
                      backend="revm")
    written = json.loads((run.out_dir / "calibration.json").read_text())
    assert written == json.loads(json.dumps(run.calibration))
    assert written["targets_file"] == str(targets_file.resolve()) and written["target_count"] == len(TARGETS)
    alt = pd.read_parquet(run.out_dir / "timeseries.parquet").query("asset == 'ALT'")["amm_price_usd"].to_numpy()
    drawdown = float(np.max(1 - alt / np.maximum.accumulate(alt)))  # the largest fall from a peak, by the rule
    rows = {row["name"]: row for row in written["targets"]}
    assert rows["alt_pool_drawdown"]["sim"] == pytest.approx(drawdown)
    error = abs(drawdown - 0.4) / 0.1
    assert rows["alt_pool_drawdown"]["points"] == pytest.approx(1 / (1 + error**2))
    weights = [t.get("weight", 1.0) for t in TARGETS]
    expected = sum(w * rows[t["name"]]["points"] for w, t in zip(weights, TARGETS)) / sum(weights)
    assert written["score"] == pytest.approx(expected)
    page = (run.out_dir / "report.html").read_text()
    assert "<h2>Calibration</h2>" in page and "alt_pool_drawdown (pool_drawdown, ALT)" in page
    assert f"Score {written['score']:.3f}" in page


def test_a_failed_run_still_writes_its_calibration(tmp_path, targets_file, monkeypatch):
    from sim.agents.whale import Whale

    def breaks(self, ctx):
        raise RuntimeError("whale bot crashed")

    monkeypatch.setattr(Whale, "step", breaks)
    with pytest.raises(RunFailed):
        run_cascade(parse_scenario({**TINY, "calibration": str(targets_file)}), tmp_path / "out", progress=False)
    written = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "failed"
    assert written["target_count"] == len(TARGETS) and 0.0 <= written["score"] <= 1.0


def cascade(scenario: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(APE), "run", "cascade", "--scenario", str(scenario), "--out", str(out), "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_cli_prints_the_score_and_exits_2_for_a_bad_targets_file(tmp_path, targets_file):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({**TINY, "calibration": targets_file.name}))  # beside the scenario
    result = cascade(good, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out" / "calibration.json").read_text())
    line = (f"calibration: score {written['score']:.2f}, {written['within']} of {len(TARGETS)} targets within tolerance "
            f"({(tmp_path / 'out' / 'calibration.json').resolve()})")
    assert line in result.stdout
    bad_targets = tmp_path / "bad.yaml"
    bad_targets.write_text(yaml.safe_dump({"targets": [{**TARGETS[0], "tolerance_factor": 2}]}))
    bad = tmp_path / "bad-scenario.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "calibration": bad_targets.name}))
    result = cascade(bad, tmp_path / "never")
    assert result.returncode == 2
    assert "calibration:" in result.stderr and "targets[0]" in result.stderr and "exactly one of tolerance" in result.stderr
    assert not (tmp_path / "never").exists()
