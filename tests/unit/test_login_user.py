"""The SSH login user (a sudoer) is never the app's user: a config naming the same user for both stops with
one line naming the setting (issue 28 item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, parse
from tests.unit.test_config import EXISTING, GOOD, with_change

SAME_USER = [
    (GOOD, "hosts.user", "wayshub", "wayshub: hosts.user 'wayshub' is also app.name"),
    (EXISTING, "hosts.user", "wayshub", "wayshub: hosts.user 'wayshub' is also app.name"),
    (
        EXISTING,
        "hosts.appServers.1.user",
        "wayshub",
        "wayshub: hosts.appServers[1].user 'wayshub' is also app.name",
    ),
    (EXISTING, "hosts.lbServer.user", "wayshub", "wayshub: hosts.lbServer.user 'wayshub' is also app.name"),
    (with_change(EXISTING, "app", {"name": "shop"}), "hosts.user", "shop", "wayshub: hosts.user 'shop' is also"),
]


@pytest.mark.parametrize(("base", "path", "value", "message"), SAME_USER, ids=[p for _, p, _, _ in SAME_USER])
def test_the_app_user_may_not_be_the_login_user(base: dict[str, Any], path: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(with_change(base, path, value))
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(message), text
    assert "sudo" in text


def test_the_default_login_user_is_not_the_default_app_user() -> None:
    config = parse(GOOD)
    assert (config.hosts.user, config.app.name) == ("deploy", "wayshub")


def test_containers_have_no_login_user_to_compare() -> None:
    containers = with_change(GOOD, "hosts.provider", "containers")
    assert parse(containers).hosts.user != parse(containers).app.name, "the defaults differ anyway"
    with pytest.raises(ConfigError, match=r"^wayshub: hosts.user does not apply with hosts.provider 'containers'"):
        parse(with_change(containers, "hosts.user", "wayshub"))
