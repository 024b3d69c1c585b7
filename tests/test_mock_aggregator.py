"""MockAggregator: Chainlink's round semantics, owner-only pushes."""

import ape
import pytest

INITIAL_PRICE = 2_00000000  # $2.00 with 8 decimals


@pytest.fixture
def feed(project, deployer):
    return project.MockAggregator.deploy(8, "ALT / USD", INITIAL_PRICE, sender=deployer)


def test_metadata_and_first_round(feed, chain):
    assert feed.decimals() == 8
    assert feed.description() == "ALT / USD"
    assert feed.version() == 1
    round_id, answer, started_at, updated_at, answered_in_round = feed.latestRoundData()
    deployed_at = chain.blocks.head.timestamp
    assert (round_id, answer, started_at, updated_at, answered_in_round) == (1, INITIAL_PRICE, deployed_at, deployed_at, 1)


def test_set_answer_opens_a_round_stamped_with_the_block_time(feed, deployer, chain):
    push_time = chain.blocks.head.timestamp + 3_600
    chain.pending_timestamp = push_time
    receipt = feed.setAnswer(1_23456789, sender=deployer)
    assert feed.latestRoundData() == (2, 1_23456789, push_time, push_time, 2)
    assert feed.getRoundData(1)[1] == INITIAL_PRICE
    assert feed.latestAnswer() == 1_23456789
    (event,) = receipt.decode_logs(feed.AnswerUpdated)
    assert (event.current, event.roundId, event.updatedAt) == (1_23456789, 2, push_time)


def test_bad_prices_are_stored_for_consumers_to_refuse(feed, deployer):
    feed.setAnswer(0, sender=deployer)
    assert feed.latestRoundData()[1] == 0
    feed.setAnswer(-5, sender=deployer)
    assert feed.latestRoundData()[1] == -5


def test_unknown_rounds_revert(feed):
    with ape.reverts(feed.RoundNotFound, roundId=0):
        feed.getRoundData(0)
    with ape.reverts(feed.RoundNotFound, roundId=2):
        feed.getRoundData(2)


def test_stranger_cannot_set_answer(feed, stranger):
    with ape.reverts(feed.OwnableUnauthorizedAccount, account=stranger.address):
        feed.setAnswer(1, sender=stranger)
    assert feed.latestRoundData()[1] == INITIAL_PRICE
