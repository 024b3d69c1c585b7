"""SimToken: decimals as deployed, minting for the owner only."""

import ape
import pytest


@pytest.mark.parametrize("decimals", [6, 8, 18])
def test_decimals_and_owner_mint(make_token, deployer, whale, decimals):
    token = make_token("TOK", decimals)
    assert token.decimals() == decimals
    assert token.owner() == deployer.address
    token.mint(whale, 123 * 10**decimals, sender=deployer)
    assert token.balanceOf(whale) == 123 * 10**decimals
    assert token.totalSupply() == 123 * 10**decimals


def test_stranger_cannot_mint(make_token, stranger):
    token = make_token("TOK", 18)
    with ape.reverts(token.OwnableUnauthorizedAccount, account=stranger.address):
        token.mint(stranger, 1, sender=stranger)
    assert token.totalSupply() == 0
