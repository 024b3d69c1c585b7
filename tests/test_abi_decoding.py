"""The hand-rolled return-data decoder agrees with eth_abi on every shape it takes, and hands
every other shape to eth_abi. No node needed."""

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.chain.abi import _sequence_decoder, output_decoder

UINT = st.integers(min_value=0, max_value=2**256 - 1)
INT = st.integers(min_value=-(2**255), max_value=2**255 - 1)
ADDRESS = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
LISTS = st.lists
SHORT = {"max_size": 12}

# the shapes the lenses return: flat arrays, a struct of arrays, words beside them
SHAPES = {
    ("uint256[]",): st.tuples(LISTS(UINT, **SHORT)),
    ("uint256[]", "uint256[]"): st.tuples(LISTS(UINT, **SHORT), LISTS(UINT, **SHORT)),
    ("(int256[],uint256[],uint256[],int256[],int256[],bool[])",): st.tuples(
        st.tuples(
            LISTS(INT, **SHORT), LISTS(UINT, **SHORT), LISTS(UINT, **SHORT),
            LISTS(INT, **SHORT), LISTS(INT, **SHORT), LISTS(st.booleans(), **SHORT),
        )
    ),
    ("uint112", "uint112", "uint32"): st.tuples(
        st.integers(0, 2**112 - 1), st.integers(0, 2**112 - 1), st.integers(0, 2**32 - 1)
    ),
    ("uint80", "int256", "uint256", "uint256", "uint80"): st.tuples(
        st.integers(0, 2**80 - 1), INT, UINT, UINT, st.integers(0, 2**80 - 1)
    ),
    ("address", "bool", "address[]", "int8"): st.tuples(
        ADDRESS, st.booleans(), LISTS(ADDRESS, **SHORT), st.integers(-128, 127)
    ),
}


def _normalise(value):
    """eth_abi gives tuples for arrays; compare element-wise whatever the sequence type."""
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    return value


@pytest.mark.parametrize("types", list(SHAPES), ids=lambda t: ",".join(t))
def test_fast_path_is_taken_for_lens_shapes(types):
    assert _sequence_decoder(types) is not None


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fast_decoder_agrees_with_eth_abi(data):
    types = data.draw(st.sampled_from(list(SHAPES)))
    values = data.draw(SHAPES[types])
    raw = abi_encode(list(types), list(values))
    assert _normalise(output_decoder(types)(raw)) == _normalise(abi_decode(list(types), raw))


@pytest.mark.parametrize(
    "types, values",
    [
        (("string",), ("hello",)),
        (("bytes",), (b"\x01\x02",)),
        (("uint256[2]",), ((1, 2),)),
        (("(uint256,address)",), ((5, "0x" + "11" * 20),)),  # a static tuple inline
        (("uint256[][]",), (((1,), (2, 3)),)),
    ],
)
def test_other_shapes_fall_back_to_eth_abi(types, values):
    raw = abi_encode(list(types), list(values))
    assert _sequence_decoder(types) is None
    assert _normalise(output_decoder(types)(raw)) == _normalise(values)


def test_short_return_data_is_an_error():
    with pytest.raises(ValueError, match="cannot hold"):
        output_decoder(("uint256", "uint256"))(b"\x00" * 32)


# ---------------------------------------------------------------- encoding

from sim.chain.abi import AbiError, input_encoder  # noqa: E402

CALL_SHAPES = {
    ("address", "uint256", "uint256", "address"): st.tuples(ADDRESS, UINT, UINT, ADDRESS),
    ("uint256", "bool", "uint256", "uint256", "uint256"): st.tuples(UINT, st.booleans(), UINT, UINT, UINT),
    ("int256", "uint8", "int24"): st.tuples(INT, st.integers(0, 255), st.integers(-(2**23), 2**23 - 1)),
    ("address[]", "address[]"): st.tuples(LISTS(ADDRESS, **SHORT), LISTS(ADDRESS, **SHORT)),
    ("address", "address[]", "address[]"): st.tuples(ADDRESS, LISTS(ADDRESS, **SHORT), LISTS(ADDRESS, **SHORT)),
    ("address", "uint256", "address[]", "int256[]"): st.tuples(ADDRESS, UINT, LISTS(ADDRESS, **SHORT), LISTS(INT, **SHORT)),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fast_encoder_agrees_with_eth_abi(data):
    types = data.draw(st.sampled_from(list(CALL_SHAPES)))
    values = data.draw(CALL_SHAPES[types])
    assert input_encoder(types)(values) == abi_encode(list(types), list(values)).hex()


@pytest.mark.parametrize(
    "types, values",
    [
        (("uint8",), (256,)),
        (("uint256",), (-1,)),
        (("int8",), (128,)),
        (("address",), ("0x1234",)),
        (("address",), ("0x" + "zz" * 20,)),
        (("bool",), (1,)),
        (("uint256[]",), (5,)),
    ],
)
def test_fast_encoder_refuses_what_eth_abi_refuses(types, values):
    with pytest.raises((AbiError, ValueError)):
        input_encoder(types)(values)


def test_other_argument_shapes_have_no_fast_encoder():
    assert input_encoder(("string",)) is None
    assert input_encoder(("uint256[2]",)) is None
    assert input_encoder(("(uint256,address)",)) is None
