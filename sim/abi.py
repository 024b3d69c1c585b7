"""ABI encoding and decoding without Ape on the hot path.

A :class:`Codec` is built once per contract type from its JSON ABI and then encodes calls,
decodes return data, logs and custom errors with ``eth_abi`` directly — an order of magnitude
cheaper than an Ape contract call, which also estimates gas, signs and waits for a receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak


def _type_string(param: dict[str, Any]) -> str:
    """The canonical type of an ABI parameter, tuples spelled out: ``(uint256,address)[]``."""
    kind = param["type"]
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(_type_string(component) for component in param["components"])
    return f"({inner}){kind[len('tuple'):]}"


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_type_string(p) for p in item.get('inputs', []))})"


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    name: str
    topic0: str  # 0x-prefixed hex
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data: tuple[tuple[str, str], ...]  # (name, type) in data order


@dataclass(frozen=True)
class DecodedLog:
    """One decoded log: its event name, the emitting address and the arguments by name."""

    name: str
    address: str
    args: dict[str, Any]
    log_index: int
    tx_hash: str


class AbiError(ValueError):
    """A function or event the ABI does not have, or arguments that do not fit it."""


class Codec:
    """Encoder/decoder for one contract type's functions, events and custom errors."""

    def __init__(self, name: str, abi: Iterable[dict[str, Any]]):
        self.name = name
        self.functions: dict[str, Function] = {}
        self.events: dict[str, Event] = {}
        self.errors: dict[bytes, tuple[str, tuple[str, ...]]] = {}
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                self._add_function(item)
            elif kind == "event" and not item.get("anonymous"):
                self._add_event(item)
            elif kind == "error":
                types = tuple(_type_string(p) for p in item.get("inputs", []))
                self.errors[keccak(text=_signature(item))[:4]] = (item["name"], types)

    def _add_function(self, item: dict[str, Any]) -> None:
        name = item["name"]
        if name in self.functions:
            raise AbiError(f"{self.name}: overloaded function {name!r} is not supported")
        self.functions[name] = Function(
            name=name,
            selector=keccak(text=_signature(item))[:4],
            input_types=tuple(_type_string(p) for p in item.get("inputs", [])),
            output_types=tuple(_type_string(p) for p in item.get("outputs", [])),
        )

    def _add_event(self, item: dict[str, Any]) -> None:
        topic0 = "0x" + keccak(text=_signature(item)).hex()
        inputs = item.get("inputs", [])
        self.events[topic0] = Event(
            name=item["name"],
            topic0=topic0,
            indexed=tuple((p["name"], _type_string(p)) for p in inputs if p.get("indexed")),
            data=tuple((p["name"], _type_string(p)) for p in inputs if not p.get("indexed")),
        )

    def function(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise AbiError(f"{self.name} has no function {name!r}") from None

    def encode_call(self, name: str, *args: Any) -> str:
        """Calldata (0x hex) for ``name(*args)``."""
        fn = self.function(name)
        if len(args) != len(fn.input_types):
            raise AbiError(f"{self.name}.{name} takes {len(fn.input_types)} arguments, got {len(args)}")
        return "0x" + (fn.selector + abi_encode(fn.input_types, args)).hex()

    def decode_output(self, name: str, data: str | bytes) -> tuple[Any, ...]:
        """The return values of ``name`` from raw return data."""
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        return abi_decode(self.function(name).output_types, raw)

    def decode_log(self, log: dict[str, Any]) -> DecodedLog | None:
        """Decode a JSON-RPC log object; ``None`` when the event is not in this ABI."""
        topics = log.get("topics") or []
        event = self.events.get(topics[0]) if topics else None
        if event is None or len(topics) != len(event.indexed) + 1:
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(event.indexed, topics[1:]):
            args[name] = abi_decode([kind], bytes.fromhex(topic[2:]))[0]
        values = abi_decode([kind for _, kind in event.data], bytes.fromhex(log["data"][2:]))
        args.update({name: value for (name, _), value in zip(event.data, values)})
        return DecodedLog(
            name=event.name,
            address=log["address"].lower(),
            args=args,
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"],
        )

    def decode_error(self, data: str | bytes) -> str | None:
        """``Name(arg, …)`` for revert data carrying one of this contract's custom errors."""
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        found = self.errors.get(raw[:4])
        if found is None:
            return None
        name, types = found
        try:
            values = abi_decode(types, raw[4:])
        except Exception:  # malformed revert data: report the name alone
            return name
        return f"{name}({', '.join(str(v) for v in values)})"


def encode_constructor(bytecode: str, input_types: tuple[str, ...], args: tuple[Any, ...]) -> str:
    """Creation code followed by the ABI-encoded constructor arguments (0x hex)."""
    code = bytecode[2:] if bytecode.startswith("0x") else bytecode
    return "0x" + code + abi_encode(input_types, args).hex()


def constructor_types(abi: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    for item in abi:
        if item.get("type") == "constructor":
            return tuple(_type_string(p) for p in item.get("inputs", []))
    return ()


def describe_revert(codecs: Iterable[Codec], data: str | None) -> str:
    """A custom error from any of ``codecs`` as ``Name(args)``, Error(string)'s text, or the raw data."""
    if not data or data == "0x":
        return "no revert data"
    raw = bytes.fromhex(data[2:])
    if raw[:4] == keccak(text="Error(string)")[:4]:
        return f"Error({abi_decode(['string'], raw[4:])[0]!r})"
    for codec in codecs:
        described = codec.decode_error(raw)
        if described is not None:
            return described
    return data
