"""The layers of ``sim`` (README, "Architecture"): each package imports only the layers below it,
and the model reaches the chain only through the protocol layer. Read from the source with ``ast``."""

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

# Lowest first. A module may import its own layer and any layer listed before it.
LAYERS = ["units", "files", "scenario", "chain", "protocol", "fork", "record", "calibration", "agents", "report", "model", "experiment", "audit", "tools"]
# The model reaches the chain only through the protocol layer.
FORBIDDEN = {"model": {"chain"}, "agents": {"chain.anvil", "chain.abi", "chain.node", "chain.replay"}}


def layer_of(module: str) -> str:
    """``sim.protocol.state`` -> ``protocol``; ``sim.units`` -> ``units``; ``sim`` itself -> the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "api"


def sim_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "sim":
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "sim"]
    return found


def modules():
    for path in sorted(SIM.rglob("*.py")):
        relative = path.relative_to(SIM.parent).with_suffix("")
        yield ".".join(part for part in relative.parts if part != "__init__"), path


MODULES = list(modules())


@pytest.mark.parametrize("module, path", MODULES, ids=[module for module, _ in MODULES])
def test_a_module_imports_only_its_own_layer_and_those_below(module, path):
    own = layer_of(module)
    if own == "api":
        return  # sim/__init__.py re-exports the public API from the top
    rank = LAYERS.index(own)
    for imported in sim_imports(path):
        other = layer_of(imported)
        assert other != "api", f"{module} imports the package root 'sim'; import the layer itself"
        assert LAYERS.index(other) <= rank, f"{module} ({own}) imports {imported} ({other}), a higher layer"
        dotted = imported.removeprefix("sim.")
        for banned in FORBIDDEN.get(own, ()):
            assert not (dotted == banned or dotted.startswith(banned + ".")), f"{module} imports {imported}: use sim.protocol"


def test_every_layer_is_a_package_or_a_listed_module():
    for path in SIM.iterdir():
        if path.name.startswith(("_", ".")) or path.name == "__pycache__":
            continue
        assert path.stem in LAYERS, f"sim/{path.name} belongs to no layer of {LAYERS}"
