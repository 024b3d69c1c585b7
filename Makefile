# The two commands a user needs (README.md): `make run` and `make test`.
# Each runs tools/setup.sh first, which installs what is missing and is quick when nothing is,
# then tools/compile.sh, which recompiles the contracts only when a source changed.
APE := .venv/bin/ape

.PHONY: setup compile run demo fork-demo test bench bench-memory clean

setup:
	@bash tools/setup.sh

compile: setup
	@bash tools/compile.sh

run: compile
	$(APE) run cascade --scenario scenarios/oct10.yaml --out out/oct10

demo: compile
	$(APE) run demo

# the simulator against the real Uniswap V2 and Aave V3 bytecode on a fork of a local upstream chain,
# with the LendingPool-vs-Aave differential check (README.md, "Fork experiments"); writes out/fork-demo.
fork-demo: compile
	.venv/bin/python -m sim.tools.fork_demo

test: compile
	$(APE) test tests -q -p no:cacheprovider

# oct10 scaled to 1,000 and 10,000 agents on anvil and revm, against the node's replay ceiling
# and naive Ape calls, then the Monte Carlo and sweep lines; prints the table and writes bench/results.json
# (README.md, "Benchmark").
bench: compile
	.venv/bin/python -m sim.tools.bench

# calm for 100,000 blocks with its memory sampled (Python and node); writes bench/memory.json.
bench-memory: compile
	.venv/bin/python -m sim.tools.memory_bench

clean:
	rm -rf .build .tools out
