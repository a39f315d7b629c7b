"""The docker CLI's view of a ``ContainerSpec``: what pulumi-docker does for a spec, as ``docker create``
flags and a tar stream for ``docker cp``. Only tests use it (the unit tests check the flags; the e2e test
runs them against the real Docker engine, as the pulumi-docker provider plugin cannot be built here)."""

from __future__ import annotations

import io
import shlex
import tarfile
from collections.abc import Sequence

from components.containers.spec import ContainerSpec, Upload


def docker_create_argv(spec: ContainerSpec, network: str, image: str) -> list[str]:
    """``docker create`` for ``spec`` (then ``docker cp`` the uploads, then ``docker start``).

    What pulumi-docker does for the same spec; used by the e2e test on the real engine.
    """
    argv = ["docker", "create", "--name", spec.name]
    if spec.network_of:  # its namespace: no hostname or address of its own
        argv += ["--network", f"container:{spec.network_of}"]
    else:
        argv += ["--hostname", spec.hostname, "--network", network, "--ip", spec.ipv4_address]
    argv += ["--restart", spec.restart, "--stop-timeout", str(spec.stop_timeout)]
    if spec.stop_signal:
        argv += ["--stop-signal", spec.stop_signal]
    for key, value in sorted(spec.labels.items()):
        argv += ["--label", f"{key}={value}"]
    for variable, setting in sorted(spec.env.items()):
        if not isinstance(setting, str):
            raise TypeError(f"{spec.name}: env {variable} is not plain text; the docker CLI path takes plain values")
        argv += ["--env", f"{variable}={setting}"]
    for port in spec.published:
        argv += ["--publish", f"{port.bind_address}:{port.host_port}:{port.container_port}"]
    for host, ip in spec.pinned_hosts:
        argv += ["--add-host", f"{host}:{ip}"]
    if spec.read_only:
        argv.append("--read-only")
    for path, options in sorted(spec.tmpfs.items()):
        argv += ["--tmpfs", f"{path}:{options}"]
    for cap in spec.cap_drop:
        argv += ["--cap-drop", cap]
    for cap in spec.cap_add:
        argv += ["--cap-add", cap]
    for opt in spec.security_opts:
        argv += ["--security-opt", opt]
    if spec.init:
        argv.append("--init")
    kind, *command = spec.healthcheck.test
    argv += [
        "--health-cmd", command[0] if kind == "CMD-SHELL" else shlex.join(command),
        "--health-interval", spec.healthcheck.interval,
        "--health-timeout", spec.healthcheck.timeout,
        "--health-start-period", spec.healthcheck.start_period,
        "--health-retries", str(spec.healthcheck.retries),
    ]  # fmt: skip
    argv.append(image)
    argv += list(spec.command)
    return argv


def uploads_tar(uploads: Sequence[Upload]) -> bytes:
    """The uploads as a tar stream for ``docker cp - <container>:/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in uploads:
            data = upload.content.encode()
            info = tarfile.TarInfo(upload.path.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
