"""Experiments: many runs of one scenario — a grid of overrides, seeds per cell — and the
statistics and expectations over them. Above the model (it runs scenarios), below the tools."""

from sim.experiment.spec import MAX_CELLS, Cell, Experiment, load_experiment

__all__ = ["Cell", "Experiment", "MAX_CELLS", "load_experiment"]
