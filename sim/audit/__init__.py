"""Manipulation audits: attacker agents run against a scenario's venues, the least capital that
makes each attack pay found by search, and a verdict per attack. Above the model and the
experiments (it runs scenarios), below the tools."""
