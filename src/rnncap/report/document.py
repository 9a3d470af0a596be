"""`rnncap paper`: fill the report template (paper/rnncap.md) and render self-contained HTML.

The template is Markdown with Jinja2 placeholders; every number in it comes
from the fit's numbers.json (or the paper's own values in `paper_values`).
Names available in the template:

- `v("capacity.bpp_mean")`: a value of numbers.json by dotted path (None if absent);
- filters `num(digits=2)` (None -> "n/a"), `pct` ("48%"), `cells` (["rnn","gru"] -> "RNN > GRU"),
  `cell` ("plus" -> "+RNN"), `count` (integer, thousands separator), `metric` ("bits_per_char" -> "bits/char");
- `figure("fig1", "caption")`: the PNG of `--figures`, embedded as base64, with its caption;
- `table("table1_random_hp")`: the Markdown table of `--tables`;
- `scorecard()`: the scorecard table; `verdicts`: counts per verdict;
- `reproductions()`: every committed run under `paper/reproductions/` (`report.record.summary_markdown`),
  or a line saying there is none;
- `paper`: the paper's values (module `paper_values`); `preset`: the preset name.

Rendering fails (non-zero exit) on an undefined name or a missing figure/table,
and if any `{{`/`{%` survives, so a built report never has an unfilled placeholder.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

from .. import io
from .. import paper_values
from ..analysis.common import label
from .claims import NOT_REPRODUCED, NOT_RUN, REPRODUCED, TIE, VERDICTS

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border-top: 1px solid #ccc; border-bottom: 1px solid #ccc; padding: 0.25rem 0.6rem; }
thead th { border-bottom: 2px solid #444; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; }
figcaption { font-size: 0.9rem; color: #444; }
.stamp { color: #9a0000; font-style: italic; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""

_PLACEHOLDER = re.compile(r"\{\{|\{%|%\}|\}\}")


class Lookup:
    def __init__(self, numbers: Mapping[str, Any]):
        self.numbers = numbers

    def __call__(self, path: str) -> Any:
        cur: Any = self.numbers
        for k in path.split("."):
            if isinstance(cur, Mapping) and k in cur:
                cur = cur[k]
            elif isinstance(cur, list) and k.isdigit() and int(k) < len(cur):
                cur = cur[int(k)]
            else:
                return None
        return cur


def num(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return f"{x:,}"
    x = float(x)
    if x != 0 and (abs(x) < 10 ** -digits or abs(x) >= 1e6):
        return f"{x:.{max(digits - 1, 1)}e}"
    return f"{x:.{digits}f}"


METRIC_NAMES = {"bits_per_char": "bits/char", "mse_per_dim": "squared error per dimension", "mi_bits": "bits",
                "loss": "task loss"}


def metric(x: Any) -> str:
    return "n/a" if x is None else METRIC_NAMES.get(str(x), str(x))


def pct(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.0f}%"


def cells(xs: Any, sep: str = " > ") -> str:
    return "n/a" if not xs else sep.join(label(c) for c in xs)


def count(x: Any) -> str:
    return "n/a" if x is None else f"{int(x):,}"


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_markdown(template: str, numbers: Mapping[str, Any], figures_dir: Path, tables_dir: Path,
                    scorecard_md: Path, preset: str, reproductions_dir: str | Path | None = None) -> str:
    import jinja2

    from .record import summary_markdown

    figures_dir, tables_dir = Path(figures_dir), Path(tables_dir)

    def figure(name: str, caption: str = "") -> str:
        p = figures_dir / f"{name}.png"
        if not p.exists():
            raise FileNotFoundError(f"{p}: figure missing (run its notebook first)")
        return (f'\n<figure id="{name}"><img alt="{name}" src="{_img(p)}"/>'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>\n")

    def table(name: str) -> str:
        p = tables_dir / f"{name}.md"
        if not p.exists():
            raise FileNotFoundError(f"{p}: table missing (run `rnncap tables` first)")
        return "\n" + p.read_text() + "\n"

    def scorecard() -> str:
        text = Path(scorecard_md).read_text()
        return "\n" + "\n".join(ln for ln in text.splitlines() if not ln.startswith("# ")) + "\n"

    def reproductions() -> str:
        root = Path(reproductions_dir) if reproductions_dir else None
        runs = sorted(p.parent for p in root.glob("*/run.json")) if root and root.is_dir() else []
        if not runs:
            return f"\nNo committed reproduction in `{root}/`.\n" if root else "\nNo committed reproduction.\n"
        return "".join(f"\n### Preset `{r.name}`\n\n" + summary_markdown(r) for r in runs)

    verdicts = _verdict_counts(Path(scorecard_md).with_suffix(".csv"))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(num=num, pct=pct, cells=cells, cell=label, count=count, metric=metric)
    try:
        t = env.from_string(template)
        return t.render(v=Lookup(numbers), figure=figure, table=table, scorecard=scorecard, verdicts=verdicts,
                        reproductions=reproductions,
                        paper=paper_values, preset=preset, reduced=preset != "paper")
    except jinja2.TemplateError as e:  # undefined name, syntax error: one line, non-zero exit
        line = f" (line {e.lineno})" if getattr(e, "lineno", None) else ""
        raise ValueError(f"report template{line}: {type(e).__name__}: {e}") from e


def _verdict_counts(csv_path: Path) -> dict[str, int]:
    """Claims per verdict of a scorecard.csv, under the verdict text and a template-friendly name."""
    out = {v: 0 for v in VERDICTS}
    if csv_path.exists():
        with open(csv_path, newline="") as fh:
            for row in csv.DictReader(fh):
                out[row["verdict"]] = out.get(row["verdict"], 0) + 1
    out["total"] = sum(out[v] for v in VERDICTS)
    for name, v in (("reproduced", REPRODUCED), ("tie", TIE), ("not_reproduced", NOT_REPRODUCED),
                    ("not_run", NOT_RUN)):
        out[name] = out[v]
    return out


def _preset_from_scorecard(csv_path: Path) -> str | None:
    if not csv_path.exists():
        return None
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            return row.get("preset")
    return None


def to_html(markdown_text: str, title: str) -> str:
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables", "toc", "sane_lists"], output_format="html")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def unfilled(text: str) -> list[str]:
    """Template syntax left in a rendered document (should be none)."""
    return [m.group(0) for m in _PLACEHOLDER.finditer(text)]


def build(fits_dir: str | Path, figures_dir: str | Path, tables_dir: str | Path, scorecard_md: str | Path,
          template: str | Path, out_html: str | Path, preset: str | None = None,
          reproductions_dir: str | Path | None = None) -> Path:
    fits_dir = Path(fits_dir)
    p = fits_dir / "numbers.json"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no numbers.json (run `rnncap fit` first)")
    if not Path(scorecard_md).exists():
        raise FileNotFoundError(f"{scorecard_md}: no scorecard (run `rnncap scorecard` first)")
    numbers = json.loads(p.read_text())
    preset = preset or _preset_from_scorecard(Path(scorecard_md).with_suffix(".csv")) or "unknown"
    md = render_markdown(Path(template).read_text(), numbers, Path(figures_dir), Path(tables_dir),
                         Path(scorecard_md), preset, reproductions_dir)
    # the template's own text must be fully filled; embedded figures/tables cannot contain braces
    left = unfilled(md)
    if left:
        raise ValueError(f"{template}: unfilled placeholders after rendering: {sorted(set(left))}")
    title = next((ln[2:].strip() for ln in md.splitlines() if ln.startswith("# ")), "rnncap report")
    out = Path(out_html)
    with io.atomic_path(out) as tmp:
        tmp.write_text(to_html(md, title))
    return out
