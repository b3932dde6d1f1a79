"""Validation shared by frozen configs: fields that are ``(low, high)`` ranges."""

from __future__ import annotations


def store_ranges(config, names, cast=None) -> None:
    """Check that each field in ``names`` of the frozen dataclass ``config`` is a ``(low, high)`` pair with
    ``0 <= low <= high``, and store it as a tuple (its items passed through ``cast`` when given).

    Raises
    ------
    ValueError
        Naming the field and the value given.
    """
    for name in names:
        given = getattr(config, name)
        value = tuple(given if cast is None else (cast(v) for v in given))
        if len(value) != 2 or value[0] > value[1] or value[0] < 0:
            raise ValueError(f"{name} must be a (low, high) pair with 0 <= low <= high, got {given}")
        object.__setattr__(config, name, value)
