"""Links that must stay on the site — message links and every `next=` — are checked as a
browser parses them: backslashes, scheme-relative, whitespace-smuggled and percent-encoded
variants are refused."""

from __future__ import annotations

import pytest

from townsquare.core.text import is_local_path
from townsquare.web.forms import safe_next

OFF_SITE = [
    "/\\evil.example/phish", "\\/evil.example", "//evil.example", "/\\/evil.example",
    "https://evil.example", "javascript:alert(1)", "/%5Cevil.example", "/%2F%2Fevil.example",
    "%2F%2Fevil.example", "/%252F%252Fevil.example", "/%5c%5cevil.example", "/\t/evil.example",
    "/\n/evil.example", " //evil.example", "/ /evil.example", "/a\\b", "", "evil.example",
    "/%25252525252F",
]
ON_SITE = ["/", "/community/com_abc/declare", "/me?tab=inbox", "/search?q=%E9%B2%9C",
           "/apps/ma_1#top"]


@pytest.mark.parametrize("link", OFF_SITE)
def test_off_site_links_are_refused(link):
    assert not is_local_path(link)
    assert safe_next(link) == "/"


@pytest.mark.parametrize("link", ON_SITE)
def test_site_paths_pass(link):
    assert is_local_path(link) and safe_next(link) == link


def test_login_next_never_leaves_the_site(client, make_user):
    from tests.conftest import PASSWORD

    user = make_user()
    for target in ("/\\evil.example/phish", "/%2F%2Fevil.example"):
        response = client.post("/login", data={"username": user.username, "password": PASSWORD,
                                               "next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_message_link_to_another_site_is_refused(database, settings, make_user):
    from sqlalchemy import select

    from tests.miniapps.shell_data import make_miniapp
    from townsquare.accounts.models import User
    from townsquare.core.errors import ValidationFailed
    from townsquare.messaging import service as messaging
    from townsquare.messaging.models import Subscription
    from townsquare.miniapps.models import MiniApp

    app_id = make_miniapp(database).id
    user = make_user()
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == app_id))
        template = messaging.ensure_template(db, miniapp=miniapp, key="hi", title="你好",
                                             body="{name}")
        db.add(Subscription(user_id=user.id, template_id=template.id))
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        messaging.send(db, settings=settings, miniapp=db.merge(miniapp), user=db.get(User, user.id),
                       key="hi", data={"name": "x"}, link="/\\evil.example/phish")
