"""Experiments: many runs of one scenario — a grid of overrides, seeds per cell — and the
statistics and expectations over them. Above the model (it runs scenarios), below the tools."""

from sim.experiment.spec import MAX_CELLS, Cell, Experiment, ExperimentError, check_runs, load_experiment

__all__ = ["Cell", "Experiment", "ExperimentError", "MAX_CELLS", "check_runs", "load_experiment"]
