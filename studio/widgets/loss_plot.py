"""Live loss curves with pyqtgraph: one curve per `Loss/...` statistic, added as new names appear. Each is drawn
twice, as TensorBoard does: the raw values faint, and an exponential moving average over them bold. A run that
scores its faces while it trains adds its SWD (`Score/SWD`) as points on a right-hand axis of their own."""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import pyqtgraph as pg

COLOURS = ["#e4572e", "#17bebb", "#ffc914", "#76b041", "#a06cd5", "#2e86ab"]
SCORE = "Score/SWD"
SCORE_LABEL = "SWD (right axis)"


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
        # The quality score: its own view box over the same steps, read on the right-hand axis.
        plot = self.getPlotItem()
        self.score_view = pg.ViewBox()
        plot.scene().addItem(self.score_view)
        plot.getAxis("right").linkToView(self.score_view)
        plot.getAxis("right").setLabel("SWD, lower is better")
        self.score_view.setXLink(plot)
        plot.vb.sigResized.connect(self._fit_score_view)
        self.score_curve = pg.PlotDataItem(symbol="o", symbolSize=6)
        self.score_view.addItem(self.score_curve)
        self.scores: tuple[list[float], list[float]] = ([], [])  # steps, SWD
        self._show_scores(False)
        self._colour_scores()

    def _fit_score_view(self) -> None:
        vb = self.getPlotItem().vb
        self.score_view.setGeometry(vb.sceneBoundingRect())
        self.score_view.linkedViewChanged(vb, self.score_view.XAxis)

    def _show_scores(self, shown: bool) -> None:
        """The right-hand axis and the legend's entry are there only while the plot holds scores."""
        self.getPlotItem().showAxis("right", shown)
        self.score_curve.setVisible(shown)
        in_legend = any(label.text == SCORE_LABEL for _, label in self.legend.items)
        if shown and not in_legend:
            self.legend.addItem(self.score_curve, SCORE_LABEL)
        elif not shown and in_legend:
            self.legend.removeItem(self.score_curve)

    def _colour_scores(self) -> None:
        ink = self.palette().color(self.foregroundRole())  # not a loss's colour, and readable in either theme
        self.score_curve.setPen(pg.mkPen(ink, width=1.5))
        self.score_curve.setSymbolPen(pg.mkPen(ink))
        self.score_curve.setSymbolBrush(pg.mkBrush(ink))

    def retheme(self) -> None:
        """Follow the palette (light or dark): the legend's backdrop and text."""
        backdrop = self.palette().color(self.backgroundRole())
        backdrop.setAlpha(210)
        self.legend.setBrush(pg.mkBrush(backdrop))
        self.legend.setLabelTextColor(self.palette().color(self.foregroundRole()))
        if hasattr(self, "score_curve"):
            self._colour_scores()

    def clear_curves(self) -> None:
        for raw, smoothed in self.curves.values():
            self.removeItem(raw)
            self.removeItem(smoothed)
        self.curves.clear()
        self.data.clear()
        self.smoothed.clear()
        self.scores = ([], [])
        self.score_curve.setData([], [])
        self._show_scores(False)

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for name, (_, ys) in self.data.items():
            self.smoothed[name] = Smoothed(weight)
            self.smoothed[name].extend(ys)
            self._redraw(name)

    def add_point(self, step: int, stats: Mapping[str, float]) -> None:
        self.add_rows([{"step": step, **stats}])

    def add_rows(self, rows: Iterable[Mapping[str, float]]) -> None:
        """Append points ({"step": s, "Loss/D": v, ...} or {"step": s, "Score/SWD": v}; other statistics are
        ignored) and draw once."""
        changed = set()
        scored = False
        for row in rows:
            if SCORE in row:
                self.scores[0].append(row["step"])
                self.scores[1].append(row[SCORE])
                scored = True
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
        if scored:
            self.score_curve.setData(np.asarray(self.scores[0], dtype=float), np.asarray(self.scores[1], dtype=float))
            self._show_scores(True)

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
