"""Unit tests run no engine, so the secrets passphrase `make` exports is not theirs: the program refuses
the default one for any stack but `local`, and the mocks' stack is called "test"."""

import os

import pytest

for _name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _no_lb_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program reads which LB holds a shared address (components/load_balancer/holder.py) through Docker
    or SSH; under the mocks no LB exists, and no unit test reaches for either."""
    from components.load_balancer import holder

    monkeypatch.setattr(holder, "_show", lambda config, stack, index, private_key: "")
