"""The shared name patterns (components/layout.py). Deployed stacks depend on them: a changed pattern would
orphan running sandbox VMs and containers and leave a second nginx site beside the first."""

from __future__ import annotations

from components.containers.spec import site_name as container_site_name
from components.layout import container_name, stack_label
from tests.unit.test_containers_mocks import site_args


def test_names_of_a_stacks_things() -> None:
    assert stack_label("local") == "wayshub-local"
    assert container_name("local", "app1") == "wayshub-local-app1"


def test_containers_mode_keeps_its_underscored_site_name() -> None:
    assert container_site_name(site_args("my-stack")) == "wayshub_my_stack"
