"""Live loss curves with pyqtgraph: one curve per `Loss/...` statistic, added as new names appear."""

from __future__ import annotations

import pyqtgraph as pg

COLOURS = ["#e4572e", "#17bebb", "#ffc914", "#76b041", "#a06cd5", "#2e86ab"]


class LossPlot(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setLabel("bottom", "step")
        self.addLegend(offset=(-10, 10))
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, tuple[list[float], list[float]]] = {}

    def clear_curves(self) -> None:
        for curve in self.curves.values():
            self.removeItem(curve)
        self.curves.clear()
        self.data.clear()

    def add_point(self, step: int, stats: dict[str, float]) -> None:
        for name, value in stats.items():
            if not name.startswith("Loss/"):
                continue
            if name not in self.curves:
                colour = COLOURS[len(self.curves) % len(COLOURS)]
                self.curves[name] = self.plot(name=name.split("/", 1)[1], pen=pg.mkPen(colour, width=2))
                self.data[name] = ([], [])
            xs, ys = self.data[name]
            xs.append(step)
            ys.append(value)
            self.curves[name].setData(xs, ys)
