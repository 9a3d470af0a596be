"""The one Markdown table renderer of the report stage (tables, scorecard, reproduction record).

One renderer so that every table the stage writes escapes the same way and reads the same way
in the repository README, the record's README and the HTML paper.
"""

from __future__ import annotations

from typing import Iterable, Sequence

# alignment row entries for a LaTeX-style column spec (l, r, c); anything else is left to the viewer
_ALIGN = {"l": ":--", "r": "--:", "c": ":-:"}


def escape(text: object) -> str:
    """A cell's text with `|` escaped, so a value can never split a row."""
    return str(text).replace("|", "\\|")


def table(header: Sequence[object], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """A pipe table, no trailing newline. `align` is one of l/r/c per column (as a LaTeX
    column spec); empty gives plain `---` separators."""
    sep = [_ALIGN.get(a, "---") for a in align] if align else ["---"] * len(header)
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
