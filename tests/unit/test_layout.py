"""The shared name patterns (components/layout.py). Deployed stacks depend on them: a changed pattern would
orphan running sandbox VMs and containers and leave a second nginx site beside the first."""

from __future__ import annotations

from components.containers.spec import site_name as container_site_name
from components.layout import (
    app_component,
    container_name,
    site_component,
    site_of_component,
    site_of_resource,
    stack_label,
)
from tests.unit.test_containers_mocks import site_args


def test_names_of_a_stacks_things() -> None:
    assert stack_label("local") == "wayshub-local"
    assert container_name("local", "app1") == "wayshub-local-app1"


def test_containers_mode_keeps_its_underscored_site_name() -> None:
    assert container_site_name(site_args("my-stack")) == "wayshub_my_stack"


def test_a_sites_resources_are_found_by_its_name() -> None:
    assert (app_component("app1"), app_component("app1", "shop")) == ("app1-app", "shop-app1-app")
    assert site_of_resource("shop-app1-app-release", ["sho", "shop"]) == "shop"
    assert site_of_resource("shopx-lb-site", ["shop", "shopx"]) == "shopx"
    assert site_of_resource("app1-app-release", ["shop", "app"]) == ""
    assert [site_of_component(n) for n in (site_component("shop"), "site", "shop-lb", "-site")] == ["shop", "", "", ""]
