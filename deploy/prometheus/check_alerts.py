"""Check that the alerting rules are tested and documented; promtool checks that they are right.

For every alert in the rule file (a PrometheusRule's spec, as extracted by
deploy/kubernetes/split_manifests.py):

* ``tests.yaml`` has an ``alert_rule_test`` in which it fires (non-empty ``exp_alerts``) and one in
  which it must not (empty ``exp_alerts``);
* it has a ``severity`` label (critical or warning) and ``summary``, ``description`` and ``runbook_url``
  annotations, and the runbook URL ends in ``docs/alerts.md#<alert name, lower case>``, a section that
  exists in ``docs/alerts.md``;

every ``## ParcelService…`` section of ``docs/alerts.md`` belongs to an existing alert, and every
recording rule is exercised by a ``promql_expr_test``.

Usage:
    python deploy/prometheus/check_alerts.py RULES_FILE TESTS_FILE DOCS_FILE
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

SEVERITIES = {"critical", "warning"}
ANNOTATIONS = ("summary", "description", "runbook_url")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def check(rules: dict[str, Any], tests: dict[str, Any], docs: str) -> list[str]:
    """Every problem found, as one line each (empty when all is well)."""
    problems = []
    all_rules = [rule for group in rules.get("groups") or [] for rule in group.get("rules") or []]
    alerts = {rule["alert"]: rule for rule in all_rules if "alert" in rule}
    records = {rule["record"] for rule in all_rules if "record" in rule}
    if not alerts:
        problems.append("no alerts in the rule file")

    firing: set[str] = set()
    quiet: set[str] = set()
    expr_tests = []
    for test in tests.get("tests") or []:
        for case in test.get("alert_rule_test") or []:
            (firing if case.get("exp_alerts") else quiet).add(case.get("alertname"))
        expr_tests += [case.get("expr", "") for case in test.get("promql_expr_test") or []]

    headings = {github_anchor(line[3:]): line[3:].strip() for line in docs.splitlines() if line.startswith("## ")}
    for name, rule in sorted(alerts.items()):
        if name not in firing:
            problems.append(f"{name}: no test case in which it fires")
        if name not in quiet:
            problems.append(f"{name}: no test case in which it must not fire (empty exp_alerts)")
        if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
            problems.append(f"{name}: label severity must be one of {sorted(SEVERITIES)}")
        annotations = rule.get("annotations") or {}
        problems += [f"{name}: no {key} annotation" for key in ANNOTATIONS if not annotations.get(key)]
        runbook = annotations.get("runbook_url", "")
        if not runbook.endswith(f"docs/alerts.md#{name.lower()}"):
            problems.append(f"{name}: runbook_url must end in docs/alerts.md#{name.lower()}, not {runbook!r}")
        if name.lower() not in headings:
            problems.append(f"{name}: docs/alerts.md has no '## {name}' section")
    for heading in sorted(headings.values()):
        if heading.startswith("ParcelService") and heading not in alerts:
            problems.append(f"docs/alerts.md: section '{heading}' describes no alert in the rule file")
    for record in sorted(records):
        if not any(re.search(rf"\b{re.escape(record)}\b", expr) for expr in expr_tests):
            problems.append(f"recording rule {record}: no promql_expr_test uses it")
    return problems


def main(argv: list[str]) -> int:
    """Print the problems and exit 1 if there are any."""
    if len(argv) != 3:
        print(__doc__)
        return 2
    rules, tests = (yaml.safe_load(Path(path).read_text()) or {} for path in argv[:2])
    problems = check(rules, tests, Path(argv[2]).read_text())
    for problem in problems:
        print(f"  {problem}")
    alerts = sum("alert" in rule for group in rules.get("groups") or [] for rule in group.get("rules") or [])
    print(f"{alerts} alerts: {'tested and documented' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
