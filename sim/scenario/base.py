"""What every part of the scenario schema shares: the physical bounds every number is held to,
the error a bad scenario raises, and the strict base model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The physical bounds every number is held to (README, "Scenario files"). No field takes inf or NaN.
MAX_USD = 1e12  # a trillion dollars: more than any pool, fund or position of the day
MIN_PRICE_USD = 1e-4  # 10,000 units of the oracle's 8 decimals: four significant digits at the start
MAX_PRICE_USD = 1e9
MIN_CRASHED_PRICE_USD = 1e-6  # 100 oracle units: the lowest a scripted crash may take a price
MAX_VOLATILITY_DAILY = 1.0  # 100% a day
MAX_BETA = 5.0
MAX_DECIMALS = 18  # the contracts scale amounts to WAD (18 decimals)
MAX_LOG_SIGMA = 3.0  # a lognormal's sigma: e^3 is a factor of 20 either way of the median
MAX_AGENTS = 100_000  # every population together
MAX_BLOCKS = 1_000_000
MAX_GAS = 1_000_000_000  # a block or transaction gas limit: 33 times Ethereum's 30M block

Bps = Annotated[int, Field(ge=0, le=10_000)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
UsdAmount = Annotated[float, Field(gt=0.0, le=MAX_USD)]
OptionalUsdAmount = Annotated[float, Field(ge=0.0, le=MAX_USD)]
TokenAmount = Annotated[float, Field(ge=0.0, le=1e18)]  # human token units
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,11}$")]
Uint32 = Annotated[int, Field(ge=0, lt=2**32)]  # what the contracts store these in

OracleKind = Literal["external", "pool_spot", "pool_twap", "lst_index"]  # lst_index: a liquid staking token's index
def _checksummed(address: str) -> str:
    """An address in one case passes; in mixed case it must be its EIP-55 checksum (a typo otherwise)."""
    from eth_utils import is_checksum_address

    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(address):
        raise ValueError(f"{address} is not a valid EIP-55 checksummed address (a typo?); write it in lower case to skip the check")
    return address


# a contract on the chain the run forks
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_checksummed)]


class ScenarioError(ValueError):
    """A scenario file that cannot be run; ``problems`` are ``(field path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{path}: {message}" if path else message for path, message in problems]
        super().__init__(f"invalid scenario {source}:\n  " + "\n  ".join(lines))


class _Strict(BaseModel):
    # strict: ``blocks: true`` or ``blocks: "300"`` is an error, not 1 or 300
    # allow_inf_nan: ``.inf``, ``.nan`` and ``1e400`` are errors, never numbers
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
