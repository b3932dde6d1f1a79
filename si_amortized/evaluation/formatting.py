"""Number and table formatting of the benchmark report."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["format_number", "markdown_table"]


def format_number(value, digits: int = 2) -> str:
    """``value`` for a report table: integers as they are, floats with ``digits`` decimals, None as "-".

    Parameters
    ----------
    value : int | float | None
    digits : int, default: 2

    Returns
    -------
    str
        E.g. ``"3"``, ``"0.12"``, ``"nan"``, ``"-"``.
    """
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "nan"
    return f"{value:.{digits}f}"


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """Lines of a Markdown table (and a blank line after it)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]
