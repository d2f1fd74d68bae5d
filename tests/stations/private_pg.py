"""A PostgreSQL cluster of the test's own (``initdb`` + ``pg_ctl`` on a temporary directory and
port), for tests that restart PostgreSQL mid-run: restarting the machine's shared cluster
(``pg_ctlcluster … restart``) would cut the connections of every other test running beside
it. The same server binaries, restarted the same way (``pg_ctl restart``, fast shutdown: every
connection is cut)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stations.agents import free_port


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    path = Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
    return path if (path / "initdb").exists() else None


def _as_owner(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: the cluster belongs to the postgres user
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PrivateCluster:
    bindir: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run(_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]),
                       check=True, capture_output=True, timeout=60)

    def restart(self) -> None:
        """Fast shutdown (every connection cut) and start again, waiting until it answers."""
        self.ctl("restart", "-m", "fast", "-w", "-l", str(self.data / "log"))


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    """The cluster, in a directory of its own under the system's temporary directory (the
    postgres user must reach it: pytest's own temporary directories are the caller's only)."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (pg_config --bindir with initdb) not found")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start a cluster as postgres")
    tmp = Path(tempfile.mkdtemp(prefix="labctl-pg-"))
    data = tmp / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                              "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{data}'\nfsync = off\n")
    cluster = PrivateCluster(bindir, data, port)
    cluster.ctl("start", "-w", "-l", str(data / "log"))
    try:
        yield cluster
    finally:
        cluster.ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(tmp, ignore_errors=True)
