"""Charts as inline SVG, written by hand: the HTML report needs no script, font or image
from anywhere else. Every chart has a <title> and an aria-label; labels are escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FONT = "font-family:sans-serif;font-size:11px"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, title: str, body: list[str], css_class: str) -> Markup:
    label = escape(title)
    return Markup(
        f'<svg class="chart {css_class}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'style="{FONT}"><title>{label}</title>{"".join(body)}</svg>'
    )


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        top = y + index * 16
        parts.append(
            f'<rect x="{_fmt(x)}" y="{_fmt(top)}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_fmt(x + 14)}" y="{_fmt(top + 9)}">{escape(name)}</text>'
        )
    return parts


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 120, 150, 200, 250, 500, 1000):
        if value <= step:
            return float(step)
    magnitude = 10 ** (len(str(int(value))) - 1)
    return float((int(value // magnitude) + 1) * magnitude)


COINCIDENT_GAP = 3.0  # px between lines that have the same value at a point


def _coincident_offsets(series: Sequence[Sequence[float | None]], count: int) -> list[list[float]]:
    """Vertical pixel offsets that keep lines with the same value apart: at each x, the
    series sharing a value (e.g. several indicators capped at 120%) are spread
    COINCIDENT_GAP apart around it, in series order; a value shared by no other series
    keeps its place. The tooltips keep the exact values."""
    offsets = [[0.0] * count for _ in series]
    for position in range(count):
        groups: dict[float, list[int]] = {}
        for index, points in enumerate(series):
            value = points[position] if position < len(points) else None
            if value is not None:
                groups.setdefault(round(value, 6), []).append(index)
        for members in groups.values():
            for rank, index in enumerate(members):
                offsets[index][position] = (rank - (len(members) - 1) / 2) * COINCIDENT_GAP
    return offsets


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_label: str = "",
    reference: float | None = None,
    width: int = 760,
    height: int = 260,
) -> Markup:
    """One line per series over the x labels; gaps where a value is None; an optional
    dashed reference line (e.g. 100% achievement)."""
    left, right, top, bottom = 48, 250, 24, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    y_max = _nice_max(max([*values, reference or 0.0, 0.0]))
    count = max(len(x_labels), 1)

    def x_of(index: int) -> float:
        return left + (plot_w * (index + 0.5) / count)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    body = [
        f'<text x="{left}" y="14" style="font-weight:bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>',
    ]
    for tick in (0.0, y_max / 2, y_max):
        body.append(
            f'<text x="{left - 4}" y="{_fmt(y_of(tick) + 4)}" text-anchor="end">{_fmt(tick)}</text>'
        )
    if y_label:
        body.append(
            f'<text x="12" y="{_fmt(top + plot_h / 2)}" text-anchor="middle" '
            f'transform="rotate(-90 12 {_fmt(top + plot_h / 2)})">{escape(y_label)}</text>'
        )
    for index, label in enumerate(x_labels):
        body.append(
            f'<text x="{_fmt(x_of(index))}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    if reference is not None:
        body.append(
            f'<line class="reference" x1="{left}" y1="{_fmt(y_of(reference))}" '
            f'x2="{left + plot_w}" y2="{_fmt(y_of(reference))}" stroke="#888" '
            'stroke-dasharray="4 3"/>'
        )
    offsets = _coincident_offsets(list(series.values()), len(x_labels))
    for index, (name, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = [segment]
        for position, value in enumerate(points):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            x, y = x_of(position), y_of(value) + offsets[index][position]
            segment.append(f"{_fmt(x)},{_fmt(y)}")
            body.append(
                f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {escape(x_labels[position])}: {_fmt(value)}</title>"
                "</circle>"
            )
        for part in segments:
            if len(part) > 1:
                body.append(
                    f'<polyline points="{" ".join(part)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
    body += _legend(list(series), left + plot_w + 12, top)
    return _svg(width, height, title, body, "line-chart")


def bar_chart(
    title: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    width: int = 760,
    height: int = 240,
) -> Markup:
    """Grouped vertical bars: one group per x label, one bar per series."""
    left, right, top, bottom = 48, 250, 24, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    y_max = _nice_max(max([*values, 0.0]))
    count = max(len(x_labels), 1)
    group_w = plot_w / count
    bar_w = group_w * 0.8 / max(len(series), 1)
    body = [
        f'<text x="{left}" y="14" style="font-weight:bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#444"/>',
    ]
    for tick in (0.0, y_max / 2, y_max):
        y = top + plot_h * (1 - tick / y_max)
        body.append(f'<text x="{left - 4}" y="{_fmt(y + 4)}" text-anchor="end">{_fmt(tick)}</text>')
    for index, label in enumerate(x_labels):
        body.append(
            f'<text x="{_fmt(left + group_w * (index + 0.5))}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for s_index, (name, points) in enumerate(series.items()):
        colour = PALETTE[s_index % len(PALETTE)]
        for index, value in enumerate(points):
            if value is None:
                continue
            bar_h = plot_h * value / y_max
            x = left + group_w * index + group_w * 0.1 + bar_w * s_index
            body.append(
                f'<rect class="bar" x="{_fmt(x)}" y="{_fmt(top + plot_h - bar_h)}" '
                f'width="{_fmt(bar_w)}" height="{_fmt(bar_h)}" fill="{colour}">'
                f"<title>{escape(name)} {escape(x_labels[index])}: {_fmt(value)}</title></rect>"
            )
    body += _legend(list(series), left + plot_w + 12, top)
    return _svg(width, height, title, body, "bar-chart")


def hbar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    reference: float | None = None,
    unit: str = "",
    width: int = 640,
    bands: Sequence[tuple[float, float] | None] | None = None,
) -> Markup:
    """Horizontal bars, one per label (e.g. units ranked by achievement); with `bands`, an
    interval drawn over each bar (e.g. a confidence interval, in the values' unit)."""
    left, right, top, row_h = 150, 60, 24, 20
    plot_w = width - left - right
    height = top + row_h * max(len(labels), 1) + 12
    highs = [b[1] for b in bands or () if b is not None]
    x_max = _nice_max(max([*(v for v in values if v is not None), *highs, reference or 0.0, 0.0]))
    body = [f'<text x="4" y="14" style="font-weight:bold">{escape(title)}</text>']
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + row_h * index
        body.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        if value is None:
            body.append(f'<text x="{left + 4}" y="{y + 13}" fill="#666">no data</text>')
            continue
        bar_w = plot_w * value / x_max
        body.append(
            f'<rect class="bar" x="{left}" y="{y + 2}" width="{_fmt(bar_w)}" height="{row_h - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {_fmt(value)}{escape(unit)}</title>'
            f'</rect><text x="{_fmt(left + bar_w + 4)}" y="{y + 13}">{_fmt(value)}'
            f"{escape(unit)}</text>"
        )
        band = bands[index] if bands is not None and index < len(bands) else None
        if band is not None:
            x1, x2 = left + plot_w * band[0] / x_max, left + plot_w * band[1] / x_max
            mid = y + row_h / 2 - 1
            body.append(
                f'<g class="band"><title>{escape(label)}: {_fmt(band[0])}-{_fmt(band[1])}'
                f'{escape(unit)}</title><line x1="{_fmt(x1)}" y1="{_fmt(mid)}" x2="{_fmt(x2)}" '
                f'y2="{_fmt(mid)}" stroke="#000" stroke-width="1.5"/>'
                f'<line x1="{_fmt(x1)}" y1="{y + 4}" x2="{_fmt(x1)}" y2="{y + row_h - 6}" '
                f'stroke="#000"/><line x1="{_fmt(x2)}" y1="{y + 4}" x2="{_fmt(x2)}" '
                f'y2="{y + row_h - 6}" stroke="#000"/></g>'
            )
    if reference is not None:
        x = left + plot_w * reference / x_max
        body.append(
            f'<line class="reference" x1="{_fmt(x)}" y1="{top - 4}" x2="{_fmt(x)}" '
            f'y2="{height - 8}" stroke="#888" stroke-dasharray="4 3"/>'
        )
    return _svg(width, height, title, body, "hbar-chart")


def stacked_bar_chart(
    title: str,
    rows: Mapping[str, Mapping[str, float]],
    *,
    unit: str = "h",
    width: int = 640,
) -> Markup:
    """One horizontal bar per row, split into its parts (e.g. where the time went)."""
    left, right, top, row_h = 150, 20, 24, 22
    parts = list(dict.fromkeys(part for row in rows.values() for part in row))
    plot_w = width - left - right
    height = top + row_h * max(len(rows), 1) + 16 * len(parts) + 16
    x_max = max([sum(row.values()) for row in rows.values()] + [0.0]) or 1.0
    body = [f'<text x="4" y="14" style="font-weight:bold">{escape(title)}</text>']
    for index, (label, row) in enumerate(rows.items()):
        y = top + row_h * index
        body.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        x = float(left)
        for p_index, part in enumerate(parts):
            value = row.get(part, 0.0)
            if value <= 0:
                continue
            w = plot_w * value / x_max
            body.append(
                f'<rect class="bar" x="{_fmt(x)}" y="{y + 3}" width="{_fmt(w)}" '
                f'height="{row_h - 6}" fill="{PALETTE[p_index % len(PALETTE)]}">'
                f"<title>{escape(label)}, {escape(part)}: {_fmt(value)} {escape(unit)}</title>"
                "</rect>"
            )
            x += w
    body += _legend(parts, left, top + row_h * len(rows) + 8)
    return _svg(width, height, title, body, "stacked-bar-chart")
