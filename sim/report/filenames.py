"""The names of the files a report directory holds: ``report.html`` and the PNG plots beside it."""

from __future__ import annotations

from typing import Final

REPORT_FILE: Final = "report.html"
PRICES_PNG: Final = "prices.png"
LIQUIDATIONS_PNG: Final = "liquidations.png"
INSURANCE_PNG: Final = "insurance_adl.png"
DEPTH_PNG: Final = "amm_depth.png"
PNL_PNG: Final = "pnl_by_agent_type.png"
PLOT_FILES: Final[tuple[str, ...]] = (PRICES_PNG, LIQUIDATIONS_PNG, INSURANCE_PNG, DEPTH_PNG, PNL_PNG)
