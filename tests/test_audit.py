"""`ape run audit` (scripts/audit.py, sim/audit/): bad input exits 2 before anything runs, an attack
that pays exits 1 with its verdict, and the shipped configuration reads as a before/after: each
defence stops the attack it is for."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
APE = str(Path(sys.executable).with_name("ape"))
AUDITS = ROOT / "scenarios" / "audit"
CAPITAL = "10000000"  # below the $18M a wBETH pump needs: the twap defence then passes whole


def audit(scenario: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([APE, "run", "audit", "--scenario", str(scenario), "--out", str(out), "--no-progress", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("extra, message", [
    (("--attacks", "nope"), "unknown attack(s) 'nope'"),
    (("--max-capital-usd", "0"), "--max-capital-usd must be above 0"),
    (("--max-capital-usd", "-5"), "--max-capital-usd must be above 0"),
    (("--max-capital-usd", "inf"), "--max-capital-usd must be above 0"),
    (("--max-capital-usd", "2e12"), "--max-capital-usd must be above 0"),
    (("--set", "blocks=20"), "no attack can run on thin-pool-spot"),
    (("--set", "shock.random_walk=true"), "shock.random_walk: an audit needs a quiet market"),
    (("--set", "shock.crash={start_block: 14, duration_blocks: 10, size: {ALT: 0.3}}"), "shock.crash: an audit needs a quiet market"),
    (("--set", "blocks=abc"), "blocks"),
])
def test_bad_input_exits_2_and_runs_nothing(tmp_path, extra, message):
    done = audit(AUDITS / "thin-pool-spot.yaml", tmp_path / "out", *extra)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and not (tmp_path / "out").exists()


def test_an_attack_named_that_the_scenario_cannot_host_exits_2_with_the_reason(tmp_path):
    import yaml
    from test_cascade_run import TINY

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))  # no liquid staking token
    done = audit(tmp_path / "tiny.yaml", tmp_path / "out", "--attacks", "depeg", "--set", "shock.crash=null",
                 "--set", "shock.random_walk=false")
    assert done.returncode == 2 and "attack 'depeg' cannot run on tiny: ALT is no liquid staking token" in done.stderr


def verdicts(tmp_path: Path, name: str, attacks: str) -> tuple[subprocess.CompletedProcess, pd.DataFrame]:
    done = audit(AUDITS / f"{name}.yaml", tmp_path / name, "--attacks", attacks, "--max-capital-usd", CAPITAL)
    table = pd.read_csv(tmp_path / name / "verdicts.csv") if (tmp_path / name / "verdicts.csv").exists() else pd.DataFrame()
    return done, table


def verdict(table: pd.DataFrame, attack: str, asset: str) -> pd.Series:
    return table[(table["attack"] == attack) & (table["asset"] == asset)].iloc[0]


def test_a_pool_spot_oracle_pays_a_pump_and_a_twap_stops_it(tmp_path):
    done, before = verdicts(tmp_path, "thin-pool-spot", "spot_pump")
    assert done.returncode == 1, done.stderr  # an attack pays: an auditor's CI fails
    assert list(before.columns) == ["attack", "asset", "applicable", "reason", "vulnerable", "min_capital_usd",
                                    "max_profit_usd", "protocol_loss_usd", "victims", "blocks"]
    alt = verdict(before, "spot_pump", "ALT")
    assert alt["vulnerable"] and 0 < alt["min_capital_usd"] < 1_000_000 and alt["protocol_loss_usd"] > alt["max_profit_usd"] * 0.5
    assert "VULNERABLE from $" in done.stdout
    for name in ("report.html", "attack_pnl.png", "verdicts.parquet", "probes.parquet"):
        assert (tmp_path / "thin-pool-spot" / name).is_file()
    probes = pd.read_parquet(tmp_path / "thin-pool-spot" / "probes.parquet")
    assert (probes[probes["asset"] == "ALT"]["capital_usd"].max() == float(CAPITAL))  # the grid reaches the limit
    done, after = verdicts(tmp_path, "defence-twap-oracle", "spot_pump")
    assert not verdict(after, "spot_pump", "ALT")["vulnerable"]
    assert done.returncode == 0 and "does not pay within $10,000,000" in done.stdout


def test_a_median_mark_stops_the_mark_push(tmp_path):
    _, before = verdicts(tmp_path, "thin-pool-spot", "mark_push")
    _, after = verdicts(tmp_path, "defence-median-mark", "mark_push")
    pushed, defended = verdict(before, "mark_push", "ALT"), verdict(after, "mark_push", "ALT")
    assert pushed["vulnerable"] and pushed["victims"] > 0
    assert not defended["vulnerable"] and defended["victims"] == 0
    assert not verdict(before, "mark_push", "ETH")["applicable"]  # no ETH perp: listed with the reason


def test_an_interrupted_audit_exits_130_and_writes_nothing(tmp_path):
    import signal

    out = tmp_path / "out"
    process = subprocess.Popen([APE, "run", "audit", "--scenario", str(AUDITS / "thin-pool-spot.yaml"), "--out", str(out),
                                "--attacks", "spot_pump"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # the probes' progress: the search is under way
        if "of capital" in line:
            break
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    assert process.returncode == 130, process.stderr.read()
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))  # nothing half-written
