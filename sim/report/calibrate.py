"""The report of ``ape run calibrate`` (``report.html`` beside ``trials.parquet``): the score of
every trial with the best so far, and the best trial's parameters and targets. Like the run
report: no network, no JavaScript, every file written atomically."""

from __future__ import annotations

import html
import pathlib
from typing import Any, Final, Mapping

import numpy as np
import pandas as pd

from sim.files import write_atomic
from sim.report.axes import new_figure, render_png
from sim.report.filenames import REPORT_FILE
from sim.report.html import CSS, table_html

SCORE_PNG: Final = "score_by_trial.png"
CALIBRATE_REPORT_FILES: Final = frozenset({REPORT_FILE, SCORE_PNG})


def score_figure(trials: pd.DataFrame):
    fig, axes = new_figure()
    ax = axes[0, 0]
    ordered = trials.sort_values("trial")
    ax.scatter(ordered["trial"], ordered["score_mean"], s=18, label="trial: mean score over its seeds")
    ax.step(ordered["trial"], np.maximum.accumulate(ordered["score_mean"].to_numpy()), where="post", color="C3",
            label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("score (0–1)")
    ax.set_ylim(0, 1)
    ax.set_title("Calibration score by trial")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def write_calibrate_report(out_dir: pathlib.Path, name: str, trials: pd.DataFrame, best: Mapping[str, Any]) -> pathlib.Path:
    """Write the score plot and ``report.html`` into ``out_dir``; the path of ``report.html``."""
    write_atomic(out_dir / SCORE_PNG, render_png(score_figure(trials)))
    params = table_html(("parameter", "value"), [(path, _number(value)) for path, value in best["set"].items()])
    targets = table_html(("target", "simulated (mean over seeds)", "real", "within"),
                         [(t, _number(row["sim"]), _number(row["real"]), "✓" if row["within"] else "✗")
                          for t, row in best["targets"].items()], numeric_columns={1, 2})
    e = html.escape
    page = "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>Calibration: {e(name)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>Calibration: {e(name)}</h1>",
        f"<p>{len(trials)} trials of {best['seeds']} seeds each. Best: trial {best['trial']}, mean score "
        f"{best['score_mean']:.3f} (lowest over its seeds {best['score_min']:.3f}); targets: {e(str(best['targets_file']))}.</p>",
        f'<figure><img src="{SCORE_PNG}" alt="score by trial"><figcaption>Each dot is a trial\'s mean score over its '
        "seeds (the same seeds for every trial); the red line is the best so far.</figcaption></figure>",
        "<h2>Best trial: parameters (best.yaml, set:)</h2>", params,
        "<h2>Best trial: targets</h2>", targets,
        "</body>", "</html>", "",
    ])
    write_atomic(out_dir / REPORT_FILE, page.encode())
    return out_dir / REPORT_FILE
