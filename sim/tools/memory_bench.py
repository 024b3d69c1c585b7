"""The long-run memory check: one long ``ape run cascade`` with its memory sampled throughout.

``python -m sim.tools.memory_bench`` (``make bench-memory``) runs ``scenarios/calm.yaml`` for
``--blocks`` blocks (100,000 by default) in a child process (on anvil unless ``--backend revm``), samples the resident memory of that
process and of every process under it (the node) once a second, and prints and writes the peaks:
Python's, the node's, and the two together at any one instant, with the wall time. The target is
a whole run at 1 GB or less, Python and node together.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import yaml

from sim.files import write_atomic

ROOT = Path(__file__).resolve().parents[2]


def rss_mb(pid: int) -> float:
    """A live process's resident memory (``VmRSS``) in MiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Every process below ``pid`` (the node ape-foundry started, among them)."""
    try:
        direct = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return direct + [grandchild for child in direct for grandchild in children(child)]


def sample_run(command: list[str], interval_s: float = 1.0) -> dict[str, float]:
    """Run ``command`` to its end, sampling memory every ``interval_s``; the peaks in MiB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"python": 0.0, "node": 0.0, "together": 0.0}
    while process.poll() is None:
        python = rss_mb(process.pid)
        node = sum(rss_mb(child) for child in children(process.pid))
        peak["python"], peak["node"] = max(peak["python"], python), max(peak["node"], node)
        peak["together"] = max(peak["together"], python + node)
        time.sleep(interval_s)
    if process.returncode != 0:
        raise click.ClickException(f"the run exited with code {process.returncode}: {process.stderr.read()[-2000:]}")
    return {**{f"peak_rss_mb_{k}": round(v, 1) for k, v in peak.items()}, "wall_s": round(time.perf_counter() - started, 1)}


@click.command()
@click.option("--blocks", default=100_000, show_default=True, help="Blocks of scenarios/calm.yaml to run.")
@click.option("--backend", type=click.Choice(["anvil", "revm"]), default="anvil", show_default=True,
              help="anvil: the node drops its old blocks (the long-run setting); revm's journal grows with every "
                   "transaction (README, \"Backends\").")
@click.option("--out", "out_path", default="bench/memory.json", show_default=True, type=click.Path(path_type=Path))
def main(blocks: int, backend: str, out_path: Path) -> None:
    """Run calm for BLOCKS blocks and report its peak memory, Python and node together."""
    scenario = yaml.safe_load((ROOT / "scenarios" / "calm.yaml").read_text())
    scenario["blocks"] = blocks
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "calm-long.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        command = [str(ROOT / ".venv" / "bin" / "ape"), "run", "cascade", "--scenario", str(path),
                   "--out", str(Path(work) / "out"), "--no-progress", "--backend", backend]
        print(f"running calm for {blocks:,} blocks on {backend} ...", file=sys.stderr, flush=True)
        result = {"scenario": "calm", "blocks": blocks, "backend": backend, **sample_run(command)}
        tables = pd_rows(Path(work) / "out" / "timeseries.parquet")
    result["timeseries_rows"] = tables
    result["blocks_per_s"] = round(blocks / result["wall_s"], 1)
    print(json.dumps(result, indent=2))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out_path, (json.dumps(result, indent=2) + "\n").encode())


def pd_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


if __name__ == "__main__":
    main()
