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
