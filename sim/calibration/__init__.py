"""Calibration: targets measured on 10 October 2025, the run's figures they are compared with, and
the score of a run against them (``calibration.json``).

``targets`` reads and checks a targets file; ``metrics`` is the registry of the figures a target
may name, each computed from a run's tables; ``score`` compares them; ``outputs`` writes
``calibration.json``; ``search`` (``ape run calibrate``) looks for the parameters that score best.
Imports the record layer and below; never the agents or the model."""
