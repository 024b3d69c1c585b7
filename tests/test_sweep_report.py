"""The sweep report's grid plot (sim/report/sweep.py): lines for one axis, a heatmap for two, one
heatmap per combination of the other axes for more, with values that can be told apart."""

import numpy as np
import pandas as pd

from sim.report.sweep import MAX_PANELS, RISK_MEASURES, _usd_label, grid_figure, write_sweep_report

A, B, C = "param:a", "param:b", "param:c"


def cells(**axes) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product(list(axes.values()), names=[f"param:{k}" for k in axes]).to_frame(index=False)
    grid.insert(0, "cell", range(len(grid)))
    for column, _ in RISK_MEASURES:
        grid[column] = np.arange(len(grid)) * 1_000.0
    return grid


def test_one_axis_draws_a_line_per_measure_over_its_values():
    fig = grid_figure(cells(a=[1, 2, 3]), [A])
    axes = fig.get_axes()
    assert len(axes) == len(RISK_MEASURES) and all(len(ax.get_lines()) == 1 for ax in axes)
    assert list(axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]


def test_two_axes_draw_a_heatmap_with_each_cells_value_written_in_it():
    fig = grid_figure(cells(a=[1, 2, 3], b=["x", "y"]), [A, B])
    heatmaps = [ax for ax in fig.get_axes() if ax.get_images()]
    assert len(heatmaps) == len(RISK_MEASURES)
    image = heatmaps[0].get_images()[0].get_array()
    assert image.shape == (2, 3) and image[1, 0] == 1_000.0 and image[0, 2] == 4_000.0  # rows: b, columns: a
    assert sorted(t.get_text() for t in heatmaps[0].texts) == sorted(["$0", "$1k", "$2k", "$3k", "$4k", "$5k"])


def test_more_axes_draw_a_heatmap_per_combination_of_the_others_up_to_a_limit():
    fig = grid_figure(cells(a=[1, 2], b=[3, 4], c=[5, 6]), [A, B, C])
    assert len([ax for ax in fig.get_axes() if ax.get_images()]) == 2 * len(RISK_MEASURES)
    many = grid_figure(cells(a=[1, 2], b=[3, 4], c=list(range(MAX_PANELS + 1))), [A, B, C])
    assert not any(ax.get_images() for ax in many.get_axes())  # too many panels: a line over the cells


def test_labels_carry_the_digits_that_tell_close_values_apart():
    label = _usd_label(np.array([25_290_000.0, 25_310_000.0]))
    assert label(25_290_000.0) != label(25_310_000.0)
    assert _usd_label(np.array([1_000.0, 9_000.0]))(1_000.0) == "$1k"


def test_the_page_names_the_failed_expectations_and_incomplete_cells(tmp_path):
    frame = cells(a=[1, 2])
    frame["runs"], frame["failed_runs"], frame["missing_runs"] = [4, 3], [0, 1], [0, 0]
    results = [{"cell": 1, A: 2, "expect": "bad_debt_usd.total.p99 <= 5", "value": 1000.0, "runs": 3, "passed": False},
               {"cell": 0, A: 1, "expect": "bad_debt_usd.total.p99 <= 5", "value": 0.0, "runs": 4, "passed": True}]
    page = write_sweep_report(tmp_path, "grid <test>", frame, [A], results, seeds=4).read_text()
    assert "grid &lt;test&gt;" in page and "1 of 2 expectations failed" in page
    assert "1 runs failed and 0 are missing" in page and "bad_debt_usd.total.p99 &lt;= 5" in page
    assert (tmp_path / "var_lar.png").stat().st_size > 5_000
