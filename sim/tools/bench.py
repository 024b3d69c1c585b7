"""The benchmark: a scenario scaled to N agents on each backend, end to end against the node's own
ceiling, and a Monte Carlo line.

``python -m sim.tools.bench`` (``make bench``) runs, for each agent count and backend, one child
process. On the ``anvil`` backend the child connects its own node and measures three things on
the same workload:

* ``tx_per_s`` — the simulator end to end: set-up, agents deciding, sending, mining, reading
  state back and recording, every transaction of the run counted;
* ``replay_tx_per_s`` — the same transactions replayed by raw batched JSON-RPC, byte for byte as
  the run sent them, into a fresh node from the same starting state (:mod:`sim.chain.replay`); the
  replay must end on the run's state root: the node's own ceiling;
* ``naive_tx_per_s`` — a sample of the run's first agent transactions after set-up, sent one by
  one as Ape contract calls (``contract.method(*args, sender=account)``) from the state they
  were sent in.

On the ``revm`` backend (the contracts in the child's own process) it measures ``tx_per_s`` on the
same scaled scenario, which sends the same transactions (the backends give the same run). Every
child also splits its run's time into the chain's share (executing blocks, answering reads) and
Python's (agents, encoding, decoding, recording), and reports its peak memory (and its node's).

The Monte Carlo line runs N seeds of the unscaled scenario over 2 worker processes on revm
(:mod:`sim.tools.monte_carlo`) and reports runs per minute. The sweep line runs the shipped
experiment (3 × 2 cells × 16 seeds, :mod:`sim.experiment`) on a local Dask cluster of 2 workers
and reports runs per minute and each worker's peak memory. The parent prints a table and the
ratios the targets are stated in, and writes ``bench/results.json``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import click

from sim.chain import AnvilBackend, MinedBlock, SentTx

DEFAULT_SCALES = (1_000, 10_000)  # oct10 itself has 463 agents (its Monte Carlo line runs it unscaled)
DEFAULT_BACKENDS = ("anvil", "revm")
DEFAULT_BLOCKS = 120  # through oct10's crash (blocks 60-100) and the first of the recovery
NAIVE_SAMPLE_TX = 200
MONTE_CARLO_RUNS = 40  # oct10 seeds for the Monte Carlo line (its goal is stated for 1,000)
MONTE_CARLO_WORKERS = 2
SWEEP_EXPERIMENT = Path("experiments/alt-liquidation-params.yaml")


class ChainClock:
    """Time spent inside a backend's ``execute`` and ``call_many`` (the chain's share of a run)."""

    def __init__(self, backend: Any):
        self.seconds = 0.0
        for name in ("execute", "call_many"):
            setattr(backend, name, self._timed(getattr(backend, name)))

    def _timed(self, method: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def measure_revm(scenario_path: Path, agents: int, blocks: int) -> dict[str, Any]:
    """Run the scaled scenario once on the in-process revm backend."""
    from sim.chain import RevmBackend
    from sim.model import CascadeModel, run_blocks
    from sim.protocol import ProtocolSession, load_artifacts
    from sim.scenario import load_scenario
    from sim.tools.scaling import scale_population

    scenario = scale_population(load_scenario(scenario_path), agents, blocks)
    chain = RevmBackend()
    clock = ChainClock(chain)
    model = CascadeModel(scenario, ProtocolSession(chain, load_artifacts(), owns_node=True))
    started = time.perf_counter()
    run_blocks(model, progress=True)
    wall_s = time.perf_counter() - started
    return {
        "agents": agents,
        "backend": "revm",
        "tx": chain.tx_count,
        "blocks": chain.head()[0],
        "wall_s": round(wall_s, 3),
        "tx_per_s": round(chain.tx_count / wall_s, 1),
        "chain_s": round(clock.seconds, 3),
        "peak_rss_mb_python": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_node": 0.0,
        "scenario": scenario.name,
        "scenario_blocks": scenario.blocks,
        "failed_tx": model.recorder.failed_tx,
    }


# -------------------------------------------------------------------- one scale (child process)


def measure(scenario_path: Path, agents: int, blocks: int, work_dir: Path, naive_sample: int, network: str) -> dict[str, Any]:
    """Run the scaled scenario once, journaled; replay it; send the naive sample. One node."""
    from sim.chain.node import connected, node_uri
    from sim.chain.replay import JournalWriter, peak_rss_mb, replay
    from sim.protocol import load_artifacts
    from sim.scenario import load_scenario
    from sim.tools.scaling import scale_population

    scenario = scale_population(load_scenario(scenario_path), agents, blocks)
    artifacts = load_artifacts()
    with connected(network) as (provider, _):
        if getattr(provider, "process", None) is None:
            raise click.ClickException(
                "the benchmark needs a node it starts itself (its memory is measured); another node is already "
                f"listening at {node_uri(provider)}: stop it and run again"
            )
        chain = AnvilBackend(node_uri(provider))
        clock = ChainClock(chain)
        run = _journaled_run(scenario, chain, artifacts, JournalWriter(work_dir / f"journal-{agents}.bin"), naive_sample)
        chain_s = clock.seconds
        print(f"replaying {run.tx:,} transactions into a fresh node ...", file=sys.stderr, flush=True)
        replayed = replay(run.journal.path, provider.build_command())
        if replayed.state_root != run.state_root:
            raise click.ClickException(
                f"the replay ended on state root {replayed.state_root}, the run on {run.state_root}: "
                "the journal does not reproduce the run"
            )
        print(f"sending {len(run.sample)} of the run's transactions one by one through Ape ...", file=sys.stderr, flush=True)
        naive = naive_baseline(chain, run.journal.path, run.setup_entries, run.sample)
        node_peak = peak_rss_mb(provider.process.pid)
    run.journal.path.unlink()
    return {
        "agents": agents,
        "backend": "anvil",
        "tx": run.tx,
        "blocks": run.mined_blocks,
        "wall_s": round(run.wall_s, 3),
        "tx_per_s": round(run.tx / run.wall_s, 1),
        "chain_s": round(chain_s, 3),
        "replay_tx_per_s": round(run.tx / replayed.wall_s, 1),
        "naive_tx_per_s": round(naive["tx"] / naive["wall_s"], 1),
        "peak_rss_mb_python": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_node": round(node_peak, 1),
        "scenario": scenario.name,
        "scenario_blocks": scenario.blocks,
        "setup_tx": run.setup_tx,
        "failed_tx": run.failed_tx,
        "replay_wall_s": round(replayed.wall_s, 3),
        "state_root": run.state_root,  # the replay's too: measure() stops otherwise
        "peak_rss_mb_replay_node": round(replayed.peak_rss_mb_node, 1),
        "naive_sample_tx": naive["tx"],
        "naive_reverted": naive["reverted"],
        "naive_wall_s": round(naive["wall_s"], 3),
    }


@dataclass
class JournaledRun:
    """What the benchmark keeps of the simulator's own run."""

    journal: Any
    sample: list[SentTx]
    setup_entries: int
    setup_tx: int
    tx: int
    failed_tx: int
    mined_blocks: int
    wall_s: float
    state_root: str


def _journaled_run(scenario: Any, chain: AnvilBackend, artifacts: Any, journal: Any, naive_sample: int) -> JournaledRun:
    """Run the model end to end with every state-changing request journaled, then put the node
    back; keep the first ``naive_sample`` agent transactions after set-up."""
    from sim.model import CascadeModel, run_blocks
    from sim.protocol import ProtocolSession

    model = CascadeModel(scenario, ProtocolSession(chain, artifacts))
    node_state = chain.checkpoint()
    start_block, _ = chain.head()
    marks: dict[str, int] = {}
    sample: list[SentTx] = []

    def after_setup() -> None:
        marks["setup_entries"] = journal.entries
        marks["setup_tx"] = chain.tx_count

    def after_block(mined: MinedBlock) -> None:
        if len(sample) < naive_sample:
            sample.extend(in_block_order(mined)[: naive_sample - len(sample)])

    chain.journal = journal
    started = time.perf_counter()
    try:
        run_blocks(model, progress=True, after_setup=after_setup, after_block=after_block)
    finally:
        wall_s = time.perf_counter() - started
        chain.journal = None
        journal.close()
    head = chain.request("eth_getBlockByNumber", ["latest", False])
    chain.restore(node_state)
    return JournaledRun(journal, sample, marks["setup_entries"], marks["setup_tx"], chain.tx_count,
                        model.recorder.failed_tx, int(head["number"], 16) - start_block, wall_s, head["stateRoot"])


def in_block_order(mined: MinedBlock) -> list[SentTx]:
    """A mined block's sent transactions in the order the node executed them."""
    by_hash = {tx.tx_hash: tx for tx in mined.sent}
    return [by_hash[r["transactionHash"]] for r in mined.receipts]


def naive_baseline(chain: AnvilBackend, journal: Path, setup_entries: int, sample: Sequence[SentTx]) -> dict[str, Any]:
    """Bring the node to the state after set-up (the journal's first ``setup_entries`` bodies),
    then send ``sample`` one transaction at a time through Ape contract calls, automining, the
    way a script written against Ape would. The node is reverted afterwards."""
    from ape import accounts, project
    from ape.exceptions import ApeException
    from eth_utils import to_checksum_address

    from sim.chain.replay import post_bodies, read_journal

    state = chain.checkpoint()
    try:
        post_bodies(chain.uri, read_journal(journal, stop=setup_entries))
        chain.request("evm_setAutomine", [True])
        chain.request("anvil_autoImpersonateAccount", [False])
        contracts: dict[str, Any] = {}
        senders: dict[str, Any] = {}
        reverted = 0
        started = time.perf_counter()
        for tx in sample:
            call = tx.call
            if call.to not in contracts:
                contracts[call.to] = project.get_contract(call.contract).at(to_checksum_address(call.to))
            if tx.sender not in senders:
                senders[tx.sender] = accounts.test_accounts.impersonate_account(to_checksum_address(tx.sender))
            try:
                getattr(contracts[call.to], call.action)(*call.args, sender=senders[tx.sender], value=call.value)
            except ApeException:
                reverted += 1
        wall_s = time.perf_counter() - started
    finally:
        chain.restore(state)
    return {"tx": len(sample), "reverted": reverted, "wall_s": wall_s}


# -------------------------------------------------------------------- the table (parent process)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def ratios(runs: list[dict[str, Any]], monte_carlo: dict[str, Any] | None = None) -> dict[str, Any]:
    """The figures the targets are stated in."""
    anvil = {r["agents"]: r for r in runs if r["backend"] == "anvil"}
    revm = {r["agents"]: r for r in runs if r["backend"] == "revm"}
    out: dict[str, Any] = {
        "anvil_end_to_end_over_replay": {str(n): round(r["tx_per_s"] / r["replay_tx_per_s"], 3) for n, r in anvil.items()},
        "revm_end_to_end_over_anvil_replay": {str(n): round(r["tx_per_s"] / anvil[n]["replay_tx_per_s"], 3)
                                              for n, r in revm.items() if n in anvil},
        "revm_over_anvil_end_to_end": {str(n): round(r["tx_per_s"] / anvil[n]["tx_per_s"], 3) for n, r in revm.items() if n in anvil},
        "anvil_end_to_end_over_naive": {str(n): round(r["tx_per_s"] / r["naive_tx_per_s"], 1) for n, r in anvil.items()},
        "chain_share_of_run": {f"{r['backend']}-{r['agents']}": round(r["chain_s"] / r["wall_s"], 3) for r in runs},
        "peak_memory_mb_python_plus_node": {f"{r['backend']}-{r['agents']}": round(r["peak_rss_mb_python"] + r["peak_rss_mb_node"], 1)
                                            for r in runs},
    }
    for backend, rows in (("anvil", anvil), ("revm", revm)):
        if len(rows) > 1:
            smallest, largest = min(rows), max(rows)
            out[f"{backend}_cost_per_tx_growth"] = {
                "from_agents": smallest, "to_agents": largest,
                "factor": round(rows[smallest]["tx_per_s"] / rows[largest]["tx_per_s"], 3),
            }
    if monte_carlo is not None:
        out["monte_carlo"] = monte_carlo
    return out


def _cell(row: dict[str, Any], key: str, fmt: str, width: int) -> str:
    """``row[key]`` in ``fmt``, or a dash (a revm row has no replay or naive figure), ``width`` wide."""
    return format(row[key], fmt) if key in row else "-".rjust(width)


def table(runs: list[dict[str, Any]]) -> str:
    header = (f"{'backend':>7} {'agents':>7} {'tx':>9} {'blocks':>6} {'wall_s':>8} {'tx/s':>8} {'chain%':>6} {'replay':>8} "
              f"{'naive':>6} {'e2e/replay':>10} {'py MB':>7} {'node MB':>8}")
    lines = [header, "-" * len(header)]
    for r in runs:
        over = f"{r['tx_per_s'] / r['replay_tx_per_s']:.2f}" if "replay_tx_per_s" in r else "-"
        lines.append(
            f"{r['backend']:>7} {r['agents']:>7,} {r['tx']:>9,} {r['blocks']:>6} {r['wall_s']:>8.1f} {r['tx_per_s']:>8,.0f} "
            f"{100 * r['chain_s'] / r['wall_s']:>6.0f} {_cell(r, 'replay_tx_per_s', '>8,.0f', 8)} {_cell(r, 'naive_tx_per_s', '>6.1f', 6)} "
            f"{over:>10} {r['peak_rss_mb_python']:>7,.0f} {r['peak_rss_mb_node']:>8,.0f}"
        )
    return "\n".join(lines)


def run_child(scenario: Path, agents: int, blocks: int, naive_sample: int, network: str, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        result_file = Path(work) / "result.json"
        command = [
            sys.executable, "-m", "sim.tools.bench", "--child", "--scenario", str(scenario), "--agents", str(agents),
            "--blocks", str(blocks), "--naive-sample", str(naive_sample), "--network", network,
            "--work-dir", work, "--result", str(result_file), "--backends", backend,
        ]
        completed = subprocess.run(command)
        if completed.returncode != 0 or not result_file.exists():
            raise click.ClickException(f"the run with {agents:,} agents on {backend} failed (exit code {completed.returncode}); see above")
        return json.loads(result_file.read_text())


@click.command()
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=Path("scenarios/oct10.yaml"), show_default=True)
@click.option("--agents", "agent_counts", default=",".join(str(n) for n in DEFAULT_SCALES), show_default=True,
              help="Comma-separated agent counts.")
@click.option("--backends", default=",".join(DEFAULT_BACKENDS), show_default=True, help="Comma-separated: anvil, revm.")
@click.option("--blocks", type=click.IntRange(min=1), default=DEFAULT_BLOCKS, show_default=True, help="Blocks per run.")
@click.option("--naive-sample", type=click.IntRange(min=1), default=NAIVE_SAMPLE_TX, show_default=True,
              help="Transactions sent one by one through Ape for the naive baseline.")
@click.option("--monte-carlo-runs", type=click.IntRange(min=0), default=MONTE_CARLO_RUNS, show_default=True,
              help="Seeds of the unscaled scenario for the Monte Carlo line (0: none).")
@click.option("--sweep/--no-sweep", default=True, show_default=True,
              help=f"Run the sweep line ({SWEEP_EXPERIMENT} on 2 Dask workers).")
@click.option("--network", default="ethereum:local:foundry", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench/results.json"), show_default=True)
@click.option("--child", is_flag=True, hidden=True)
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), hidden=True)
@click.option("--result", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
def main(scenario: Path, agent_counts: str, backends: str, blocks: int, naive_sample: int, monte_carlo_runs: int,
         sweep: bool, network: str, out: Path, child: bool, work_dir: Path | None, result: Path | None) -> None:
    """Benchmark the simulator on both backends against the node's replay ceiling and a naive Ape baseline."""
    from sim.chain.node import lean_anvil
    from sim.files import write_atomic

    try:
        counts = [int(part) for part in agent_counts.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {agent_counts!r}", param_hint="--agents") from None
    chosen = [b.strip() for b in backends.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(DEFAULT_BACKENDS))
    if unknown or not chosen:
        raise click.BadParameter(f"expected some of {', '.join(DEFAULT_BACKENDS)}, got {backends!r}", param_hint="--backends")
    if child:
        lean_anvil()
        from ape.logging import logger

        logger.set_level("WARNING")
        if chosen[0] == "revm":
            measured = measure_revm(scenario, counts[0], blocks)
        else:
            measured = measure(scenario, counts[0], blocks, work_dir, naive_sample, network)
        write_atomic(result, json.dumps(measured).encode())
        return
    _check_scales(scenario, counts, blocks)
    runs = []
    for agents in counts:
        for backend in chosen:
            click.echo(f"== {agents:,} agents on {backend}", err=True)
            runs.append(run_child(scenario, agents, blocks, naive_sample, network, backend))
            click.echo(table(runs[-1:]).splitlines()[-1], err=True)
    monte_carlo = _monte_carlo(scenario, monte_carlo_runs) if monte_carlo_runs else None
    report = {"runs": runs, "ratios": ratios(runs, monte_carlo), "machine": machine(), "blocks_per_run": blocks}
    if sweep:
        report["sweep"] = _sweep(SWEEP_EXPERIMENT)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, (json.dumps(report, indent=2) + "\n").encode())
    click.echo(table(runs))
    click.echo(json.dumps(report["ratios"], indent=2))
    click.echo(f"results: {out}")


def _monte_carlo(scenario: Path, runs: int) -> dict[str, Any]:
    """``runs`` seeds of the unscaled scenario over ``MONTE_CARLO_WORKERS`` processes on revm."""
    from sim.scenario import load_scenario
    from sim.tools.monte_carlo import run_paths

    click.echo(f"== Monte Carlo: {runs} seeds of {scenario.name} over {MONTE_CARLO_WORKERS} processes (revm)", err=True)
    with tempfile.TemporaryDirectory(prefix="bench-paths-") as work:
        figures = run_paths(load_scenario(scenario), runs, MONTE_CARLO_WORKERS, Path(work))
    figures.pop("paths")
    click.echo(", ".join(f"{k}: {v}" for k, v in figures.items()), err=True)
    return figures


def _sweep(path: Path) -> dict[str, Any]:
    """The shipped experiment on a local Dask cluster of 2 workers: runs per minute and memory."""
    from sim.experiment import load_experiment
    from sim.experiment.sweep import run_sweep

    experiment = load_experiment(path)
    click.echo(f"== Sweep: {path} ({len(experiment.cells)} cells x {experiment.seeds} seeds) on 2 Dask workers (revm)", err=True)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as work:
        started = time.perf_counter()
        result = run_sweep(experiment, Path(work) / "out", workers=2)
        wall_s = time.perf_counter() - started
    figures = {
        "experiment": str(path), "runs": result.ran, "wall_s": round(wall_s, 1),
        "runs_per_min": round(result.ran / wall_s * 60, 1),
        "worker_max_rss_mb": max((row["worker_max_rss_mb"] for row in result.rows), default=None),
        "failed_runs": sum(1 for row in result.rows if row["error"]), "lost_runs": len(result.lost),
    }
    click.echo(", ".join(f"{k}: {v}" for k, v in figures.items()), err=True)
    return figures


def _check_scales(scenario: Path, counts: list[int], blocks: int) -> None:
    """Every scaled scenario is valid before the first node starts."""
    from sim.scenario import ScenarioError, load_scenario
    from sim.tools.scaling import scale_population

    try:
        base = load_scenario(scenario)
    except ScenarioError as error:
        raise click.BadParameter(str(error), param_hint="--scenario") from None
    for agents in counts:
        try:
            scale_population(base, agents, blocks)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--agents/--blocks") from None


if __name__ == "__main__":
    main()
