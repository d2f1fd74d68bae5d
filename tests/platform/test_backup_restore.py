"""The backup and restore of docs/deployment.md, as written there: the test runs the doc's
two code blocks (backup; restore and ``labctl audit verify``) with bash, so the commands a
deployment follows are the ones tested.

A fresh PostgreSQL database is seeded through the API of a live server with the test world
and a traceability chain of three issued certificates (PDF, signed DCC, sealed audit
events); it is dumped with ``pg_dump -Fc``, restored with ``pg_restore`` into another fresh
database, and the restored audit trail must verify against the checkpoint exported at the
backup, with every table holding as many rows as the original.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from labctl.api import create_app
from labctl.platform.audit import use_key
from labctl.platform.db import make_engine, migrate
from labctl.platform.settings import Settings
from tests.fixtures.db import LiveServer, build_world
from tests.platform.chain import build_chain

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"

pytestmark = pytest.mark.postgres


def doc_block(name: str) -> str:
    """The bash block after the ``<!-- name: … -->`` marker in the deployment guide."""
    found = re.search(rf"<!-- {name}:[^>]*-->\s*```bash\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"no <!-- {name}: … --> bash block in {DOC}"
    return found.group(1)


def libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools take it (``postgresql://``, no driver)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run_block(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", doc_block(name)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{name}: {done.stdout}\n{done.stderr}"
    return done


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in tables}
    finally:
        engine.dispose()


@pytest.mark.timeout(240)
def test_the_documented_backup_restores_a_database_whose_audit_trail_verifies(
        postgres_database_factory, tmp_path: Path):
    for tool in ("pg_dump", "pg_restore", "createdb", "tar"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (PostgreSQL client tools)")
    source = postgres_database_factory()
    keys = tmp_path / "keys"
    engine = make_engine(source)
    migrate(engine)
    use_key(engine, keys)
    try:
        settings = Settings(database_url=source, keys_dir=keys, migrate_on_start=False)
        with LiveServer(create_app(settings)) as url, \
                httpx.Client(base_url=url, timeout=60) as api:
            world = build_world(url, engine, "BK" + secrets.token_hex(2).upper())
            chain = build_chain(api, world)
    finally:
        engine.dispose()

    restore_db = f"labctl_test_{secrets.token_hex(6)}"
    admin = os.environ["LABCTL_TEST_POSTGRES_URL"]
    restore_url = sa.make_url(source).set(database=restore_db).render_as_string(
        hide_password=False)
    bindir = str(Path(sys.executable).parent)  # this environment's labctl
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
           "LABCTL_DATABASE_URL": libpq(source), "LABCTL_KEYS_DIR": str(keys),
           "BACKUP": str(tmp_path / "backup" / "2026-12-05"),
           "PG_ADMIN_URL": libpq(admin), "RESTORE_DB": restore_db,
           "RESTORE_URL": libpq(restore_url), "RESTORE_KEYS": str(tmp_path / "restored-keys")}
    (tmp_path / "backup").mkdir()
    try:
        run_block("backup", env, tmp_path)
        before = row_counts(source)
        for backup in ("2026-12-05.dump", "2026-12-05.keys.tar.gz",
                       "2026-12-05.checkpoint.json"):
            assert (tmp_path / "backup" / backup).stat().st_size > 0, backup
        shutil.rmtree(keys)  # the restore works from the backup set alone
        done = run_block("restore", env, tmp_path)
        intact = re.search(r"audit trail intact: (\d+) events", done.stdout)
        assert intact, done.stdout
        assert int(intact.group(1)) == before["audit_event"] > 0
        held = re.search(r"(\d+) checkpoints hold", done.stdout)
        assert held and int(held.group(1)) >= 1, done.stdout  # the exported one among them
        after = row_counts(restore_url)
        # the clean verify signed one new checkpoint in the restored database; nothing else
        assert after.pop("audit_checkpoint") == before.pop("audit_checkpoint") + 1
        assert after == before
        assert before["certificate"] >= 3
        # the restored certificates are the issued ones, with their documents
        engine = make_engine(restore_url)
        try:
            with engine.connect() as conn:
                issued = dict(conn.execute(sa.text(
                    "SELECT number, status FROM certificate WHERE number IN (:a, :b, :c)"),
                    {"a": chain.c1["number"], "b": chain.c2["number"],
                     "c": chain.c3["number"]}).all())
        finally:
            engine.dispose()
        assert issued == {c["number"]: "issued" for c in (chain.c1, chain.c2, chain.c3)}
    finally:
        drop = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with drop.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{restore_db}" WITH (FORCE)')
        drop.dispose()
