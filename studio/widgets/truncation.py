"""StyleGAN2's truncation ψ as the panels show it: a slider with a label that says its value."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSlider


class TruncationSlider(QSlider):
    """ψ from 0 to 1.5, held in hundredths (setValue(70) is ψ 0.70); `label` shows it."""

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, 150)
        self.setValue(100)
        self.setToolTip("StyleGAN2 truncation ψ: lower is more typical and less varied; 1 is untouched")
        self.label = QLabel("ψ 1.00")
        self.valueChanged.connect(self._show)

    def psi(self) -> float:
        return self.value() / 100

    def set_psi(self, psi: float, quiet: bool = False) -> None:
        """quiet: without valueChanged, for a caller that redraws by itself afterwards."""
        self.blockSignals(quiet)
        self.setValue(round(psi * 100))
        self.blockSignals(False)
        self._show(self.value())

    def _show(self, value: int) -> None:
        self.label.setText(f"ψ {value / 100:.2f}")
