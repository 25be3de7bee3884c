"""Every user-facing string has a Chinese translation in its own package's catalogue."""

from pathlib import Path

from babel.messages.extract import extract_from_dir

from townsquare.core import i18n

PACKAGE = Path(i18n.__file__).resolve().parent.parent
# Error constructors take a msgid as their first argument, like gettext.
ERRORS = (
    "TownsquareError",
    "ValidationFailed",
    "NotFound",
    "PermissionDenied",
    "AuthenticationRequired",
    "Conflict",
    "RateLimited",
)
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    **{name: None for name in ERRORS},
}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def untranslated() -> dict[str, list[str]]:
    zh = i18n.catalogue("zh_CN")
    missing: dict[str, list[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE),
        METHODS,
        keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        messages = message if isinstance(message, tuple) else (message,)
        for msgid in messages:
            if msgid and msgid not in zh:
                missing.setdefault(filename.split("/")[0], []).append(msgid)
    return missing


def test_every_message_has_a_chinese_translation():
    missing = untranslated()
    assert missing == {}, "add these to <package>/locale/zh_CN.po: " + repr(missing)


def test_chinese_is_the_default_and_english_on_request(client):
    assert "登录" in client.get("/login").text
    assert "Log in" in client.get("/login?lang=en").text
    assert "Log in" in client.get("/login").text  # the choice is remembered in a cookie


def test_the_language_switch_keeps_the_page_and_its_query(client):
    page = client.get("/search", params={"q": "买菜"}).text
    assert 'href="/search?q=%E4%B9%B0%E8%8F%9C&amp;lang=en" class="lang"' in page
    # a page answering a POST (here a refused login) switches on the page the form was on,
    # never on the POST's own address with a relative "?lang=…"
    refused = client.post("/login", data={"username": "nobody", "password": "wrong-password-1"},
                          headers={"referer": "http://testserver/login?next=%2Fme"})
    assert 'href="/login?next=%2Fme&amp;lang=en" class="lang"' in refused.text
    elsewhere = client.post("/login", data={"username": "nobody", "password": "wrong-password-1"},
                            headers={"referer": "https://elsewhere.example/x"})
    assert 'href="/?lang=en" class="lang"' in elsewhere.text


def test_no_msgid_is_translated_two_ways():
    """The catalogues are merged into one: a msgid two packages translate differently shows
    the last package's words on the other's pages (the address book's "Receiver" read 分账接收方,
    the rider's "Hand over" button 核销出货). Each msgid has one Chinese text."""
    from babel.messages.pofile import read_po

    seen: dict[str, dict[str, str]] = {}
    for po_path in sorted(PACKAGE.glob("*/locale/zh_CN*.po")):
        with po_path.open("rb") as fh:
            for message in read_po(fh, locale="zh_CN"):
                if message.id and isinstance(message.id, str) and message.string:
                    where = str(po_path.relative_to(PACKAGE))
                    seen.setdefault(message.id, {})[where] = message.string
    twice = {msgid: places for msgid, places in seen.items()
             if len(set(places.values())) > 1}
    assert twice == {}
