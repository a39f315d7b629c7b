"""The wayshub policy pack (docs/policies.md): ``rules`` holds the rules, ``__main__`` the PolicyPack."""
