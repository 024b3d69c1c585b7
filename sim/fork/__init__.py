"""Fork experiments against real DeFi bytecode: an "upstream chain" that plays mainnet.

``npm_artifacts``: the real Uniswap V2 and Aave V3 contracts from their npm packages (Aave's
libraries linked). ``upstream``: :func:`build_upstream` deploys them, with our tokens and feeds,
from a scenario; :class:`Upstream` is the manifest (``upstream.json``); :func:`anvil_node` and
:func:`dump_state` run and save the chain. ``differential``: the same liquidations on our
LendingPool and on Aave V3.

A layer above ``protocol`` (it reuses the artifacts, deployment helpers and set-up checks) and
below ``record``."""
