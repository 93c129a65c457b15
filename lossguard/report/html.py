"""`--dynamic-report DIR`: one self-contained HTML page (no network, images inlined).

Per confirmed finding: the source excerpt, the evidence, and matplotlib plots (loss and
gradient norm on the way to the failing inputs; training curves of the user's loss
against the reference). Other findings are listed with their status and reason.
Matplotlib is imported here, lazily, only when a report is asked for.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from typing import Any

from ..engine.results import Finding
from .confirmation import LABELS, verification_line

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:960px;
color:#1d2330;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin:.2rem 0}
.sub{color:#5b6475;margin-top:0}
.finding{border:1px solid #d9dde5;border-radius:8px;padding:1rem 1.2rem;margin:1.4rem 0;
background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.code{font-family:ui-monospace,Menlo,Consolas,monospace}
.badge{display:inline-block;border-radius:4px;padding:0 .45rem;font-size:.8rem;color:#fff}
.confirmed{background:#c0392b}.not_reproduced{background:#7f8c8d}.not_checked{background:#95a5a6}
pre{background:#f6f8fa;border-radius:6px;padding:.6rem .8rem;overflow-x:auto;font-size:.85rem}
pre .hit{background:#ffe4e1;display:inline-block;width:100%}
table{border-collapse:collapse;font-size:.88rem;margin:.5rem 0}
td,th{border-bottom:1px solid #e5e8ee;padding:.25rem .6rem;text-align:left;vertical-align:top}
.summary{font-weight:600} img{max-width:100%;height:auto;margin:.4rem 0}
.counts span{margin-right:1rem}
"""


def _float(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, str):
        return {"inf": math.inf, "-inf": -math.inf}.get(v, math.nan)
    return float(v)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _sweep_plot(plot: dict, title: str) -> str:
    import matplotlib.pyplot as plt

    xs = [x for x in plot["x"] if x > 0]
    loss = [_float(v) for v, x in zip(plot["loss"], plot["x"], strict=False) if x > 0]
    grad = [_float(v) for v, x in zip(plot["grad_norm"], plot["x"], strict=False) if x > 0]
    at_zero_loss = _float(plot["loss"][plot["x"].index(0.0)]) if 0.0 in plot["x"] else math.nan
    at_zero_grad = _float(plot["grad_norm"][plot["x"].index(0.0)]) if 0.0 in plot["x"] else math.nan
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(xs, loss, "o-", color="#2c7fb8")
    axes[0].set_xscale("log")
    axes[0].set_ylabel("mean loss")
    axes[0].set_title(f"loss (at t = 0: {at_zero_loss:g})", fontsize=10)
    finite_grad = [g if math.isfinite(g) and g > 0 else math.nan for g in grad]
    axes[1].plot(xs, finite_grad, "o-", color="#d95f0e")
    axes[1].set_xscale("log")
    if any(math.isfinite(g) for g in finite_grad):
        axes[1].set_yscale("log")
    axes[1].set_ylabel("|d loss / d y_pred|")
    axes[1].set_title(f"gradient norm (at t = 0: {at_zero_grad:g})", fontsize=10)
    for ax in axes:
        ax.set_xlabel("t (distance from the failing inputs)")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def _training_plot(plot: dict, title: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4))
    epochs = plot["epochs"]
    ax.plot(epochs, [_float(v) for v in plot["user_mse"]], "o-", ms=3, label="user's loss",
            color="#c0392b")
    ax.plot(epochs, [_float(v) for v in plot["reference_mse"]], "o-", ms=3,
            label="built-in MSE (reference)", color="#2c7fb8")
    if plot.get("fixed_mse"):
        ax.plot(epochs, [_float(v) for v in plot["fixed_mse"]], "--",
                label="user's loss, node fixed",
                color="#27ae60")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training-set MSE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _evidence_plot(evidence: dict, title: str) -> str | None:
    """Bars of the numeric evidence (for probes without a curve: gradients, batch, shapes)."""
    import matplotlib.pyplot as plt

    items = [(k, _float(v)) for k, v in evidence.items()
             if k != "plot" and isinstance(v, (int, float, str)) and not isinstance(v, bool)]
    items = [(k, v) for k, v in items if not (isinstance(v, float) and math.isnan(v))
             and math.isfinite(v)]
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(items) + 1.2))
    values = [abs(v) for _, v in items]
    ax.barh([k for k, _ in items], values, color="#2c7fb8")
    if min(values) > 0 and max(values) / max(min(values), 1e-300) > 1e3:
        ax.set_xscale("log")
    for y, (_, v) in enumerate(items):
        ax.text(abs(v), y, f" {v:g}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title + " (measured values, absolute)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def _excerpt(finding: Finding, radius: int = 3) -> str:
    try:
        with open(finding.path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return ""
    lo, hi = max(1, finding.line - radius), min(len(lines), finding.end_line + radius)
    out = []
    for n in range(lo, hi + 1):
        text = html.escape(f"{n:4d}  {lines[n - 1]}")
        out.append(f'<span class="hit">{text}</span>' if n == finding.line else text)
    return "<pre class=\"code\">" + "\n".join(out) + "</pre>"


def _evidence_table(evidence: dict) -> str:
    rows = []
    for key, value in evidence.items():
        if key == "plot":
            continue
        rows.append(f"<tr><th>{html.escape(str(key))}</th><td class=\"code\">"
                    f"{html.escape(str(value))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _fixed_table(fixed: list[tuple[Finding, Finding]]) -> str:
    """Each finding `--fix --dynamic` fixed: the probe before the fix and after it."""
    rows = ["<h2>Fixed findings</h2><table><tr><th>finding</th><th>before the fix</th>"
            "<th>after the fix, same probe</th></tr>"]
    for before, after in fixed:
        line = verification_line(before, after)
        first, _, second = line.partition("; after the fix")
        where = html.escape(f"{before.path}:{before.line} {before.code}")
        rows.append(f"<tr><td class=\"code\">{where}</td>"
                    f"<td>{html.escape(first.removeprefix('before the fix: '))}</td>"
                    f"<td>{html.escape(second.lstrip(': '))}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def render_html(findings: list[Finding], fixed: list[tuple[Finding, Finding]] | None = None
                ) -> str:
    """The report page as a string (with the fixed findings' before/after when given)."""
    confirmed = [f for f in findings if f.dynamic is not None and f.dynamic.status == "confirmed"]
    others = [f for f in findings if f.dynamic is not None and f.dynamic.status != "confirmed"]
    counts = {k: sum(1 for f in findings if f.dynamic and f.dynamic.status == k) for k in LABELS}
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>lossguard --dynamic report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>lossguard dynamic confirmation</h1>",
        "<p class=\"sub\">Each finding's probe was run under TensorFlow or PyTorch in a "
        "sandboxed worker. "
        "A finding is confirmed only when the failure is tied to its own node.</p>",
        "<p class=\"counts\">" + "".join(
            f"<span><span class=\"badge {k}\">{LABELS[k]}</span> {n}</span>"
            for k, n in counts.items()) + "</p>",
    ]
    for i, f in enumerate(confirmed, 1):
        d = f.dynamic
        assert d is not None
        where = f"{f.path}:{f.line}:{f.column}"
        parts.append(f"<section class=\"finding\" id=\"finding-{i}\" data-code=\"{f.code}\">")
        parts.append(f"<h2><span class=\"badge confirmed\">confirmed</span> "
                     f"<span class=\"code\">{html.escape(f.code)}</span> {html.escape(f.name)} "
                     f"in <span class=\"code\">{html.escape(f.function or '')}</span></h2>")
        parts.append(f"<p class=\"code\">{html.escape(where)}</p>")
        parts.append(f"<p>{html.escape(f.message)}</p>")
        parts.append(f"<p class=\"summary\">{html.escape(d.summary)}</p>")
        parts.append(_excerpt(f))
        plot = d.evidence.get("plot") if isinstance(d.evidence, dict) else None
        title = f"{f.code} {f.function or ''} (line {f.line})"
        try:
            if plot and plot.get("kind") == "sweep":
                parts.append(f"<img alt=\"loss and gradient along the probe\" "
                             f"src=\"{_sweep_plot(plot, title)}\">")
            elif plot and plot.get("kind") == "training":
                parts.append(f"<img alt=\"training curves\" src=\"{_training_plot(plot, title)}\">")
            else:
                bars = _evidence_plot(d.evidence, title)
                if bars:
                    parts.append(f"<img alt=\"measured values\" src=\"{bars}\">")
        except Exception as exc:  # noqa: BLE001 - a plot must never lose the report
            parts.append(f"<p>(plot failed: {html.escape(str(exc))})</p>")
        parts.append(f"<p>probe: <span class=\"code\">{html.escape(d.probe)}</span></p>")
        parts.append(_evidence_table(d.evidence))
        parts.append("</section>")
    if others:
        parts.append("<h2>Other findings</h2><table><tr><th>finding</th><th>status</th>"
                     "<th>reason</th></tr>")
        for f in others:
            d = f.dynamic
            assert d is not None
            parts.append(
                f"<tr><td class=\"code\">{html.escape(f'{f.path}:{f.line} {f.code}')}</td>"
                f"<td><span class=\"badge {d.status}\">{LABELS.get(d.status, d.status)}</span></td>"
                f"<td>{html.escape(d.reason or d.summary)}</td></tr>")
        parts.append("</table>")
    if fixed:
        parts.append(_fixed_table(fixed))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(findings: list[Finding], directory: str,
                 fixed: list[tuple[Finding, Finding]] | None = None) -> str:
    """Write DIR/index.html; return its path."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "index.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_html(findings, fixed))
    return path
