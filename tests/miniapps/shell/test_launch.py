"""Launch contexts without a database: signing, verifying, rotation, pseudonymous ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from townsquare.miniapps.shell import launch
from townsquare.miniapps.shell.launch import TokenInvalid

SECRET = b"launch-test-secret"
NOW = 1_770_000_000.0
KEYS = launch.keys_from_text(launch.published_keys(SECRET))
SUB = launch.pseudonymous_id(SECRET, "usr_alice", "ma_shop")
TOKEN = launch.issue(SECRET, app="ma_shop", sub=SUB, locale="zh_CN", now=NOW)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def check(token: str, *, app: str = "ma_shop", now: float = NOW, keys=KEYS):
    return launch.verify(token, keys, app=app, now=now, max_age=300)


def test_a_fresh_token_verifies_with_the_published_keys():
    context = check(TOKEN)
    assert (context.app, context.sub, context.iat, context.locale) == ("ma_shop", SUB, NOW, "zh_CN")
    assert len(context.nonce) >= 16
    assert TOKEN.startswith("launch-1.")


def test_every_token_has_its_own_nonce():
    again = launch.issue(SECRET, app="ma_shop", sub=SUB, locale="zh_CN", now=NOW)
    assert again != TOKEN
    assert check(again).nonce != check(TOKEN).nonce


def test_an_old_token_is_rejected():
    assert check(TOKEN, now=NOW + 300).sub == SUB
    with pytest.raises(TokenInvalid):
        check(TOKEN, now=NOW + 301)


def test_a_token_from_the_future_is_rejected():
    with pytest.raises(TokenInvalid):
        check(TOKEN, now=NOW - 120)


def test_a_token_for_another_miniapp_is_rejected():
    with pytest.raises(TokenInvalid):
        check(TOKEN, app="ma_other")


def test_an_unknown_key_id_is_rejected():
    token = launch.issue(SECRET, app="ma_shop", sub=SUB, locale="en", now=NOW, kid="launch-9")
    with pytest.raises(TokenInvalid):
        check(token)


def test_keys_of_another_secret_reject_the_token():
    other = launch.keys_from_text(launch.published_keys(b"another secret"))
    with pytest.raises(TokenInvalid):
        check(TOKEN, keys=other)


def test_rotation_accepts_old_and_new_kid_while_both_are_published():
    kids = ("launch-1", "launch-2")
    both = launch.keys_from_text(launch.published_keys(SECRET, kids))
    new = launch.issue(SECRET, app="ma_shop", sub=SUB, locale="en", now=NOW, kid="launch-2")
    assert check(new, keys=both).locale == "en"
    assert check(TOKEN, keys=both).sub == SUB
    with pytest.raises(TokenInvalid):
        check(new)  # not yet published under the default key set
    assert set(both) == set(kids) and both["launch-1"] != both["launch-2"]


def test_pseudonymous_ids_are_stable_per_pair_and_unlinkable_across_miniapps():
    assert launch.pseudonymous_id(SECRET, "usr_alice", "ma_shop") == SUB
    other_app = launch.pseudonymous_id(SECRET, "usr_alice", "ma_clinic")
    other_user = launch.pseudonymous_id(SECRET, "usr_bob", "ma_shop")
    assert len({SUB, other_app, other_user}) == 3
    assert SUB.startswith("ou_") and len(SUB) == 3 + launch.SUB_LENGTH
    assert "alice" not in SUB and "shop" not in SUB
    # separators cannot be shifted between the two parts to forge another pair's id
    assert launch.pseudonymous_id(SECRET, "usr_a", "lice") != launch.pseudonymous_id(
        SECRET, "usr_al", "ice"
    )


def test_a_huge_or_empty_token_is_rejected_without_work():
    for token in ("", "x" * 5000, "a.b", "..", "launch-1..", TOKEN + "."):
        with pytest.raises(TokenInvalid):
            check(token)


@given(position=st.integers(min_value=0), replacement=st.sampled_from(B64 + ".=!~ é"))
def test_any_changed_character_is_rejected(position: int, replacement: str):
    position %= len(TOKEN)
    if TOKEN[position] == replacement:
        replacement = "A" if replacement != "A" else "B"
    altered = TOKEN[:position] + replacement + TOKEN[position + 1:]
    with pytest.raises(TokenInvalid):
        check(altered)


@given(position=st.integers(min_value=0), text=st.text(min_size=1, max_size=4))
def test_any_insertion_is_rejected(position: int, text: str):
    position %= len(TOKEN) + 1
    with pytest.raises(TokenInvalid):
        check(TOKEN[:position] + text + TOKEN[position:])


@given(start=st.integers(min_value=0), length=st.integers(min_value=1, max_value=10))
def test_any_deletion_is_rejected(start: int, length: int):
    start %= len(TOKEN)
    with pytest.raises(TokenInvalid):
        check(TOKEN[:start] + TOKEN[start + length:])


@given(st.text(max_size=400))
def test_garbage_never_raises_anything_but_token_invalid(garbage: str):
    with pytest.raises(TokenInvalid):
        check(garbage)
