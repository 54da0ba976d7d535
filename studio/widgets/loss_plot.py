"""Live loss curves with pyqtgraph: one curve per `Loss/...` statistic, added as new names appear. Each is drawn
twice, as TensorBoard does: the raw values faint, and an exponential moving average over them bold."""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import pyqtgraph as pg

COLOURS = ["#e4572e", "#17bebb", "#ffc914", "#76b041", "#a06cd5", "#2e86ab"]


class Smoothed:
    """An exponential moving average with its start-up bias removed (TensorBoard's smoothing), kept up to date
    point by point: weight 0 leaves the values as they are, 0.99 averages over about a hundred points."""

    def __init__(self, weight: float):
        self.weight, self.acc, self.n, self.values = weight, 0.0, 0, []

    def extend(self, values) -> None:
        w = self.weight
        for v in values:
            if not math.isfinite(v):  # a diverged step (the run rolls back): a gap, not a poisoned average
                self.values.append(math.nan)
                continue
            self.n += 1
            self.acc = self.acc * w + (1 - w) * v
            self.values.append(self.acc / (1 - w ** self.n) if w > 0 else v)


class LossPlot(pg.PlotWidget):
    def __init__(self, parent=None, smoothing: float = 0.6):
        super().__init__(parent)
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setLabel("bottom", "step")
        # One row across the top right, on a backdrop of the window's colour: the curves run behind it, not through it.
        self.legend = self.addLegend(offset=(-10, 5), colCount=6)
        self.retheme()
        # Long runs log tens of thousands of points: draw only what is in view, at most a point per pixel column.
        self.setDownsampling(auto=True, mode="peak")
        self.setClipToView(True)
        self.smoothing = smoothing
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}  # name: (raw, smoothed)
        self.data: dict[str, tuple[list[float], list[float]]] = {}  # name: (steps, raw values)
        self.smoothed: dict[str, Smoothed] = {}

    def retheme(self) -> None:
        """Follow the palette (light or dark): the legend's backdrop and text."""
        backdrop = self.palette().color(self.backgroundRole())
        backdrop.setAlpha(210)
        self.legend.setBrush(pg.mkBrush(backdrop))
        self.legend.setLabelTextColor(self.palette().color(self.foregroundRole()))

    def clear_curves(self) -> None:
        for raw, smoothed in self.curves.values():
            self.removeItem(raw)
            self.removeItem(smoothed)
        self.curves.clear()
        self.data.clear()
        self.smoothed.clear()

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for name, (_, ys) in self.data.items():
            self.smoothed[name] = Smoothed(weight)
            self.smoothed[name].extend(ys)
            self._redraw(name)

    def add_point(self, step: int, stats: Mapping[str, float]) -> None:
        self.add_rows([{"step": step, **stats}])

    def add_rows(self, rows: Iterable[Mapping[str, float]]) -> None:
        """Append points ({"step": s, "Loss/D": v, ...}; other statistics are ignored) and draw once."""
        changed = set()
        for row in rows:
            for name, value in row.items():
                if not name.startswith("Loss/"):
                    continue
                if name not in self.curves:
                    self._add_curve(name)
                xs, ys = self.data[name]
                xs.append(row["step"])
                ys.append(value)
                self.smoothed[name].extend([value])
                changed.add(name)
        for name in changed:
            self._redraw(name)

    def _add_curve(self, name: str) -> None:
        colour = pg.mkColor(COLOURS[len(self.curves) % len(COLOURS)])
        faint = pg.mkColor(colour)
        faint.setAlpha(70)
        raw = self.plot(pen=pg.mkPen(faint, width=1))
        smoothed = self.plot(name=name.split("/", 1)[1], pen=pg.mkPen(colour, width=2))
        self.curves[name] = (raw, smoothed)
        self.data[name] = ([], [])
        self.smoothed[name] = Smoothed(self.smoothing)

    def _redraw(self, name: str) -> None:
        xs, ys = self.data[name]
        raw, smoothed = self.curves[name]
        x = np.asarray(xs, dtype=float)
        raw.setData(x, np.asarray(ys, dtype=float), connect="finite")
        raw.setVisible(self.smoothing > 0)  # with no smoothing the bold line is the raw one
        smoothed.setData(x, np.asarray(self.smoothed[name].values, dtype=float), connect="finite")
