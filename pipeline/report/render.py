"""Rendering the report: collect()'s dict (or report.json loaded back) -> one self-contained
HTML page. A pure function of the data: the SVG charts and the confusion heatmap are drawn
here, the page is template.html (package data) rendered by jinja2 with autoescape (a class
called `<script>` is text). Imports no TensorFlow.
"""
import json
import os

import jinja2
import markupsafe

from ...components.model_card import card

TEMPLATE = "template.html"  # beside this file; setup.py installs it as package data


def _svg_text(x, y, text, anchor="start", extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>'
            f"{markupsafe.escape(text)}</text>")


def _line_chart(title, points, colour):
    """An SVG line chart of [[step, value], ...] with its range on the axes."""
    width, height, left, right, top, bottom = 360, 210, 56, 12, 26, 30
    if not points:
        return markupsafe.Markup(f'<p class="na">No {markupsafe.escape(title)} values were logged.</p>')
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y0 == y1:
        y0, y1 = y0 - (abs(y0) or 1) * 0.5, y1 + (abs(y1) or 1) * 0.5

    def sx(x):
        return left + (x - x0) / ((x1 - x0) or 1) * (width - left - right)

    def sy(y):
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{markupsafe.escape(title)}">',
             _svg_text(left, 16, title, extra=' class="title"'),
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
             'class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" class="axis"/>',
             _svg_text(left - 4, sy(y1) + 4, card.number(y1), "end"),
             _svg_text(left - 4, sy(y0) + 4, card.number(y0), "end"),
             _svg_text(sx(x0), height - bottom + 16, card.number(x0), "middle"),
             _svg_text(sx(x1), height - bottom + 16, card.number(x1), "middle"),
             _svg_text((left + width - right) / 2, height - 4, "step", "middle", ' class="muted"'),
             f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>']
    parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>' for x, y in points]
    return markupsafe.Markup("\n".join(parts) + "</svg>")


TRANSFER_COLOURS = {"pretrained": "#1b6ac9", "random": "#b0562f"}
# (method, how it is drawn, the legend's words); models/transfer_study.py names the methods.
TRANSFER_SERIES = (("fine_tune", "", "fine-tuned"), ("linear_probe", "5,4", "linear probe"))
RUN_COLOUR = "#2e8540"


def transfer_series(result):
    """[(method, dash, words, rows)] of a transfer measurement, fine-tuning first; rows in k order."""
    return [(method, dash, words, [r for r in result["rows"] if r.get("method", "linear_probe") == method])
            for method, dash, words in TRANSFER_SERIES
            if any(r.get("method", "linear_probe") == method for r in result["rows"])]


def transfer_chart(result, run=None):
    """The k-shot transfer curves (models/transfer_study.py's result) as SVG: eval accuracy against
    k examples per class (evenly spaced, 'full' last), the pre-trained backbone and the same
    architecture from random init, fine-tuned (solid) and by linear probe (dashed) where
    measured; `run` ({"accuracy", "per_class"}) adds this run's own eval accuracy, drawn at
    'full' (the run trains on all of its data)."""
    series = transfer_series(result)
    ks = []
    for _, _, _, rows in series:
        ks += [r["k"] for r in rows if r["k"] not in ks]
    width, height, left, right, top, bottom = 480, 250, 48, 190, 26, 36

    def sx(k):
        return left + ks.index(k) / max(len(ks) - 1, 1) * (width - left - right)

    def sy(v):
        return top + (1.0 - v) * (height - top - bottom)
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="k-shot transfer">',
             _svg_text(left, 16, "eval accuracy by training images per class", extra=' class="title"'),
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
             'stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>']
    for v in (0.0, 0.5, 1.0):
        parts.append(_svg_text(left - 4, sy(v) + 4, card.number(v), "end"))
    for k in ks:
        parts.append(_svg_text(sx(k), height - bottom + 16, str(k), "middle"))
    parts.append(_svg_text((left + width - right) / 2, height - 4, "k (training images per class)",
                           "middle", ' class="muted"'))
    n = 0
    for _, dash, words, rows in series:
        for arm, label in (("pretrained", "pre-trained"), ("random", "random init")):
            colour = TRANSFER_COLOURS[arm]
            stroke = f' stroke-dasharray="{dash}"' if dash else ""
            path = " ".join(f"{sx(r['k']):.1f},{sy(r[arm]):.1f}" for r in rows)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{stroke}/>')
            parts += [f'<circle cx="{sx(r["k"]):.1f}" cy="{sy(r[arm]):.1f}" r="3" fill="{colour}"/>'
                      for r in rows]
            y = top + 18 * n
            parts.append(f'<line x1="{width - right + 8}" y1="{y + 5}" x2="{width - right + 26}" '
                         f'y2="{y + 5}" stroke="{colour}" stroke-width="2"{stroke}/>')
            parts.append(_svg_text(width - right + 32, y + 9, f"{words}, {label}"))
            n += 1
    if run and run.get("accuracy") is not None and ks:
        x, y = sx(ks[-1]), sy(run["accuracy"])
        parts.append(f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{RUN_COLOUR}"/>')
        parts.append(f'<rect x="{width - right + 12}" y="{top + 18 * n}" width="10" height="10" '
                     f'fill="{RUN_COLOUR}"/>')
        per_class = f", {run['per_class']} per class" if run.get("per_class") else ""
        parts.append(_svg_text(width - right + 32, top + 18 * n + 9,
                               f"this run {card.number(run['accuracy'])}{per_class}"))
    return markupsafe.Markup("\n".join(parts) + "</svg>")


def _heatmap(labels, matrix):
    """The confusion matrix as an SVG heatmap: rows true class, columns predicted; colour is
    the share of the true class's images, the number the count."""
    n = len(labels)
    cell = max(4, min(44, 640 // max(n, 1)))
    show_labels, show_counts = cell >= 10, cell >= 22
    shown = [label if len(label) <= 22 else label[:21] + "…" for label in labels]
    # label room: on the left for rows; above (and past the right edge) for the slanted columns
    room = 8 + 7 * max((len(label) for label in shown), default=1) if show_labels else 10
    width, height = room + n * cell + (room // 2 if show_labels else 0) + 10, room + n * cell + 10
    parts = [f'<svg class="heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             'role="img" aria-label="confusion matrix">']
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            light = 97 - 62 * share
            x, y = room + j * cell, room + i * cell
            tip = markupsafe.escape(f"true {labels[i]}, predicted {labels[j]}: {count}")
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                         f'fill="hsl(212,70%,{light:.0f}%)" stroke="#fff"><title>{tip}</title></rect>')
            if show_counts and count:
                parts.append(_svg_text(x + cell / 2, y + cell / 2 + 4, str(count), "middle",
                                       f' style="fill:{"#fff" if share > 0.5 else "#123"}"'))
    if show_labels:
        for i, label in enumerate(shown):
            parts.append(_svg_text(room - 4, room + i * cell + cell / 2 + 4, label, "end"))
            cx, cy = room + i * cell + cell / 2, room - 4
            parts.append(_svg_text(cx, cy, label, "start", f' transform="rotate(-60 {cx:.1f} {cy:.1f})"'))
    return markupsafe.Markup("\n".join(parts) + "</svg>")


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(data):
    """The report page for collect()'s dict (or report.json loaded back)."""
    verdict = data["verdict"]
    pushed_here = next((p for p in data["lineage"]["pushed"] if p["this_run"]), None)
    split_names, class_rows = card.split_table(data["data"])
    return _ENVIRONMENT.get_template(TEMPLATE).render(
        d=data, fmt=card.number, line_chart=_line_chart, heatmap=_heatmap,
        threshold_text=card.threshold_text,
        decision_rows=card.decision_rows, decision_title=card.decision_title, pushed_here=pushed_here,
        per_class_note=card.PER_CLASS_NOTE, transfer_chart=transfer_chart, tensor_shape=card.tensor_shape,
        limitations=card.limitations(data), trained=card.trained_text(data["model"], data["decision"]),
        verdict_word="not evaluated" if verdict is None else "BLESSED" if verdict["blessed"] else "NOT BLESSED",
        verdict_class="unknown" if verdict is None else "blessed" if verdict["blessed"] else "refused",
        class_rows=class_rows, split_names=split_names,
        decision_json=json.dumps(data["decision"], indent=1, sort_keys=True) if data["decision"] else "")
