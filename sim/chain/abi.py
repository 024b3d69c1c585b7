"""ABI encoding and decoding without Ape on the hot path.

A :class:`Codec` is built once per contract type from its JSON ABI and then encodes calls,
decodes return data, logs and custom errors with ``eth_abi`` directly — an order of magnitude
cheaper than an Ape contract call, which also estimates gas, signs and waits for a receipt.
"""

from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

import numpy as np
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
    name_outputs: Callable[[tuple[Any, ...]], tuple[Any, ...]]  # decoded values -> named tuples


def _identity(value: Any) -> Any:
    return value


def _namer(params: list[dict[str, Any]], label: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A converter from decoded values of ``params`` to tuples whose fields carry the ABI names:
    a named tuple when every parameter has a name, with every struct (``tuple``) inside it, and
    every element of a struct array, named by its components. Unnamed outputs stay plain tuples
    (their struct components are still named)."""
    parts = [_part_namer(p, f"{label}_{i}") for i, p in enumerate(params)]
    names = [p.get("name") or "" for p in params]
    if params and all(n.isidentifier() and not n.startswith("_") for n in names) and len(set(names)) == len(names):
        shape = namedtuple(label, names)
        return lambda values: shape(*[part(v) for part, v in zip(parts, values)])
    if all(part is _identity for part in parts):
        return _identity
    return lambda values: tuple(part(v) for part, v in zip(parts, values))


def _part_namer(param: dict[str, Any], label: str) -> Callable[[Any], Any]:
    kind = param["type"]
    if kind == "tuple":
        internal = param.get("internalType", "")  # "struct PerpExchange.Market"
        struct = internal.removeprefix("struct ").split(".")[-1].rstrip("[]")
        return _namer(param["components"], struct if struct.isidentifier() else label)
    if kind == "tuple[]":
        element = _part_namer({**param, "type": "tuple"}, label)
        return lambda values: tuple(element(v) for v in values)
    return _identity


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
            name_outputs=_namer(item.get("outputs", []), f"{name}_result"),
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

    def event_topic(self, name: str) -> str:
        """topic0 (0x hex) of the event ``name``."""
        for topic, event in self.events.items():
            if event.name == name:
                return topic
        raise AbiError(f"{self.name} has no event {name!r}")

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
        encoder = input_encoder(fn.input_types)
        if encoder is not None:
            return "0x" + fn.selector.hex() + encoder(args)
        return "0x" + (fn.selector + abi_encode(fn.input_types, args)).hex()

    def decode_output(self, name: str, data: str | bytes) -> tuple[Any, ...]:
        """The return values of ``name`` from raw return data, by ABI name where the ABI names
        them (``out.totalDebt``, ``out[0].vBase`` for a struct): a tuple either way."""
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        fn = self.function(name)
        return fn.name_outputs(output_decoder(fn.output_types)(raw))

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


# ---------------------------------------------------------------- fast encoding


def _word_encoder(kind: str) -> Callable[[Any], str] | None:
    """Encoder of a one-word static type to 64 hex digits, or None if not one. Out-of-range
    values raise :class:`AbiError`, as eth_abi would refuse them."""
    if kind == "bool":
        def boolean(value: Any) -> str:
            if not isinstance(value, bool):
                raise AbiError(f"bool expected, got {value!r}")
            return "0" * 63 + ("1" if value else "0")
        return boolean
    if kind == "address":
        def address(value: Any) -> str:
            if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
                raise AbiError(f"address expected as 0x and 40 hex digits, got {value!r}")
            int(value, 16)  # hex digits only
            return "000000000000000000000000" + value[2:].lower()
        return address
    match = _INT.match(kind)
    if match is None:
        return None
    bits = int(match.group(2) or 256)
    low, high = (0, 2**bits) if match.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1))

    def integer(value: Any) -> str:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value < high:
            raise AbiError(f"{kind} expected, got {value!r}")
        return format(value % 2**256, "064x")

    return integer


@lru_cache(maxsize=None)
def input_encoder(types: tuple[str, ...]) -> Callable[[tuple[Any, ...]], str] | None:
    """A hex encoder for arguments of ``types`` when each is a word or ``T[]`` of a word type
    (every call the simulator sends, and the lenses' account lists); None otherwise."""
    parts: list[tuple[bool, Callable[[Any], str]]] = []
    for kind in types:
        word = _word_encoder(kind)
        if word is not None:
            parts.append((False, word))
            continue
        element = _word_encoder(kind[:-2]) if kind.endswith("[]") else None
        if element is None:
            return None
        parts.append((True, element))

    def encode(args: tuple[Any, ...]) -> str:
        heads, tails = [], []
        offset = 32 * len(parts)
        for (is_array, encoder), value in zip(parts, args):
            if not is_array:
                heads.append(encoder(value))
                continue
            if not isinstance(value, (list, tuple)):
                raise AbiError(f"a list expected, got {type(value).__name__}")
            heads.append(format(offset, "064x"))
            tails.append(format(len(value), "064x"))
            tails.extend(encoder(item) for item in value)
            offset += 32 * (len(value) + 1)
        return "".join(heads) + "".join(tails)

    return encode


# ---------------------------------------------------------------- fast decoding

Decoder = Callable[[bytes, int, int], Any]  # (data, head position, base of the enclosing tuple)
_INT = re.compile(r"^(u?)int(\d*)$")


def _split_components(inner: str) -> list[str]:
    """``uint256,(bool,int8)[],address`` -> its top-level component types."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p for p in parts if p]


def _word_decoder(kind: str) -> Callable[[bytes, int], Any] | None:
    """Decoder of a one-word static type at an absolute position, or None if not one."""
    if kind == "bool":
        return lambda data, pos: data[pos + 31] != 0
    if kind == "address":
        return lambda data, pos: "0x" + data[pos + 12 : pos + 32].hex()
    match = _INT.match(kind)
    if match is None:
        return None
    if match.group(1):  # unsigned
        return lambda data, pos: int.from_bytes(data[pos : pos + 32], "big")
    return lambda data, pos: int.from_bytes(data[pos : pos + 32], "big", signed=True)


def _small_uints(data: bytes, start: int, length: int) -> tuple[int, ...] | None:
    """``length`` unsigned words from ``start`` when every one fits 64 bits (the lenses' balances,
    sizes and flags nearly always do), read in one pass; None when one does not."""
    words = np.frombuffer(data, dtype=">u8", count=4 * length, offset=start).reshape(length, 4)
    if words[:, :3].any():
        return None
    return tuple(words[:, 3].tolist())


def _is_dynamic(kind: str) -> bool:
    return kind.endswith("[]") or kind in ("bytes", "string") or (
        kind.startswith("(") and any(_is_dynamic(c) for c in _split_components(kind[1:-1]))
    )


def _decoder(kind: str) -> Decoder | None:
    """A decoder for ``kind`` built from words, ``T[]`` of one-word ``T`` and dynamic tuples of
    those; None for anything else (bytes, strings, fixed-size and nested arrays, static tuples)."""
    word = _word_decoder(kind)
    if word is not None:
        return lambda data, pos, base: word(data, pos)
    if kind.endswith("[]") and not kind[:-2].endswith("]"):
        element = _word_decoder(kind[:-2])
        if element is None:
            return None
        unsigned = kind[:-2].startswith("uint")

        def array(data: bytes, pos: int, base: int) -> tuple[Any, ...]:
            start = base + int.from_bytes(data[pos : pos + 32], "big")
            length = int.from_bytes(data[start : start + 32], "big")
            if unsigned and length:
                small = _small_uints(data, start + 32, length)
                if small is not None:
                    return small
            return tuple([element(data, start + 32 + 32 * i) for i in range(length)])

        return array
    if kind.startswith("(") and kind.endswith(")") and _is_dynamic(kind):  # static tuples sit inline: not handled
        inner = _sequence_decoder(_split_components(kind[1:-1]))
        if inner is None:
            return None
        return lambda data, pos, base: inner(data, base + int.from_bytes(data[pos : pos + 32], "big"))
    return None


def _sequence_decoder(types: Iterable[str]) -> Callable[[bytes, int], tuple[Any, ...]] | None:
    """Decoder of a tuple's values starting at ``start`` (each head one word), or None when a
    component has no hand-rolled decoder."""
    decoders = [_decoder(t) for t in types]
    if any(d is None for d in decoders):
        return None

    def sequence(data: bytes, start: int) -> tuple[Any, ...]:
        return tuple(d(data, start + 32 * i, start) for i, d in enumerate(decoders))

    return sequence


@lru_cache(maxsize=None)
def output_decoder(types: tuple[str, ...]) -> Callable[[bytes], tuple[Any, ...]]:
    """A decoder for return data of ``types``: hand-rolled for words, arrays of words and tuples of
    those (the lenses' outputs: many thousand values a block), ``eth_abi`` for everything else."""
    sequence = _sequence_decoder(types)
    if sequence is None:
        return lambda data: abi_decode(types, data)

    def decode(data: bytes) -> tuple[Any, ...]:
        if len(data) < 32 * len(types):
            raise ValueError(f"{len(data)} bytes of return data cannot hold {', '.join(types)}")
        return sequence(data, 0)

    return decode


def encode_constructor(bytecode: str, input_types: tuple[str, ...], args: tuple[Any, ...]) -> str:
    """Creation code followed by the ABI-encoded constructor arguments (0x hex)."""
    code = bytecode[2:] if bytecode.startswith("0x") else bytecode
    if "__$" in code:  # a Hardhat/solc library placeholder: the node would refuse the hex anyway
        raise AbiError(f"creation code with an unlinked library placeholder at byte {code.index('__$') // 2}: link it first")
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
