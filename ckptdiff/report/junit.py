"""JUnit XML for CI servers: one test case per model variable, built with ElementTree (never string formatting)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ckptdiff.artifact import Group
from ckptdiff.report.interface import CheckReport, HistoryReport, VariableFinding
from ckptdiff.stats.fresh import Verdict

FRESH = "fresh"
NONFINITE = "nonfinite"
MISPLACED = "misplaced"


def render_check_junit(report: CheckReport) -> str:
    """Render a check report as a JUnit XML document.

    Each live variable is a test case named by its path; a status listed in --fail-on is a
    failure with the detail as message. Partial objects and unexpected model entries get their own
    test cases so a CI view shows them too.
    """
    suite = ET.Element(
        "testsuite",
        name=f"ckptdiff check {report.artifact.path}",
        tests="0",
        failures="0",
        errors="0",
        skipped="0",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="loader", value=report.loader)
    ET.SubElement(properties, "property", name="outcome", value=report.outcome)
    ET.SubElement(properties, "property", name="fail_on", value=",".join(report.fail_on))
    for h in report.hints:
        ET.SubElement(properties, "property", name=f"hint.{h.kind}", value=h.message)
    tests = failures = 0
    for v in report.variables:
        case = ET.SubElement(suite, "testcase", classname=f"restore.{report.loader}", name=v.path)
        tests += 1
        reasons = variable_failures(v, report.fail_on)
        if reasons:
            failures += 1
            kind, message = reasons[0]
            failure = ET.SubElement(case, "failure", type=kind, message="; ".join(m for _, m in reasons))
            failure.text = v.detail
        else:
            ET.SubElement(case, "system-out").text = f"{v.status}: {v.key or '-'} ({v.detail})"
    for p in report.partial:
        case = ET.SubElement(suite, "testcase", classname="restore.partial", name=p.object)
        tests += 1
        if "partial" in report.fail_on:
            failures += 1
            ET.SubElement(case, "failure", type="partial", message=p.detail).text = p.detail
    for u in report.unexpected:
        if u.group != "model":
            continue
        case = ET.SubElement(suite, "testcase", classname="restore.unexpected", name=u.key)
        tests += 1
        if "unexpected" in report.fail_on:
            failures += 1
            ET.SubElement(case, "failure", type="unexpected", message=f"no variable consumes {u.key}")
        else:
            ET.SubElement(case, "skipped", message="unexpected entry (not in --fail-on)")
    for integrity in report.integrity:
        for problem in integrity.problems:
            case = ET.SubElement(suite, "testcase", classname="integrity", name=problem.key)
            tests += 1
            failures += 1
            ET.SubElement(
                case, "failure", type=problem.kind, message=f"{problem.kind}: {problem.detail}"
            ).text = problem.detail
        if integrity.ok:
            case = ET.SubElement(suite, "testcase", classname="integrity", name=integrity.path)
            tests += 1
            ET.SubElement(case, "system-out").text = f"{integrity.method}: {integrity.checked} checked, no damage"
    _add_hints_and_notes(suite, report)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("skipped", str(sum(1 for c in suite.iter("skipped"))))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def variable_failures(v: VariableFinding, fail_on: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every reason one variable fails the check, as (type, message): its status, a fresh-looking or
    a non-finite restored value, whichever of them --fail-on holds."""
    reasons = []
    if v.status in fail_on:
        reasons.append((str(v.status), f"{v.status}: {v.key or 'no entry'}"))
    if FRESH in fail_on and v.group == Group.MODEL and v.init is not None and v.init.verdict == Verdict.FRESH:
        reasons.append((FRESH, f"fresh: {v.key} still looks freshly initialised ({v.init.evidence})"))
    if NONFINITE in fail_on and v.nonfinite:
        reasons.append((NONFINITE, f"nonfinite: {v.key} holds NaN or Inf values"))
    if MISPLACED in fail_on and v.misplaced:
        reasons.append((MISPLACED, f"misplaced: {v.key} is another layer's weights (a shifted layer order)"))
    return reasons


def _add_hints_and_notes(suite: ET.Element, report: CheckReport) -> None:
    """Hints and notes are no test of their own: the suite's system-out carries them for people."""
    lines = [f"outcome: {report.outcome}"]
    lines += [f"note: {n}" for n in (*report.model.notes, *report.notes)]
    lines += [f"hint: {h.message}" for h in report.hints]
    ET.SubElement(suite, "system-out").text = "\n".join(lines)


def render_history_junit(report: HistoryReport) -> str:
    """Render a run's history as JUnit XML: one test case per variable, a failure per status in the fail-on set."""
    from ckptdiff.commands.history import failures as history_failures

    suite = ET.Element("testsuite", name="ckptdiff history", tests="0", failures="0", errors="0", skipped="0")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="fail_on", value=",".join(report.fail_on))
    for i, c in enumerate(report.checkpoints):
        ET.SubElement(properties, "property", name=f"checkpoint.{i}", value=c.path)
    failed = 0
    for v in report.variables:
        case = ET.SubElement(suite, "testcase", classname=f"history.{v.group}", name=v.name)
        marks = "".join({True: "x", False: ".", None: "-"}[c] for c in v.changed)
        reasons = history_failures(v, report.fail_on)
        if reasons:
            failed += 1
            message = f"{v.name}: {', '.join(reasons)} over {len(report.checkpoints)} checkpoints"
            ET.SubElement(case, "failure", type=reasons[0], message=message).text = f"changed per pair: {marks}"
        else:
            ET.SubElement(case, "system-out").text = f"{v.status}; changed per pair: {marks}"
    suite.set("tests", str(len(report.variables)))
    suite.set("failures", str(failed))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
