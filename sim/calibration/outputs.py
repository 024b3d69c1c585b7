"""``calibration.json``: a run's figures scored against its scenario's targets, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.calibration.metrics import RunTables
from sim.calibration.score import score_run
from sim.calibration.targets import load_targets
from sim.files import write_atomic

CALIBRATION_FILE = "calibration.json"


def write_calibration(directory: Path, targets_file: str, tables: RunTables) -> dict[str, Any]:
    """Score the run against ``targets_file`` and write ``calibration.json`` into ``directory``;
    the scored dict (:func:`~sim.calibration.score.score_values`, with ``targets_file``)."""
    scored = {**score_run(load_targets(targets_file), tables), "targets_file": targets_file}
    write_atomic(Path(directory) / CALIBRATION_FILE, (json.dumps(scored, indent=2) + "\n").encode())
    return scored
