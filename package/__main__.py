"""The wayshub component package's plugin: serves the Site (package/site_component.py) to the engine, which
asks it for the schema (`pulumi package add`, `package get-schema`) and to construct each Site a program
declares, in any language.

The engine runs this folder with the python3 first on PATH (docs/package.md): it needs the packages
of requirements.txt. The repo (this folder's parent) goes first on ``sys.path`` here, so ``components`` and
``package`` are imported from this checkout and nothing has to be installed for them.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from package.site_component import serve  # noqa: E402  (after the repo is on the path)

if __name__ == "__main__":
    serve(REPO, sys.argv[1:])
