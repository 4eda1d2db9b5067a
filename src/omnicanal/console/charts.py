"""Server-side SVG charts: the geometry is computed here, ``templates/charts/*.svg`` draws it.

No JavaScript and no library: bars (one per channel or store) and a line (one point per day),
with a value axis of round ticks, labels on every bar or point, and a title and description
for assistive technologies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 720
HEIGHT = 320
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 24, 64


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the category (a channel, a store, a day)
    value: Decimal | None  # None: nothing to measure in this group
    text: str  # the value as people read it ("1 234.50 EUR", "12.5 %")


@dataclass(frozen=True, slots=True)
class Mark:
    label: str
    text: str
    x: float  # bar's left edge, or the point's centre
    y: float  # top of the bar, or the point
    width: float
    height: float
    label_x: float


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    kind: str  # "bars" | "line"
    title: str
    description: str
    width: int
    height: int
    left: int
    right: float
    top: int
    baseline: float
    marks: list[Mark]
    ticks: list[Tick]
    label_every: int = 1  # a label under every n-th mark (days would overlap)

    @property
    def polyline(self) -> str:
        return " ".join(f"{m.x:.1f},{m.y:.1f}" for m in self.marks if m.text)


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) so that ``ticks`` steps cover ``top``."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{decimals}f}".replace(",", " ")


def build(
    kind: str, title: str, description: str, points: Sequence[Point], *, scale: float = 1.0
) -> Chart:
    """``scale`` multiplies values for the axis (100 for ratios shown as percentages)."""
    values = [float(p.value) * scale for p in points if p.value is not None]
    top = max([0.0, *values])
    bottom_value = min([0.0, *values])
    step = nice_step(top - bottom_value)
    axis_top = step * math.ceil(top / step) if top > 0 else step
    axis_bottom = step * math.floor(bottom_value / step) if bottom_value < 0 else 0.0
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT

    def y_of(value: float) -> float:
        return TOP + plot_h * (axis_top - value) / (axis_top - axis_bottom)

    baseline = y_of(0.0)
    ticks = []
    tick = axis_bottom
    while tick <= axis_top + step / 2:
        ticks.append(Tick(round(y_of(tick), 1), _tick_text(tick, step)))
        tick += step
    slot = plot_w / max(1, len(points))
    marks = []
    for i, point in enumerate(points):
        centre = LEFT + slot * (i + 0.5)
        if point.value is None:
            marks.append(Mark(point.label, "", centre, baseline, 0, 0, centre))
            continue
        y = y_of(float(point.value) * scale)
        if kind == "bars":
            bar_w = min(64.0, slot * 0.6)
            marks.append(
                Mark(
                    point.label,
                    point.text,
                    round(centre - bar_w / 2, 1),
                    round(min(y, baseline), 1),
                    round(bar_w, 1),
                    round(abs(baseline - y), 1),
                    round(centre, 1),
                )
            )
        else:
            marks.append(Mark(point.label, point.text, round(centre, 1), round(y, 1), 0, 0, centre))
    return Chart(
        kind=kind,
        title=title,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        baseline=round(baseline, 1),
        marks=marks,
        ticks=ticks,
        label_every=max(1, math.ceil(len(points) / 12)),
    )
