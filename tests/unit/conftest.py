"""Unit tests run no engine, so the secrets passphrase `make` exports is not theirs: the program refuses
the default one for any stack but `local`, and the mocks' stack is called "test"."""

import os

for _name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
    os.environ.pop(_name, None)
