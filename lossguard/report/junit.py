"""`--output-format junit`: JUnit XML, as CI systems show test results.

One `testsuite` per file with findings, one `testcase` (with a `failure`) per finding, named
`lossguard.CODE` with the file as its class name; a run with no findings is one passing suite.
"""

from __future__ import annotations

from itertools import groupby
from xml.etree import ElementTree as ET

from ..engine.results import Finding


def render(findings: list[Finding], **_: object) -> str:
    root = ET.Element("testsuites", name="lossguard", tests=str(len(findings) or 1),
                      failures=str(len(findings)), errors="0")
    if not findings:
        suite = ET.SubElement(root, "testsuite", name="lossguard", tests="1", failures="0",
                              errors="0")
        ET.SubElement(suite, "testcase", name="No findings", classname="lossguard")
    for path, group in groupby(sorted(findings, key=lambda f: f.sort_key), key=lambda f: f.path):
        own = list(group)
        suite = ET.SubElement(root, "testsuite", name=path, tests=str(len(own)),
                              failures=str(len(own)), errors="0")
        for finding in own:
            case = ET.SubElement(suite, "testcase", name=f"lossguard.{finding.code}",
                                 classname=path, line=str(finding.line),
                                 column=str(finding.column))
            where = f"line {finding.line}, col {finding.column}"
            if finding.cell is not None:
                where = f"cell {finding.cell}, {where}"
            failure = ET.SubElement(case, "failure", message=finding.message,
                                    type=finding.severity)
            failure.text = f"{where}, {finding.message}" + (
                f"\nhint: {finding.hint}" if finding.hint else "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
