"""Icons: every SVG draws, in the colour of the theme's text, and follows a switch between light and dark."""

import numpy as np
import pytest
from PySide6.QtGui import QColor, QIcon, QImage, QPalette

from studio import icons


def pixels(image: QImage) -> np.ndarray:
    """[H, W, 4] uint8, not premultiplied."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)[:, :image.width()].copy()


def icon_pixels(icon: QIcon, size: int = 32) -> np.ndarray:
    return pixels(icon.pixmap(size, size).toImage())


def ink(rgba: np.ndarray) -> np.ndarray:
    """The colours of the icon's solid pixels (antialiased edges left out)."""
    return rgba[rgba[..., 3] > 230][:, :3].astype(int)


@pytest.mark.parametrize("name", icons.icon_names())
def test_every_icon_draws_and_takes_the_colour_it_is_tinted_with(qapp, name):
    rgba = pixels(icons.render(name, 48, "#2060c0"))
    solid = ink(rgba)
    assert len(solid) > 40, f"{name}.svg draws almost nothing"
    assert (rgba[..., 3] == 0).sum() > 48 * 48 * 0.05 or name == "app", f"{name}.svg fills its whole square"
    if name != "app":  # the application icon keeps its own colours
        assert np.abs(solid - [0x20, 0x60, 0xC0]).max() <= 2


def test_the_tabs_window_and_main_buttons_show_icons(window):
    assert not window.windowIcon().isNull()
    for i in range(window.tabs.count()):
        assert not window.tabs.tabIcon(i).isNull(), window.tabs.tabText(i)
    for button in (window.dataset_panel.open_button, window.train_panel.start_button, window.train_panel.stop_button,
                   window.generate_panel.export_selected, window.compare_panel.save_button):
        assert len(ink(icon_pixels(button.icon()))) > 20, button.text()


def test_icons_are_tinted_again_when_the_theme_switches(qtbot, window):
    start = window.train_panel.start_button
    before = ink(icon_pixels(start.icon()))
    light_text = QColor("#f0f0f2")  # the dark theme's text colour
    assert np.abs(before - [0xF0, 0xF0, 0xF2]).max() > 60  # the light theme's icons are dark
    palette = window.palette()
    palette.setColor(QPalette.ColorRole.ButtonText, light_text)
    palette.setColor(QPalette.ColorRole.WindowText, light_text)
    palette.setColor(QPalette.ColorRole.Window, QColor("#232326"))
    window.setPalette(palette)  # what Qt does to every window when the system switches to dark
    qtbot.waitUntil(lambda: np.abs(ink(icon_pixels(start.icon())) - [0xF0, 0xF0, 0xF2]).max() <= 2, timeout=2000)
    # the loss plot's legend too: light names on a dark backdrop
    legend = window.train_panel.plot.legend
    assert legend.labelTextColor().name() == "#f0f0f2" and legend.brush().color().name() == "#232326"
    tab = ink(icon_pixels(window.tabs.tabIcon(1)))
    assert np.abs(tab - [0xF0, 0xF0, 0xF2]).max() <= 2
