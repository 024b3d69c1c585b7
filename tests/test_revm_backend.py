"""The two backends side by side on the same transactions: the in-process revm one and the test
node (anvil). A reverted transaction is reported alike (the same custom error, decoded), a block
that cannot hold what is offered carries the rest to the next block in the same order on both
with the same transaction hashes, and a checkpoint puts everything back. Then which backend a run
gets, and the refusal of revm where a fork is needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from sim.chain import GWEI, AnvilBackend, Call, RevmBackend, RpcError, create_address
from sim.chain.abi import encode_constructor
from sim.chain.node import FORK_NETWORK, node_uri
from sim.chain.revm import impersonated_tx_hash
from sim.protocol import DEFAULT_NETWORK, LONG_RUN_BLOCKS, BackendError, ProtocolSession, SetupError, choose_backend, load_artifacts
from sim.protocol.deploy import check_block
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent

# fresh addresses (no test account): nonce 0 on both chains, so the token lands at the same address
DEPLOYER = "0x" + "d1" * 20
ALICE, BOB, CAROL, DAVE = ("0x" + byte * 20 for byte in ("a1", "b2", "c3", "e4"))
HOLDERS = (ALICE, BOB, CAROL, DAVE, DEPLOYER)  # each minted 10**6 after the deployment
TRANSFER_GAS = 60_000  # every transfer carries this limit, so a block's capacity is a count
BLOCK_GAS = 2 * TRANSFER_GAS + TRANSFER_GAS // 2  # room for two transfers, not three


@contextmanager
def on_backend(name: str, networks) -> Iterator:
    """A backend in control of its chain: a new in-process one, or the test node, put back afterwards."""
    if name == "revm":
        yield RevmBackend()
        return
    node = AnvilBackend(node_uri(networks.provider))
    state = node.checkpoint()
    node.take_control()
    try:
        yield node
    finally:
        node.restore(state)


@pytest.fixture(params=["anvil", "revm"])
def backend(request, networks):
    with on_backend(request.param, networks) as chain:
        yield chain


@pytest.fixture(scope="module")
def token_artifact():
    return load_artifacts()["SimToken"]


def next_timestamp(backend) -> int:
    return backend.head()[1] + 12


def deploy_token(backend, artifact) -> str:
    backend.fund_gas(HOLDERS)
    nonce = backend.nonce_of(DEPLOYER)
    creation = Call(None, encode_constructor(artifact.bytecode, artifact.constructor_types, ("Token", "TKN", 18)), "deploy",
                    gas=3_000_000)
    mined = backend.execute([(DEPLOYER, creation, GWEI)], next_timestamp(backend))
    assert [r["status"] for r in mined.receipts] == ["0x1"]
    token = create_address(DEPLOYER, nonce)
    mint = [(DEPLOYER, Call(token, artifact.codec.encode_call("mint", holder, 10**6), "mint", gas=120_000), GWEI)
            for holder in HOLDERS]
    assert {r["status"] for r in backend.execute(mint, next_timestamp(backend)).receipts} == {"0x1"}
    return token


def transfer(artifact, token: str, sender: str, amount: int, label: str, gas_price: int) -> tuple:
    call = Call(token, artifact.codec.encode_call("transfer", DEPLOYER, amount), label, (DEPLOYER, amount), gas=TRANSFER_GAS,
                contract="SimToken")
    return (sender, call, gas_price)


def balance(backend, artifact, token: str, holder: str) -> int:
    raw = backend.call_many([(token, artifact.codec.encode_call("balanceOf", holder))])[0]
    return artifact.codec.decode_output("balanceOf", raw)[0]


# -------------------------------------------------------------------- a reverted transaction


def reverted_transactions(backend, artifact) -> tuple[list[tuple], str]:
    """Three transactions that fail — a transfer of more than the sender holds (a custom error), a
    call of no function (a bare revert) and a transfer with too little gas (a halt) — each as
    status, revert data and decoded error; and the set-up check's message for the block."""
    token = deploy_token(backend, artifact)
    no_function = Call(token, "0xdeadbeef", "noSuchFunction", gas=TRANSFER_GAS)
    starved = Call(token, artifact.codec.encode_call("transfer", DEPLOYER, 1), "transfer", gas=23_000)
    mined = backend.execute([transfer(artifact, token, ALICE, 10**6 + 1, "transfer", 3 * GWEI),
                             (BOB, no_function, 2 * GWEI), (CAROL, starved, GWEI)], next_timestamp(backend))
    outcomes = []
    for receipt in mined.receipts:
        data = backend.revert_data(receipt["transactionHash"])
        outcomes.append((receipt["status"], data, artifact.codec.decode_error(data) if data else None))
    with pytest.raises(SetupError) as raised:
        check_block(backend, mined, "paying", [artifact.codec])
    return outcomes, str(raised.value)


def test_a_reverted_transaction_is_reported_alike_on_both_backends(networks, token_artifact):
    reports = {}
    for name in ("anvil", "revm"):
        with on_backend(name, networks) as chain:
            reports[name] = reverted_transactions(chain, token_artifact)
    outcomes, message = reports["revm"]
    # OpenZeppelin's ERC20InsufficientBalance(sender, balance, needed), with the numbers of the rule
    expected = f"ERC20InsufficientBalance({ALICE}, {10**6}, {10**6 + 1})"
    assert [(status, decoded) for status, _, decoded in outcomes] == [("0x0", expected), ("0x0", None), ("0x0", None)]
    assert [data is None for _, data, _ in outcomes] == [False, True, True]  # no data: none, as the node's tracer says
    assert message.endswith(f"-> {expected}") and "paying: 3 transaction(s) reverted" in message
    assert reports["anvil"] == reports["revm"]


# -------------------------------------------------------------------- block space


def carried_blocks(backend, artifact) -> list[list[tuple]]:
    """Three blocks with room for two transfers each, offered five transfers and then one more:
    per block, ``(sender, label, nonce, tx_hash, waited_blocks)`` in the order the block ran them,
    then what still waits."""
    token = deploy_token(backend, artifact)
    session = ProtocolSession(backend, {"SimToken": artifact})
    session.limit_block_space(BLOCK_GAS, TRANSFER_GAS)
    first = [
        transfer(artifact, token, ALICE, 1, "a1", 3 * GWEI),
        transfer(artifact, token, ALICE, 1, "a2", 3 * GWEI),  # behind a1 (nonce order)
        transfer(artifact, token, BOB, 1, "b1", 5 * GWEI),
        transfer(artifact, token, CAROL, 1, "c1", 5 * GWEI),  # bids as b1, arrived after it
        transfer(artifact, token, DAVE, 1, "d1", 1 * GWEI),
    ]
    later = [[transfer(artifact, token, DEPLOYER, 1, "late", 4 * GWEI)], []]
    outcome = []
    for orders in [first, *later]:
        mined = session.execute(orders, next_timestamp(backend))
        by_hash = {tx.tx_hash: (tx, waited) for tx, waited in zip(mined.sent, mined.waited_blocks)}
        ran = [(by_hash[r["transactionHash"]][0], by_hash[r["transactionHash"]][1], r["status"]) for r in mined.receipts]
        outcome.append([(tx.sender, tx.call.action, tx.nonce, tx.tx_hash, waited, status) for tx, waited, status in ran]
                       + [("waiting", call.action) for _, call, _ in mined.left_out])
    return outcome


def test_what_a_full_block_cannot_hold_waits_and_runs_next_block_in_the_same_order_on_both(networks, token_artifact):
    outcomes = {}
    for name in ("anvil", "revm"):
        with on_backend(name, networks) as chain:
            outcomes[name] = carried_blocks(chain, token_artifact)
    labels = [[row[1] for row in block] for block in outcomes["revm"]]
    # by bid, then arrival, one sender's in nonce order; two transfers a block; what waits is listed after:
    # block 1: b1 (5), c1 (5, arrived later); a1 (3), a2 (behind a1) and d1 (1) wait
    # block 2: "late" (4, new) beats a1 (3), and a1 fills the block; a2 and d1 wait
    # block 3: a2 (3, eligible now a1 is in), d1 (1)
    assert labels == [["b1", "c1", "a1", "a2", "d1"], ["late", "a1", "a2", "d1"], ["a2", "d1"]]
    ran = [[row for row in block if row[0] != "waiting"] for block in outcomes["revm"]]
    assert [[(label, waited) for _, label, _, _, waited, _ in block] for block in ran] == [
        [("b1", 0), ("c1", 0)], [("late", 0), ("a1", 1)], [("a2", 2), ("d1", 2)]]
    assert {status for block in ran for *_, status in block} == {"0x1"}
    deployer_nonce = 1 + len(HOLDERS)  # the creation, then one mint per holder
    nonces = {label: nonce for block in ran for _, label, nonce, _, _, _ in block}
    assert nonces == {"b1": 0, "c1": 0, "late": deployer_nonce, "a1": 0, "a2": 1, "d1": 0}
    assert outcomes["anvil"] == outcomes["revm"]  # same order, same nonces, same hashes, same waits


def test_a_transaction_hash_is_anvils_for_an_impersonated_sender(backend, token_artifact):
    token = deploy_token(backend, token_artifact)
    sender, call, price = transfer(token_artifact, token, BOB, 7, "transfer", 2 * GWEI + 3)
    nonce = backend.nonce_of(BOB)
    mined = backend.execute([(sender, call, price)], next_timestamp(backend))
    assert mined.sent[0].tx_hash == impersonated_tx_hash(BOB, nonce, 2 * GWEI + 3, TRANSFER_GAS, token, 0, call.data)


# -------------------------------------------------------------------- checkpoints


def test_restoring_a_checkpoint_leaves_the_chain_as_it_was(backend, token_artifact):
    token = deploy_token(backend, token_artifact)
    head, nonce = backend.head(), backend.nonce_of(DEPLOYER)
    before = [balance(backend, token_artifact, token, holder) for holder in (ALICE, BOB, DEPLOYER)]
    checkpoint = backend.checkpoint()
    moved = backend.execute([transfer(token_artifact, token, ALICE, 400, "t", GWEI),
                             transfer(token_artifact, token, BOB, 10**7, "too much", GWEI)], next_timestamp(backend))
    assert [r["status"] for r in moved.receipts] == ["0x1", "0x0"]
    second = create_address(DEPLOYER, nonce)
    creation = Call(None, encode_constructor(token_artifact.bytecode, token_artifact.constructor_types, ("B", "B", 6)),
                    "deploy", gas=3_000_000)
    backend.execute([(DEPLOYER, creation, GWEI)], next_timestamp(backend))
    assert backend.code_at(second) != "0x" and balance(backend, token_artifact, token, ALICE) == before[0] - 400
    backend.restore(checkpoint)
    assert backend.head() == head
    assert backend.nonce_of(DEPLOYER) == nonce
    assert backend.code_at(second) == "0x"
    assert [balance(backend, token_artifact, token, holder) for holder in (ALICE, BOB, DEPLOYER)] == before
    # and the chain goes on from there: the next creation lands where the undone one did
    backend.execute([(DEPLOYER, creation, GWEI)], next_timestamp(backend))
    assert backend.code_at(second) != "0x"


def test_a_checkpoint_taken_after_a_restored_one_is_gone_and_says_so(backend, token_artifact):
    token = deploy_token(backend, token_artifact)
    outer = backend.checkpoint()
    backend.execute([transfer(token_artifact, token, ALICE, 1, "t", GWEI)], next_timestamp(backend))
    inner = backend.checkpoint()
    backend.execute([transfer(token_artifact, token, ALICE, 1, "t", GWEI)], next_timestamp(backend))
    backend.restore(outer)
    with pytest.raises(RpcError):
        backend.restore(inner)  # it saw a chain that is no more
    with pytest.raises(RpcError):
        backend.restore(outer)  # restored already
    assert balance(backend, token_artifact, token, ALICE) == 10**6 and backend.code_at(token) != "0x"


# -------------------------------------------------------------------- choosing a backend


def test_revm_is_the_default_unless_the_run_needs_a_node_and_revm_where_one_is_needed_is_refused_by_name():
    fork_demo = load_scenario(ROOT / "scenarios" / "fork-demo.yaml")  # venues on a forked chain
    oct10 = load_scenario(ROOT / "scenarios" / "oct10.yaml")
    at_the_limit = oct10.model_copy(update={"blocks": LONG_RUN_BLOCKS})
    long_run = oct10.model_copy(update={"blocks": LONG_RUN_BLOCKS + 1})
    assert choose_backend(None, None, oct10) == "revm"
    assert choose_backend(None, None, at_the_limit) == "revm"
    assert choose_backend(None, None, long_run) == "anvil"  # revm's memory grows with every transaction
    assert choose_backend("revm", None, long_run) == "revm"  # asked for: allowed
    assert choose_backend(None, FORK_NETWORK, oct10) == "anvil"
    assert choose_backend(None, DEFAULT_NETWORK, oct10) == "anvil"  # a named network is a node to run on
    assert choose_backend(None, None, fork_demo) == "anvil"
    assert choose_backend("anvil", None, oct10) == "anvil"
    with pytest.raises(BackendError, match="network 'ethereum:mainnet-fork:foundry' is a fork.*use --backend anvil"):
        choose_backend("revm", FORK_NETWORK, oct10)
    with pytest.raises(BackendError, match="the scenario names venues on a forked chain"):
        choose_backend("revm", None, fork_demo)
    with pytest.raises(BackendError, match="--network ethereum:local:foundry names where the anvil backend runs"):
        choose_backend("revm", DEFAULT_NETWORK, oct10)
    with pytest.raises(BackendError, match="'evm' is not one of revm, anvil"):
        choose_backend("evm", None, oct10)


def test_the_cli_refuses_revm_on_a_fork_with_exit_2_before_anything_starts(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ape")), "run", "cascade", "--scenario", str(ROOT / "scenarios" / "calm.yaml"),
         "--out", str(out), "--backend", "revm", "--network", FORK_NETWORK],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "SIM_UPSTREAM_RPC": ""},
    )
    assert done.returncode == 2, done.stderr
    assert "the revm backend runs no fork" in done.stderr and "--backend anvil" in done.stderr
    assert not out.exists()


# -------------------------------------------------------------------- what the backends answer differently

# The EVM reads on which revm (through pyrevm 0.3.7) and anvil differ: gas left and every gas
# figure (revm keeps accounts and slots warm), the block's gas limit and randomness, ether
# balances (revm charges no gas), tx.origin and the coinbase (left alone: no reason to trust them).
DIFFERING_READS = (r"\bgasleft\(", r"\bblock\.gaslimit\b", r"\bblock\.prevrandao\b", r"\bblock\.difficulty\b",
                   r"\bblock\.coinbase\b", r"\btx\.gasprice\b", r"\bblock\.basefee\b", r"\.balance\b", r"\btx\.origin\b",
                   r"\bblockhash\(")


def test_no_contract_reads_what_the_two_backends_answer_differently():
    sources = sorted((ROOT / "contracts").rglob("*.sol"))
    assert len(sources) > 10
    found = [(str(path.relative_to(ROOT)), read) for path in sources for read in DIFFERING_READS
             if re.search(read, path.read_text())]
    assert found == []  # one here would make revm's tables differ from a chain's: see sim/chain/revm.py
    assert re.search(DIFFERING_READS[7], "x = a.balance;") and not re.search(DIFFERING_READS[7], "t.balanceOf(a)")
