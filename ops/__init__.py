"""Day-2 operations on a deployed stack: status, logs, a shell and one-off commands on its hosts.

Everything comes from the stack itself (its state, outputs and config), and every SSH connection goes
through components/shell/ssh.py, with the stack's key and pinned host keys. Entry point: scripts/ops.
"""
