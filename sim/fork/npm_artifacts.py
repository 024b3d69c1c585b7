"""The real Uniswap V2 and Aave V3 contracts, from their npm packages, as :class:`Artifact`s.

Two formats are read: Uniswap's ``build/*.json`` (waffle: ``abi`` and ``bytecode`` without 0x)
and Aave's Hardhat artifacts (``abi``, ``bytecode``, ``linkReferences``). Aave's Pool and
PoolConfigurator call external libraries; their creation code holds a 20-byte placeholder
(``__$<hash>$__``) at every call site, listed in ``linkReferences`` by byte offset.
:meth:`NpmArtifact.link` writes the libraries' addresses there, and refuses to leave a
placeholder behind.

The bytecode is only deployed and tested against: none of the packages' sources is copied here
(Aave V3 core is BUSL-1.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from sim.chain.abi import Codec, constructor_types
from sim.protocol.artifacts import Artifact
from sim.protocol.npm_contracts import AAVE, AAVE_ARTIFACTS, NODE_MODULES, UNISWAP, read_artifact

# The external libraries, in an order that deploys each after those it links (FlashLoanLogic
# calls BorrowLogic). The Pool links the first seven, the PoolConfigurator ConfiguratorLogic.
AAVE_LIBRARIES = (
    "BorrowLogic",
    "BridgeLogic",
    "EModeLogic",
    "FlashLoanLogic",
    "LiquidationLogic",
    "PoolLogic",
    "SupplyLogic",
    "ConfiguratorLogic",
)
AAVE_DEPLOYED = {**AAVE, **{name: f"protocol/libraries/logic/{name}.sol/{name}" for name in AAVE_LIBRARIES}}
AAVE_ERRORS_SOURCE = "@aave/core-v3/contracts/protocol/libraries/helpers/Errors.sol"

PLACEHOLDER_LENGTH = 20  # bytes: an address
_PLACEHOLDER = re.compile(r"__\$[0-9a-fA-F]{34}\$__")


class LinkError(ValueError):
    """A library address missing for a link reference, or a placeholder left unlinked."""


@dataclass(frozen=True)
class LinkReference:
    """Where creation code calls one external library: its name, source file and byte offsets."""

    library: str
    source: str
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class NpmArtifact(Artifact):
    """An :class:`Artifact` read from an npm package; ``links`` lists the libraries its creation
    code still needs (empty once linked, and for every contract that calls none)."""

    links: tuple[LinkReference, ...] = ()

    @property
    def libraries(self) -> tuple[str, ...]:
        return tuple(ref.library for ref in self.links)

    def link(self, addresses: Mapping[str, str]) -> "NpmArtifact":
        """This artifact with every library placeholder replaced by ``addresses[library]``."""
        return replace(self, bytecode=link_bytecode(self.name, self.bytecode, self.links, addresses), links=())


def link_bytecode(name: str, bytecode: str, links: tuple[LinkReference, ...], addresses: Mapping[str, str]) -> str:
    """``bytecode`` (0x hex) with the 20 bytes at each link reference's offsets replaced by the
    library's address. Refuses (:class:`LinkError`) a library without an address, an offset that
    holds no placeholder, and a placeholder that no reference covers."""
    code = bytecode[2:] if bytecode.startswith("0x") else bytecode
    chars = list(code)
    for ref in links:
        address = addresses.get(ref.library)
        if address is None:
            raise LinkError(f"{name}: no address given for library {ref.library} ({ref.source})")
        hex_address = address[2:].lower() if address.startswith("0x") else address.lower()
        if len(hex_address) != 2 * PLACEHOLDER_LENGTH:
            raise LinkError(f"{name}: {ref.library}'s address {address!r} is not 20 bytes")
        for offset in ref.offsets:
            start = 2 * offset
            found = code[start : start + 2 * PLACEHOLDER_LENGTH]
            if not _PLACEHOLDER.fullmatch(found):
                raise LinkError(f"{name}: no library placeholder for {ref.library} at byte {offset} (found {found[:12]}…)")
            chars[start : start + 2 * PLACEHOLDER_LENGTH] = hex_address
    linked = "".join(chars)
    check_linked(name, linked)
    return "0x" + linked


def check_linked(name: str, bytecode: str) -> None:
    """Raise :class:`LinkError` when ``bytecode`` still holds a library placeholder."""
    left = _PLACEHOLDER.search(bytecode)
    if left is not None:
        raise LinkError(
            f"{name}: unlinked library placeholder {left.group(0)} at byte {(left.start() - bytecode.startswith('0x') * 2) // 2}; "
            "link its libraries first (NpmArtifact.link)"
        )


def _artifact(name: str, abi: list[dict[str, Any]], bytecode: str, links: tuple[LinkReference, ...]) -> NpmArtifact:
    code = bytecode if bytecode.startswith("0x") else "0x" + bytecode
    if len(code) <= 2:
        raise ValueError(f"{name}: the artifact has no creation code (an interface or abstract contract?)")
    return NpmArtifact(name, Codec(name, abi), code, constructor_types(abi), links)


def load_uniswap(name: str, node_modules: Path = NODE_MODULES) -> NpmArtifact:
    """One contract from Uniswap's waffle build files (``abi``, ``bytecode``)."""
    data = read_artifact(node_modules / UNISWAP[name])
    return _artifact(name, data["abi"], data["bytecode"], ())


def load_hardhat(name: str, path: Path) -> NpmArtifact:
    """One contract from a Hardhat artifact, with its ``linkReferences``."""
    data = read_artifact(path)
    links = []
    for source, by_name in data.get("linkReferences", {}).items():
        for library, refs in by_name.items():
            if any(int(ref["length"]) != PLACEHOLDER_LENGTH for ref in refs):
                raise LinkError(f"{name}: a link reference to {library} is not {PLACEHOLDER_LENGTH} bytes long")
            links.append(LinkReference(library, source, tuple(int(ref["start"]) for ref in refs)))
    return _artifact(name, data["abi"], data["bytecode"], tuple(links))


def load_npm_artifacts(node_modules: Path = NODE_MODULES) -> dict[str, NpmArtifact]:
    """Every Uniswap V2 and Aave V3 contract the upstream chain deploys, by name (see ``UNISWAP``,
    ``AAVE``; the Aave Pool is "AavePool"). The Pool, the PoolConfigurator and FlashLoanLogic come
    unlinked: :meth:`NpmArtifact.link` them once their libraries have addresses."""
    return dict(_load(node_modules))


@lru_cache(maxsize=4)
def _load(node_modules: Path) -> tuple[tuple[str, NpmArtifact], ...]:
    found = [(name, load_uniswap(name, node_modules)) for name in UNISWAP]
    found += [(name, load_hardhat(name, node_modules / AAVE_ARTIFACTS / f"{path}.json")) for name, path in AAVE_DEPLOYED.items()]
    return tuple(found)


@lru_cache(maxsize=4)
def aave_error_names(node_modules: Path = NODE_MODULES) -> dict[str, str]:
    """Aave's numeric revert strings and their names (``"26"`` -> ``"INVALID_AMOUNT"``), read from
    the package's Errors library source; empty if it is not there."""
    path = node_modules / AAVE_ERRORS_SOURCE
    if not path.is_file():
        return {}
    pattern = re.compile(r"string\s+public\s+constant\s+(\w+)\s*=\s*'(\d+)'")
    return {code: name for name, code in pattern.findall(path.read_text())}
