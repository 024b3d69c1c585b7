"""A run's outputs: the three tables, the typed summary, and the files they are written to."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.calibration.metrics import RunTables
from sim.calibration.outputs import CALIBRATION_FILE, write_calibration
from sim.calibration.targets import TargetsError
from sim.files import write_atomic
from sim.model.model import CascadeModel
from sim.record import AgentKind, Summary
from sim.record.expect import EXPECT_FILE, check
from sim.record.metrics import (
    block_space_figures,
    depth_figures,
    fund_figures,
    lending_debt_figures,
    liquidation_figures,
    market_maker_delta_figures,
    pnl_by_type,
    price_figures,
)
from sim.record.schema import TABLES, table_file
from sim.record.summary import AgentFigures, BlockSpaceFigures, MarketFigures, MarketMakerFigures, PnlFigures, ShockBlocks

SUMMARY_FILE = "summary.json"


@dataclass
class RunResult:
    """What ``run_cascade`` returns: the output directory, the tables, and the summary both typed
    (``figures``) and as written to ``summary.json`` (``summary``, a dict)."""

    out_dir: Path
    figures: Summary
    timeseries: pd.DataFrame
    events: pd.DataFrame
    agents: pd.DataFrame
    expectations: list[dict[str, Any]] = field(default_factory=list)  # expect.json: the scenario's expect, checked
    calibration: dict[str, Any] | None = None  # calibration.json: the run scored against the scenario's targets
    summary: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.summary = self.figures.to_dict()


def build_summary(
    model: CascadeModel, timeseries: pd.DataFrame, events: pd.DataFrame, agents: pd.DataFrame, wall_s: float,
    status: str, **outcome: Any,
) -> Summary:
    """The run's headline figures, from the tables and what the model counted."""
    s = model.scenario
    crash = s.shock.crash
    liquidations = liquidation_figures(events) if not events.empty or "kind" in events else None
    return Summary(
        scenario=s.name,
        seed=s.seed,
        blocks=model.block,
        block_time_s=s.block_time_s,
        backend=model.session.backend_name,
        tx_count=model.session.tx_count,
        failed_tx_count=model.recorder.failed_tx if model.recorder else 0,
        wall_s=round(wall_s, 3),
        shock=ShockBlocks(crash.start_block if crash else None, crash.start_block + crash.duration_blocks if crash else None),
        block_space=_block_space(model, events),
        liquidations=liquidations,
        markets=_market_figures(model, timeseries) if not timeseries.empty else None,
        agents=_agent_figures(model, timeseries, agents, liquidations) if not agents.empty else None,
        status=status,
        **outcome,
    )


def _block_space(model: CascadeModel, events: pd.DataFrame) -> BlockSpaceFigures:
    r = model.recorder
    if r is None:
        return BlockSpaceFigures(0, 0, 0, None, 0)
    return block_space_figures(events, r.blocks_at_gas_limit, r.txs_delayed, r.max_inclusion_delay_blocks, r.mempool_txs)


def _market_figures(model: CascadeModel, timeseries: pd.DataFrame) -> MarketFigures:
    fund, bad_debt = fund_figures(timeseries)
    debt, share = lending_debt_figures(timeseries, bad_debt)
    drawdown, amplification = price_figures(timeseries, model.scenario.volatile_assets)
    return MarketFigures(fund, bad_debt, debt, share, drawdown, amplification, depth_figures(timeseries, [p.asset for p in model.scenario.pools]))


def _agent_figures(model: CascadeModel, timeseries: pd.DataFrame, agents: pd.DataFrame, liquidations: Any) -> AgentFigures:
    crash = model.scenario.shock.crash
    before_shock = max(crash.start_block - 1, 0) if crash else model.block
    first_adl = liquidations.adl.first_block if liquidations is not None else None
    market_makers = MarketMakerFigures(
        pnl_usd=pnl_by_type(agents, AgentKind.MARKET_MAKER),
        net_delta=market_maker_delta_figures(timeseries, before_shock, first_adl) if not timeseries.empty else None,
        hedge_failures=sum(mm.hedge_failures for mm in model.market_makers),
        withdrew_liquidity=sum(1 for mm in model.market_makers if mm.withdrew_at_block is not None),
    )
    return AgentFigures(
        market_makers=market_makers,
        whales=PnlFigures(pnl_by_type(agents, AgentKind.WHALE)),
        liquidators=PnlFigures(pnl_by_type(agents, AgentKind.LIQUIDATOR)),
        arbitrageurs=PnlFigures(pnl_by_type(agents, AgentKind.ARBITRAGEUR)),
        traders=PnlFigures(pnl_by_type(agents, AgentKind.TRADER)),
    )


def output_names() -> frozenset[str]:
    """Every file a run writes into its output directory."""
    from sim.report import PLOT_FILES, REPORT_FILE

    return frozenset({table_file(name) for name in TABLES} | {SUMMARY_FILE, EXPECT_FILE, CALIBRATION_FILE, REPORT_FILE, *PLOT_FILES})


def write_outputs(directory: Path, model: CascadeModel, wall_s: float, status: str, out_dir: Path, report: bool = True,
                  **outcome: Any) -> RunResult:
    """Finish the tables the recorder streamed into ``directory`` (a run's staging directory) and
    write the summary and (with ``report``) the report beside them. ``out_dir`` is where they will be."""
    if model.recorder is not None:
        timeseries, events, agents = model.recorder.finish()
    else:  # the run stopped before anything was recorded
        timeseries, events, agents = pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
        for name in TABLES:
            pd.DataFrame().to_parquet(directory / table_file(name), index=False)
    result = RunResult(out_dir, build_summary(model, timeseries, events, agents, wall_s, status, **outcome),
                       timeseries, events, agents)
    write_atomic(directory / SUMMARY_FILE, (json.dumps(result.summary, indent=2) + "\n").encode())
    if model.scenario.expect:
        result.expectations = check(model.scenario.expectations(), [result.summary])
        write_atomic(directory / EXPECT_FILE, (json.dumps(result.expectations, indent=2) + "\n").encode())
    if model.scenario.calibration:
        try:
            result.calibration = write_calibration(directory, model.scenario.calibration,
                                                   RunTables(result.summary, events, timeseries, agents))
        except TargetsError as error:  # checked before the run: the file changed since; the run's outputs stand
            print(f"warning: no {CALIBRATION_FILE}: {error}", file=sys.stderr)
    if report and not timeseries.empty:
        from sim.report import write_report  # matplotlib is only needed here

        write_report(directory, timeseries, events, agents, result.summary, result.calibration)
    return result
