"""`--format github`: GitHub Actions workflow commands, one annotation per finding.

`::error file=losses.py,line=3,col=12,endLine=3,endColumn=30,title=LL101::message` with
`warning` for warning severity and `notice` for info. A finding in a notebook cell points at
the line of the notebook file that holds its source line, and names the cell and line in it.
Values are escaped as the Actions runner expects (`%`, CR, LF everywhere; also `:` and `,` in
properties).
"""

from __future__ import annotations

from ..engine.results import Finding

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def line(finding: Finding) -> str:
    props = [("file", finding.path)]
    message = finding.message
    if finding.cell is None:
        props += [("line", str(finding.line)), ("col", str(finding.column)),
                  ("endLine", str(finding.end_line)), ("endColumn", str(finding.end_column))]
    else:  # an annotation points at a line of the notebook's JSON; the message names the cell
        from ..pipeline.notebook import file_line

        props.append(("line", str(file_line(finding.path, finding.cell, finding.line))))
        message = f"cell {finding.cell}, line {finding.line}: {message}"
    props.append(("title", finding.code))
    command = COMMANDS.get(finding.severity, "warning")
    text = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    if finding.hint:
        message = f"{message}\n{finding.hint}"
    return f"::{command} {text}::{escape_data(message)}"


def render(findings: list[Finding], **_: object) -> str:
    return "".join(line(f) + "\n" for f in findings)
