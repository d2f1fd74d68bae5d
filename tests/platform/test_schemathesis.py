"""Property-based fuzzing of every operation in the OpenAPI schema with ALL of schemathesis's
response checks (``--checks all``: no 500, status codes documented, content types and
headers as documented, bodies conform to the response schemas, invalid data rejected, valid
data accepted, auth not ignored, unsupported methods refused, ...), bounded.

Each operation gets a handful of generated requests, valid and invalid, as an anonymous
client, as an ordinary user (a laboratory's technician) and as the administrator, against the
live server. The operations are walked by hand (schemathesis's pytest plugin does not load
under this pytest).
"""

from __future__ import annotations

import contextlib
import secrets
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic_core.core_schema import ErrorType
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, is_check_class, load_all_checks, positive_data_acceptance

from tests.fixtures.db import PASSWORD, LiveServer, World, _fresh_url, build_world

EXAMPLES = 5
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


#: pydantic's own error types, each from a constraint the JSON schema states (type, length,
#: pattern, bounds, enum, ...); ``value_error`` and ``assertion_error`` come from a model's
#: own validators, which the schema cannot state.
SCHEMA_RULES = frozenset(typing.get_args(ErrorType)) - {"value_error", "assertion_error"}


def positive_data_acceptance_but_rules(ctx: object, response: object, case: object
                                       ) -> bool | None:
    """``positive_data_acceptance``, except for a 422 from a rule a JSON schema cannot state:
    a laboratory rule or a check across fields (``range_min`` ≤ ``range_max``, a mean
    between its minimum and maximum), or one of the platform's bounds on values and dates
    (significant digits and magnitude, a date not in the future or before 1950, a due date
    within ten years of its calibration), i.e. an answer without the request validation's
    ``errors`` list, or one whose every error was raised by a model's own validator: a rule
    of the platform's own (``uncertainty_not_positive``, ``limits_paired``, ...) or a
    ``value_error``, not one of pydantic's schema constraints (:data:`SCHEMA_RULES`)."""
    try:
        return positive_data_acceptance(ctx, response, case)  # type: ignore[arg-type]
    except AssertionError:
        if getattr(response, "status_code", None) == 422:
            body = response.json()  # type: ignore[attr-defined]
            errors = body.get("errors")
            if errors is None or all(e["rule"] not in SCHEMA_RULES for e in errors):
                return None
        raise


def all_checks() -> list[Callable[..., object]]:
    """Every per-response check schemathesis has (what ``--checks all`` runs per response;
    the stateful checks that need a whole recorded run are classes and are left out)."""
    load_all_checks()
    checks = [positive_data_acceptance_but_rules if c is positive_data_acceptance else c
              for c in CHECKS.get_all() if not is_check_class(c)]
    names = {c.__name__ for c in checks} | {"positive_data_acceptance"}
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance",
            "response_headers_conformance", "response_schema_conformance",
            "negative_data_rejection", "positive_data_acceptance", "ignored_auth",
            "unsupported_method", "missing_required_header"} <= names, names
    return checks


def _login(url: str, username: str) -> dict[str, str]:
    resp = httpx.post(f"{url}/api/v1/auth/token", json={"username": username,
                                                        "password": PASSWORD}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@contextlib.contextmanager
def fuzzed_platform(backend: str, keys_dir: Path, tmp: Path,
                    request: pytest.FixtureRequest) -> Iterator[tuple[str, World]]:
    """A server and database of its own on ``backend``: the fuzzer revokes tokens,
    deactivates people and locks logins at random ids, which must not reach the other tests'
    shared world. One file per backend, so the two fuzz runs go to different workers."""
    from labctl.api import create_app
    from labctl.platform.audit import use_key
    from labctl.platform.db import make_engine, migrate
    from labctl.platform.settings import Settings

    url = _fresh_url(backend, tmp, request)
    engine = make_engine(url)
    migrate(engine)
    use_key(engine, keys_dir)  # events written here are sealed like the server's
    settings = Settings(database_url=url, keys_dir=keys_dir, migrate_on_start=False,
                        public_url="https://labctl.test", login_address_failure_limit=100_000)
    try:
        with LiveServer(create_app(settings)) as base:
            yield base, build_world(base, engine, "F" + secrets.token_hex(2).upper())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def fuzzed_sqlite(keys_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Iterator[tuple[str, World]]:
    with fuzzed_platform("sqlite", keys_dir, tmp_path_factory.mktemp("fuzz"), request) as f:
        yield f


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_every_operation_passes_all_checks_on_sqlite(fuzzed_sqlite: tuple[str, World]
                                                     ) -> None:
    fuzz_every_operation(*fuzzed_sqlite)


def fuzz_every_operation(platform_url: str, world: World) -> None:
    """Every operation, both generation modes, as each identity, with every check."""
    schema = schemathesis.openapi.from_url(f"{platform_url}/openapi.json")
    # NUL in text is refused with a 422 everywhere (tests/security/test_http.py): the
    # schemas do not repeat it on every string
    schema.config.generation.update(allow_x00=False)
    checks = all_checks()
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 30
    su_name = next(iter(world.usernames.values())).split("-")[0]  # "w1a2b": root-w1a2b
    # Own tokens: the fuzzer may revoke the token it calls DELETE /auth/token with.
    identities: dict[str, Callable[[], dict[str, str] | None]] = {
        "anonymous": lambda: None,
        "technician": lambda: tokens["technician"],
        "administrator": lambda: tokens["administrator"],
    }
    usernames = {"technician": world.usernames[("lab", "technician")],
                 "administrator": f"root-{su_name}"}
    tokens = {name: _login(platform_url, username) for name, username in usernames.items()}
    failures: list[str] = []
    calls = {name: 0 for name in identities}
    for op in operations:
        for mode in MODES:

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case: schemathesis.Case) -> None:
                revokes = case.method.upper() == "DELETE" and case.path == "/api/v1/auth/token"
                for name, headers in identities.items():
                    if revokes and name in usernames:
                        tokens[name] = _login(platform_url, usernames[name])
                    case.call_and_validate(checks=checks, headers=headers())
                    calls[name] += 1

            try:
                run()
            except Unsatisfiable:  # nothing in the operation can be made invalid
                assert mode is GenerationMode.NEGATIVE, op.path
            except (Exception, BaseExceptionGroup) as exc:  # collect them all, then report
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: "
                                f"{str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
    # every operation was really exercised by each identity, both ways
    assert all(n >= 2 * len(operations) for n in calls.values()), calls
