"""Form fields remembered between sessions of the studio (QSettings), by name, for any panel."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit


def save_fields(settings: QSettings, prefix: str, owner, names: tuple[str, ...]) -> None:
    """owner.NAME's value for each name, under PREFIX/NAME."""
    for name in names:
        w = getattr(owner, name)
        value = (w.currentText() if isinstance(w, QComboBox) else w.text() if isinstance(w, QLineEdit)
                 else w.isChecked() if isinstance(w, QCheckBox) else w.value())
        settings.setValue(f"{prefix}/{name}", value)


def restore_fields(settings: QSettings, prefix: str, owner, names: tuple[str, ...]) -> None:
    """Each field as it was saved, in the order named (one that sets others' defaults comes first); a value from
    another version, or edited by hand, that does not fit leaves its field as it is."""
    for name in names:
        value, w = settings.value(f"{prefix}/{name}"), getattr(owner, name)
        if value is None:
            continue
        try:
            if isinstance(w, QComboBox):
                if w.findText(str(value)) >= 0:
                    w.setCurrentText(str(value))
            elif isinstance(w, QLineEdit):
                w.setText(str(value))
            elif isinstance(w, QCheckBox):
                w.setChecked(str(value).lower() == "true")
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(float(value))
            elif isinstance(w, (QAbstractSpinBox, QAbstractSlider)):
                w.setValue(int(value))
        except (TypeError, ValueError):
            pass
