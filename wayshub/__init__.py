"""wayshub as a package: a load-balanced Node.js site on servers you own (app servers running your app, nginx in
front, the domain pointed at it) as one Pulumi component any Python program can declare (docs/package.md).

    import wayshub
    site = wayshub.Site("site", wayshub.site_args_from({"domain": "shop.example.com", ...}, Path("."), ))
    pulumi.export("url", site.url)

``settings`` are the stack settings docs/config.md lists (keys as a stack file spells them, without
``wayshub:``), checked the same way: a bad one raises ConfigError, one line naming it. The secret settings
(sshPrivateKey, appSecrets, …) come from the stack's config under ``wayshub:``, set with
`pulumi config set --secret`.
"""

from importlib.metadata import PackageNotFoundError, version

from components.config import ConfigError, StackConfig
from components.site.component import Site
from components.site.inputs import SiteArgs, Tuning, site_args_from

try:
    __version__ = version("wayshub-infra")
except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
    __version__ = "0.0.0"

__all__ = ["ConfigError", "Site", "SiteArgs", "StackConfig", "Tuning", "__version__", "site_args_from"]
