"""The localization toy fixtures, shared with the plotting tests."""

from tests.localization.conftest import toy, toy_model, toy_peaks  # noqa: F401
