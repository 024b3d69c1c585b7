"""sim.report: the HTML report and its plots, from small synthetic run tables (no chain needed)."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd
import pytest

from sim.report import PLOT_FILES, REPORT_FILE, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVENT_COLUMNS = [
    "block", "timestamp_s", "tx_hash", "log_index", "kind", "venue", "account", "agent_id", "agent_type",
    "side", "asset", "counterparty", "counterparty_type", "notional_usd", "size",
]
NAN = math.nan


def _timeseries(n_blocks: int = 30, block_time_s: int = 12, first_block: int = 100) -> pd.DataFrame:
    """BTC has a pool, a reserve and a perp market and crashes mid-run; USDC is a plain reserve."""
    rows = []
    for i in range(n_blocks):
        block, time_s = first_block + i, i * block_time_s
        btc = 100_000.0 * (1.0 - 0.3 * max(0, min(i - 10, 10)) / 10)
        common = {"block": block, "timestamp_s": 1_760_000_000 + time_s, "time_s": time_s,
                  "insurance_fund_usd": max(0.0, 1_000_000.0 - 80_000.0 * max(0, i - 12)),
                  "perp_bad_debt_usd": 25_000.0 * max(0, i - 25)}
        rows.append({**common, "asset": "BTC", "external_price_usd": btc, "amm_price_usd": btc * 0.97,
                     "oracle_price_usd": btc * 0.98, "mark_price_usd": btc * 0.96, "index_price_usd": btc,
                     "pool_depth_usd": 5_000_000.0 - 100_000.0 * i, "lending_supplied_usd": 2e7,
                     "lending_debt_usd": 1e7, "lending_deficit_usd": 0.0, "open_interest_long_usd": 3e6,
                     "open_interest_short_usd": 2.5e6, "funding_cumulative_usd_per_base": 0.01 * i})
        rows.append({**common, "asset": "USDC", "external_price_usd": 1.0, "amm_price_usd": NAN,
                     "oracle_price_usd": 1.0, "mark_price_usd": NAN, "index_price_usd": NAN,
                     "pool_depth_usd": NAN, "lending_supplied_usd": 3e7, "lending_debt_usd": 2e7,
                     "lending_deficit_usd": 0.0, "open_interest_long_usd": NAN, "open_interest_short_usd": NAN,
                     "funding_cumulative_usd_per_base": NAN})
    return pd.DataFrame(rows)


def _event(block: int, kind: str, venue: str, side: str, notional: float, agent_type: str = "whale") -> dict:
    return {"block": block, "timestamp_s": 1_760_000_000 + (block - 100) * 12, "tx_hash": "0x" + f"{block:064x}",
            "log_index": 0, "kind": kind, "venue": venue, "account": "0x" + "ab" * 20, "agent_id": f"{agent_type}-1",
            "agent_type": agent_type, "side": side, "asset": "BTC", "counterparty": "0x" + "cd" * 20,
            "counterparty_type": "liquidator", "notional_usd": notional, "size": notional / 80_000.0}


def _events() -> pd.DataFrame:
    rows = [
        _event(112, "lending_liquidation", "lending", "long", 1_234_567.0),
        _event(114, "lending_liquidation", "lending", "long", 250_000.0),
        _event(113, "perp_liquidation", "perp", "long", 2_000_000.0),
        _event(115, "perp_liquidation", "perp", "short", 90_000.0, agent_type="market_maker"),
        _event(124, "adl_fill", "perp", "short", 400_000.0, agent_type="market_maker"),
        _event(124, "adl_fill", "perp", "short", 100_000.0, agent_type="market_maker"),
        _event(126, "perp_bad_debt", "perp", "long", 25_000.0),
        _event(127, "lending_deficit", "lending", "long", 5_000.0),
    ]
    rows += [_event(116 + i % 5, "perp_liquidation", "perp", "long", 1_000.0 + i) for i in range(25)]
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def _agents() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"agent_id": "whale-1", "agent_type": "whale", "address": "0x" + "ab" * 20,
             "start_equity_usd": 5e6, "end_equity_usd": 3e6, "pnl_usd": -2e6},
            {"agent_id": "mm-1", "agent_type": "market_maker", "address": "0x" + "01" * 20,
             "start_equity_usd": 2e6, "end_equity_usd": 2.1e6, "pnl_usd": 1e5},
            {"agent_id": "mm-2", "agent_type": "market_maker", "address": "0x" + "02" * 20,
             "start_equity_usd": 2e6, "end_equity_usd": 1.95e6, "pnl_usd": -5e4},
            {"agent_id": "liq-1", "agent_type": "liquidator", "address": "0x" + "cd" * 20,
             "start_equity_usd": 1e6, "end_equity_usd": 1.3e6, "pnl_usd": 3e5},
        ]
    )


def _full_summary() -> dict:
    return {
        "scenario": "oct-10 replay",
        "seed": 7,
        "blocks": 30,
        "tx_count": 4321,
        "wall_s": 12.5,
        "block_time_s": 12,
        "liquidations_usd": {"lending": 1_484_567.0, "perp": 2_117_300.0, "total": 3_601_867.0},
        "liquidation_count": {"lending": 2, "perp": 27},
        "perp_liquidations_long_share": 0.963,
        "bad_debt_usd": {"lending_deficit": 5_000.0, "perp_uncovered": 25_000.0, "total": 30_000.0},
        "insurance_fund_usd": {"start": 1_000_000.0, "min": 0.0, "end": 0.0},
        "insurance_fund_exhausted_block": 125,
        "adl": {"events": 2, "notional_usd": 500_000.0, "first_block": 124},
        "drawdown": {"BTC": {"external": 0.3, "amm": 0.32, "oracle": 0.31, "mark": None}},
        "cascade_amplification": {"BTC": 1.07},
        "amm_depth_usd": {"BTC/USDC": {"start": 5_000_000.0, "min": 2_100_000.0}},
        "market_makers": {"pnl_usd": 50_000.0, "net_delta_usd_before_shock": -12_000.0, "net_delta_usd_end": None},
        "whales": {"pnl_usd": -2_000_000.0},
        "liquidators": {"pnl_usd": 300_000.0},
        "shock": {"start_block": 110, "end_block": 120},
    }


def _assert_report_files(out_dir: pathlib.Path, report: pathlib.Path) -> str:
    assert report == out_dir / REPORT_FILE
    assert report.is_file()
    page = report.read_text(encoding="utf-8")
    for name in PLOT_FILES:
        assert f'src="{name}"' in page
        assert (out_dir / name).read_bytes()[:8] == PNG_MAGIC, name
    assert not [p.name for p in out_dir.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    return page


def test_full_report(tmp_path: pathlib.Path) -> None:
    out_dir = tmp_path / "run"  # does not exist yet
    page = _assert_report_files(out_dir, write_report(out_dir, _timeseries(), _events(), _agents(), _full_summary()))
    assert "oct-10 replay" in page
    assert "$1,234,567" in page  # the largest lending liquidation, in the events table
    assert "$3,601,867" in page  # total liquidations, in the headline table
    assert "96.3%" in page and "1.07×" in page
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([REPORT_FILE, *PLOT_FILES])
    # the events table holds the 20 largest, not all 33
    events_section = page.split("Largest events", 1)[1]
    assert events_section.count("<tr>") == 1 + 20


def test_empty_events_none_values_and_escaping(tmp_path: pathlib.Path) -> None:
    summary = {
        "scenario": '<script>alert("x")</script> & co',
        "seed": None,
        "blocks": 30,
        "liquidations_usd": None,
        "liquidation_count": {"lending": None, "perp": 0},
        "insurance_fund_usd": {"start": None, "min": float("nan"), "end": None},
        "insurance_fund_exhausted_block": None,
        "adl": {"events": 0, "notional_usd": 0.0, "first_block": None},
        "drawdown": {"BTC": {"external": None, "amm": None, "oracle": None, "mark": None}},
        "cascade_amplification": {"BTC": None},
        "shock": None,
    }
    events = pd.DataFrame(columns=EVENT_COLUMNS)
    page = _assert_report_files(tmp_path, write_report(tmp_path, _timeseries(), events, _agents(), summary))
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "—" in page
    assert "No events were recorded" in page


def test_minimal_inputs(tmp_path: pathlib.Path) -> None:
    """Empty tables and an empty summary still give a complete report."""
    empty_ts = _timeseries().iloc[0:0]
    agents = pd.DataFrame(columns=["agent_id", "agent_type", "address", "start_equity_usd", "end_equity_usd",
                                   "pnl_usd"])
    page = _assert_report_files(tmp_path, write_report(tmp_path, empty_ts, pd.DataFrame(columns=EVENT_COLUMNS),
                                                       agents, {}))
    assert "Headline figures" in page


def test_rewrite_replaces_files(tmp_path: pathlib.Path) -> None:
    summary = _full_summary()
    write_report(tmp_path, _timeseries(), _events(), _agents(), summary)
    summary["scenario"] = "second run"
    page = write_report(tmp_path, _timeseries(), _events(), _agents(), summary).read_text(encoding="utf-8")
    assert "second run" in page and "oct-10 replay" not in page


@pytest.mark.parametrize("shock", [{"start_block": 110, "end_block": None}, {"start_block": 90, "end_block": 200}])
def test_open_or_out_of_range_shock(tmp_path: pathlib.Path, shock: dict) -> None:
    summary = {**_full_summary(), "shock": shock}
    _assert_report_files(tmp_path, write_report(tmp_path, _timeseries(), _events(), _agents(), summary))


def test_nan_notional_events_sort_last(tmp_path: pathlib.Path) -> None:
    events = _events()
    events.loc[0, "notional_usd"] = np.nan
    page = write_report(tmp_path, _timeseries(), events, _agents(), _full_summary()).read_text(encoding="utf-8")
    assert "$2,000,000" in page.split("Largest events", 1)[1]
