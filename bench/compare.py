"""Compare two ``make bench`` results endpoint by endpoint: ``python bench/compare.py BEFORE.json AFTER.json``.

Prints a Markdown table per dataset both runs measured: requests per second, the ratio to each run's own health
baseline, and after/before of each. The ratio is what ``make bench`` judges within one run; across runs it moves
with the baseline itself, so when the two commits' health endpoints differ in cost (a lighter floor lowers every
ratio without any endpoint slowing down) read the rps column, which is comparable only on the same quiet machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _cell(after: float | None, before: float | None) -> str:
    if not after or not before:
        return "n/a"
    return f"{after / before:.3f}"


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The Markdown comparison of two results documents (``latest.json``'s shape)."""
    lines = [
        f"before: {before['machine']['git_commit']} ({before['machine']['date']}, {before['machine']['cpu_model']});"
        f" after: {after['machine']['git_commit']} ({after['machine']['date']}, {after['machine']['cpu_model']})",
    ]
    for dataset, rows in after["datasets"].items():
        old_rows = before["datasets"].get(dataset)
        if not old_rows:
            continue
        old_base = (
            before["machine"]["run"]["baselines"].get(dataset, {}).get("mean_rps")
            if "run" in before["machine"]
            else None
        )
        new_base = after["machine"]["run"]["baselines"].get(dataset, {}).get("mean_rps")
        lines += [
            "",
            f"### Dataset {dataset} (health baseline: before {old_base or 'n/a'} rps, after {new_base} rps)",
            "",
            "| endpoint | rps before | rps after | after / before | ratio before | ratio after | after / before |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in rows.items():
            old = old_rows.get(name)
            if not isinstance(row, dict) or "rps" not in row or not old:
                continue
            lines.append(
                f"| {name} | {old['rps']} | {row['rps']} | {_cell(row['rps'], old['rps'])} |"
                f" {old.get('ratio', 'n/a')} | {row.get('ratio', 'n/a')} |"
                f" {_cell(row.get('ratio'), old.get('ratio'))} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = (json.loads(Path(path).read_text()) for path in argv[1:])
    print(compare(before, after), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
