"""Pass codes without a database: genuine codes verify; expired, altered, wrong-key and
wrong-community codes are refused with the right reason; rotation keeps codes in flight valid."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image

from townsquare.community.gate import codes
from townsquare.community.gate.codes import CodeKind, CodeRefused, Refusal
from townsquare.core.security import b64url, b64url_decode

SECRET = b"unit-test-secret"
COM = "com_aaaaaaaaaaaaaaaa"
OTHER = "com_bbbbbbbbbbbbbbbb"
NOW = 1_700_000_000.0


def _issue(**overrides) -> str:
    args = {
        "community": COM,
        "subject": "hh_0123456789abcdef",
        "kind": CodeKind.HOUSEHOLD,
        "now": NOW,
    } | overrides
    return codes.issue(SECRET, **args)


def _keys(community: str = COM, kids=codes.ACCEPTED_KIDS):
    return codes.public_keys(SECRET, community, kids)


def _refusal(token: str, *, now: float = NOW + 5, keys=None) -> Refusal:
    with pytest.raises(CodeRefused) as caught:
        codes.verify(token, keys or _keys(), community=COM, now=now)
    return caught.value.reason


def test_a_genuine_code_verifies_with_its_claims():
    claims = codes.verify(_issue(), _keys(), community=COM, now=NOW + 5)
    assert claims.subject == "hh_0123456789abcdef"
    assert claims.kind is CodeKind.HOUSEHOLD
    assert claims.exp - claims.iat == codes.CODE_TTL_SECONDS
    assert len(_issue()) < 260  # small enough for a QR a phone camera reads at arm's length


def test_an_expired_code_is_refused():
    token = _issue()
    assert codes.verify(token, _keys(), community=COM, now=NOW + codes.CODE_TTL_SECONDS)
    assert _refusal(token, now=NOW + codes.CODE_TTL_SECONDS + 1) is Refusal.EXPIRED


def test_a_code_from_the_future_is_refused():
    assert _refusal(_issue(now=NOW + 3600)) is Refusal.EXPIRED


def test_an_overlong_lifetime_is_refused_even_when_signed():
    assert _refusal(_issue(ttl=codes.MAX_TTL_SECONDS + 1)) is Refusal.EXPIRED


@pytest.mark.parametrize("part", [0, 1, 2])
def test_an_altered_code_is_refused(part):
    kid, payload, signature = _issue().split(".")
    pieces = [kid, payload, signature]
    if part == 1:  # change the subject inside the payload, keep the signature
        raw = b64url_decode(payload).replace(b"hh_0123456789abcdef", b"hh_0123456789abcdeg")
        pieces[1] = b64url(raw)
    else:
        text = pieces[part]
        pieces[part] = text[:-1] + ("A" if text[-1] != "A" else "B")
    assert _refusal(".".join(pieces)) is Refusal.FORGED


def test_a_code_signed_with_another_key_is_refused():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from townsquare.core.signing import sign_token

    rogue = Ed25519PrivateKey.generate()
    claims = {"c": COM, "s": "hh_x", "k": "h", "iat": int(NOW), "exp": int(NOW) + 120}
    assert _refusal(sign_token(rogue, codes.CURRENT_KID, claims)) is Refusal.FORGED
    # same claims signed by another app secret (another deployment) are refused too
    other = codes.issue(
        b"another-secret", community=COM, subject="hh_x", kind=CodeKind.HOUSEHOLD, now=NOW
    )
    assert _refusal(other) is Refusal.FORGED


def test_a_code_of_another_community_is_refused_as_such():
    token = _issue(community=OTHER)
    assert _refusal(token) is Refusal.WRONG_COMMUNITY
    # even the other community's keys cannot make it valid here
    assert _refusal(token, keys=_keys(OTHER)) is Refusal.WRONG_COMMUNITY


@pytest.mark.parametrize(
    "junk", ["", "abc", "a.b.c", "x" * 600, "p1.!!!.???", "p1..", "\x00.\x00.\x00"]
)
def test_junk_is_malformed_or_forged(junk):
    assert _refusal(junk) in (Refusal.MALFORMED, Refusal.FORGED)


def test_rotation_keeps_codes_in_flight_valid():
    old = _issue(kid="p1")
    new = _issue(kid="p2")
    both = _keys(kids=("p2", "p1"))
    assert codes.verify(old, both, community=COM, now=NOW + 5).kid == "p1"
    assert codes.verify(new, both, community=COM, now=NOW + 5).kid == "p2"
    assert _refusal(old, keys=_keys(kids=("p2",))) is Refusal.FORGED


def test_published_keys_verify_like_the_private_side():
    published = codes.published_keys(SECRET, COM)
    keys = codes.keys_from_text(published)
    assert codes.verify(_issue(), keys, community=COM, now=NOW).community == COM
    assert published != codes.published_keys(SECRET, OTHER)


def test_the_qr_decodes_back_to_the_code(tmp_path):
    import segno

    token = _issue()
    path = tmp_path / "code.png"
    segno.make(token, error="m", micro=False).save(str(path), scale=4, border=2)
    decoded = zxingcpp.read_barcodes(Image.open(path))
    assert [d.text for d in decoded] == [token]
