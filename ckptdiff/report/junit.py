"""JUnit XML for CI servers: one test case per model variable, built with ElementTree (never string formatting)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ckptdiff.report.interface import CheckReport


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
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="loader", value=report.loader)
    tests = failures = 0
    for v in report.variables:
        case = ET.SubElement(suite, "testcase", classname=f"restore.{report.loader}", name=v.path)
        tests += 1
        if v.status in report.fail_on:
            failures += 1
            failure = ET.SubElement(case, "failure", type=v.status, message=f"{v.status}: {v.key or 'no entry'}")
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
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("skipped", str(sum(1 for c in suite.iter("skipped"))))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
