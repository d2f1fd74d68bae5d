"""Property-based fuzzing of every operation in the OpenAPI schema (bounded): no 500s.

Each operation gets a handful of generated requests, anonymous and as the superuser (so the
requests get past authentication into the handlers), against the live server. The operations
are walked by hand (schemathesis's pytest plugin does not load under this pytest).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.fixtures.db import World

EXAMPLES = 5


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_no_operation_answers_500(platform_url: str, world: World) -> None:
    schema = schemathesis.openapi.from_url(f"{platform_url}/openapi.json")
    su = {"Authorization": f"Bearer {world.superuser_token}"}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[str] = []
    calls = [0]
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            for headers in (None, su):
                case.call_and_validate(checks=[not_a_server_error], headers=headers)
                calls[0] += 1

        try:
            run()
        except Exception as exc:  # collect every failing operation, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:800]}")
    assert failures == []
    assert calls[0] >= 2 * len(operations)  # every operation was really exercised
