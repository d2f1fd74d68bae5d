"""A station's two ends: where the runner's register comes from, where a run's result goes.

One interface (:class:`Station`), three kinds of station:

- :class:`EmbeddedStation` — the platform's database on this machine (``labctl run --lab``, a
  server's own benches): the register is the database itself (:class:`PlatformRegister`, as
  of the time of each check) and a completed run becomes a draft certificate in it
  (:func:`~labctl.platform.stations.drafts.draft_from_run`), posted as its operator;
  a completed *check* run files its checks on the standard's control chart instead
  (:func:`~labctl.platform.quality.checks.file_check_run`);
- :class:`RemoteStation` — a platform over HTTP with a station token (``labctl run
  --post``): the register is the snapshot the platform exports (``GET
  /api/v1/stations/register``), and the run is posted back (``POST /api/v1/stations/runs``,
  a check run to ``POST /api/v1/stations/checks``; both idempotent on the run id);
- :class:`OfflineStation` — a snapshot file and no platform (``labctl run --register``): the
  run stays in the station's journal (and ``--json``) until it is posted.

The command line and the server's benches both take their register and deliver their results
here, so the three ways a run reaches a certificate cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from labctl.errors import NotFoundError, RuleViolationError, ValidationError
from labctl.platform.accounts.auth import principal_for_user
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.audit import use_key
from labctl.platform.db import make_engine
from labctl.platform.models.org import User
from labctl.platform.models.quality import FiledChecks
from labctl.platform.quality import file_check_run
from labctl.platform.stations.drafts import draft_from_run, is_check
from labctl.platform.stations.register import PlatformRegister
from labctl.procedures.catalog import procedure_class
from labctl.procedures.interfaces import StandardsRegister
from labctl.procedures.register import RegisterSnapshot
from labctl.procedures.results import RunResult

#: How long a remote platform may take to answer, s.
REMOTE_TIMEOUT = 30.0


@dataclass(frozen=True)
class DraftDetails:
    """What a draft certificate needs beyond the run itself. ``decision_rule``: ``None``
    states the run's own (the usual case); a rule named must be the run's."""

    customer_name: str
    customer_code: str | None
    item_description: str
    method: str
    location: str
    decision_rule: str | None = None

    @classmethod
    def for_run(cls, result: RunResult, *, customer_name: str, customer_code: str | None,
                location: str) -> DraftDetails:
        """The details a station states for its own run: the item and the method are those
        of the run's procedure."""
        info = procedure_class(result.procedure_id).info
        return cls(customer_name=customer_name, customer_code=customer_code,
                   item_description=info.device_type.capitalize(), method=info.title,
                   location=location)


class Station(Protocol):
    """Where a station's register comes from and where its completed runs go."""

    def register(self) -> StandardsRegister:
        """The register the runner checks standards and people against."""
        ...

    def deliver(self, result: RunResult, details: DraftDetails) -> str | None:
        """A completed run as a draft certificate; its number (``None``: the run stays in
        the station's journal, nothing was delivered). A check run files its checks instead:
        the answer says what they did (:func:`checks_filed`)."""
        ...

    def close(self) -> None: ...


class EmbeddedStation:
    """The platform's database on this machine, for the laboratory ``laboratory_code``.

    ``engine``: an engine the caller owns (a server's); :meth:`open` makes one from a
    database URL that this station owns, closed by :meth:`close`."""

    def __init__(self, engine: Engine, laboratory_code: str, *, owns_engine: bool = False
                 ) -> None:
        self.engine = engine
        self.laboratory_code = laboratory_code
        self._owns_engine = owns_engine

    @classmethod
    def open(cls, database_url: str, keys_dir: str | Path, laboratory_code: str
             ) -> EmbeddedStation:
        """The database at ``database_url``; the drafts this station writes are audited as
        the server's writes are (sealed with the audit key in ``keys_dir``)."""
        engine = make_engine(database_url)
        try:
            use_key(engine, keys_dir)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, laboratory_code, owns_engine=True)

    def register(self) -> PlatformRegister:
        return PlatformRegister(self.engine, self.laboratory_code)

    def deliver(self, result: RunResult, details: DraftDetails, *, poster: Any = None) -> str:
        """The run as a draft in the database; ``poster``: who makes it (a station or a
        technician of the laboratory; ``None``: the run's operator)."""
        if is_check(result):
            return checks_filed(self.file_checks(result, poster=poster))
        with Session(self.engine) as session:
            cert = draft_from_run(session, laboratory_code=self.laboratory_code, result=result,
                                  poster=poster, **asdict(details))
            return str(cert.number)

    def file_checks(self, result: RunResult, *, poster: Any = None) -> FiledChecks:
        """A completed check run filed on its standard's chart; ``poster``: who files it (a
        station or a technician of the laboratory; ``None``: the run's operator)."""
        with Session(self.engine, expire_on_commit=False) as session:
            lab = org_by_code(session, self.laboratory_code)
            assert lab.id is not None
            if poster is None:
                user = session.exec(select(User).where(User.username == result.operator)
                                    ).first()
                if user is None:
                    raise NotFoundError("user", result.operator)
                poster = principal_for_user(session, user)
            return file_check_run(session, poster, laboratory_id=lab.id, result=result)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


class RemoteStation:
    """A platform at ``url`` (``http(s)://host:port``) that knows this station by ``token``."""

    def __init__(self, url: str, token: str) -> None:
        if not token:
            raise ValidationError("station token", "", "the station's bearer token for the "
                                  f"platform at {url}")
        self.url, self.token = url, token

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=REMOTE_TIMEOUT,
                            headers={"Authorization": f"Bearer {self.token}"})

    def register(self) -> RegisterSnapshot:
        """The snapshot the platform exports for this station's laboratory, as of now."""
        try:
            with self._client() as client:
                resp = client.get("/api/v1/stations/register")
        except httpx.HTTPError as exc:
            raise ValidationError("platform", self.url, f"a platform that answers the "
                                  f"station ({type(exc).__name__}: {exc})") from None
        if resp.status_code != 200:
            raise ValidationError("platform", self.url, f"a platform that answers the "
                                  f"station ({resp.status_code}: {resp.text[:200]})")
        return RegisterSnapshot.from_dict(resp.json())

    def deliver(self, result: RunResult, details: DraftDetails) -> str:
        """Post the run; a retry (after a timeout) answers the draft made the first time. A
        check run is posted to the standard's checks (:func:`checks_filed` answers)."""
        check = is_check(result)
        body: dict[str, Any] = {"result": result.to_dict()} if check else {
            "result": result.to_dict(), **asdict(details)}
        try:
            with self._client() as client:
                resp = client.post("/api/v1/stations/checks" if check
                                   else "/api/v1/stations/runs", json=body)
        except httpx.HTTPError as exc:
            raise RuleViolationError("post_refused", f"the platform at {self.url} did not "
                                     f"answer ({type(exc).__name__}: {exc})") from None
        if resp.status_code not in (200, 201):
            raise RuleViolationError("post_refused", f"the platform at {self.url} answered "
                                     f"{resp.status_code}: {resp.text[:300]}")
        if check:
            return checks_filed(FiledChecks.model_validate(resp.json()))
        return str(resp.json()["number"])

    def close(self) -> None:
        pass


def checks_filed(filed: FiledChecks) -> str:
    """What a delivered check run did, in words: the standard, its status, events opened."""
    events = "; ".join(f"event {e.id} {e.kind.value} ({', '.join(e.rules)})"
                       for e in filed.events)
    return (f"checks of {filed.standard} filed ({len(filed.checks)} points); status "
            f"{filed.status.value}" + (f"; {events}" if events else ""))


class OfflineStation:
    """A register snapshot file exported by the platform; results are not delivered."""

    def __init__(self, snapshot: str | Path) -> None:
        self.snapshot = Path(snapshot)

    def register(self) -> RegisterSnapshot:
        return RegisterSnapshot.load(self.snapshot)

    def deliver(self, result: RunResult, details: DraftDetails) -> None:
        del result, details  # the journal keeps the run until it is posted

    def close(self) -> None:
        pass


def open_station(*, snapshot: str | Path | None = None, platform_url: str | None = None,
                 token: str = "", database_url: str | None = None,
                 keys_dir: str | Path | None = None,
                 laboratory_code: str | None = None) -> Station:
    """The station for one of: a ``snapshot`` file; a remote ``platform_url`` with its
    ``token``; the embedded database at ``database_url`` (audit key in ``keys_dir``) for
    ``laboratory_code``. The first one given wins, in that order."""
    if snapshot is not None:
        return OfflineStation(snapshot)
    if platform_url:
        return RemoteStation(platform_url, token)
    if database_url and laboratory_code and keys_dir is not None:
        return EmbeddedStation.open(database_url, keys_dir, laboratory_code)
    raise ValidationError("station", None, "a register snapshot file, a platform URL with "
                          "its station token, or the platform's database and a laboratory "
                          "code")

