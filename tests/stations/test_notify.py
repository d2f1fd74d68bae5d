"""Wake-ups between workers (``labctl.platform.notify``): a publish in one process's committed
transaction wakes a waiter of another engine (PostgreSQL LISTEN/NOTIFY on its own
connection), a rolled-back one does not, and a waiter nobody wakes times out."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import Session

from labctl.platform.db import make_engine
from labctl.platform.notify import Listener, publish


async def _wait(listener: Listener, key: str, timeout: float) -> tuple[bool, float]:
    start = time.monotonic()
    woken = await listener.wait(key, timeout)
    return woken, time.monotonic() - start


@pytest.mark.timeout(60)
def test_a_commit_wakes_the_waiters_of_its_key_only(database_url: str):
    waiting, writing = make_engine(database_url), make_engine(database_url)
    listener = Listener(waiting)
    try:
        assert listener.listening.wait(30)  # the listening connection is up

        async def scenario() -> None:
            task = asyncio.create_task(_wait(listener, "run:abc", 10.0))
            other = asyncio.create_task(_wait(listener, "run:other", 1.0))
            await asyncio.sleep(0.2)

            def write(commit: bool) -> None:
                with Session(writing) as session:
                    publish(session, "run:abc")
                    if commit:
                        session.commit()
                    else:
                        session.rollback()

            await asyncio.to_thread(write, False)  # rolled back: nobody wakes
            await asyncio.sleep(0.5)
            assert not task.done()
            await asyncio.to_thread(write, True)
            woken, waited = await task
            assert woken and waited < 5.0
            assert await other == (False, pytest.approx(1.0, abs=0.5))

        asyncio.run(scenario())
    finally:
        listener.close()
        waiting.dispose()
        writing.dispose()
