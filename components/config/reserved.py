"""Names the app may not take (``app.name``): its user, its unit ``<name>.service`` and its folders
``/opt/<name>`` and ``/etc/<name>`` would shadow or, on teardown, remove the system's own.

A deny list (Debian's base users and groups from base-passwd, the daemons and units a server commonly runs,
the words sudo and systemd use) and a rule (any name starting with a prefix systemd, OpenSSH, sudo, D-Bus or
getty name their units and users with). On the host, components/app/host/base.sh still refuses any user or
unit already there that we did not make: this list only says so before any resource.
"""

from __future__ import annotations

_NAMES = """
root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats nobody
adm tty disk kmem dialout fax voice cdrom floppy tape sudo sudoers audio dip operator src shadow utmp video
sasl plugdev staff users nogroup input render netdev kvm crontab messagebus admin wheel
ssh sshd openssh nginx apache2 httpd cron anacron atd dbus polkit polkitd rsyslog syslog journal
getty login logind network networking resolved timesyncd udev docker containerd chrony ntp postfix exim4
unattended-upgrades apt dpkg ufw firewalld iptables nftables fail2ban user init emergency rescue reboot
shutdown halt poweroff default multi-user graphical basic local-fs remote-fs sysinit wayshub-infra
"""
RESERVED_APP_NAMES = frozenset(_NAMES.split())
RESERVED_APP_PREFIXES = ("systemd", "ssh", "sudo", "dbus", "getty", "serial-getty", "user-", "polkit", "nginx")


def reserved_app_name(name: str) -> bool:
    """True if ``name`` is a system user's or unit's name, or starts like one (``systemd-journald``)."""
    return name in RESERVED_APP_NAMES or name.startswith(RESERVED_APP_PREFIXES)
