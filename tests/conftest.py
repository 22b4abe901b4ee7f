"""Shared fixtures for the test suite.

- ``x64``: a fixture that turns on float64 for one test and restores the previous setting after,
  for numeric gradient checks (``jax.test_util.check_grads``) that need double precision.
- Hypothesis runs without a deadline: the first call of a JAX function on a new shape compiles,
  which would otherwise trip the per-example deadline at random.
"""

from __future__ import annotations

import jax
import pytest

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ntm",
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("ntm")
except ImportError:  # hypothesis is a dev extra; tests that need it skip themselves
    pass


@pytest.fixture
def x64():
    """Enable float64 for the duration of a test, then restore the previous setting."""
    with jax.enable_x64(True):
        yield

