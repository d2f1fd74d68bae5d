"""Shared test configuration.

Fixtures live in ``tests/fixtures/`` by subject (the simulated bench, the databases) and are
loaded here as plugins, so every test folder can use them.
"""

pytest_plugins = [
    "tests.fixtures.bench",
    "tests.fixtures.db",
]
