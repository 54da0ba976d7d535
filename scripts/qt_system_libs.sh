#!/bin/sh
# Qt's X11 platform plugin needs a few system libraries that PyPI wheels cannot ship (libxcb-cursor0 and
# friends). `make run` calls this: it installs them when it can (root with apt-get), else says what to install.
set -u
python=${1:-.venv/bin/python}
command -v ldd >/dev/null 2>&1 || exit 0  # not Linux: nothing to check
qt=$("$python" -c "import os, PySide6; print(os.path.join(os.path.dirname(PySide6.__file__), 'Qt'))") || exit 0
plugin="$qt/plugins/platforms/libqxcb.so"
[ -f "$plugin" ] || exit 0
missing=$(ldd "$plugin" "$qt/lib/libQt6XcbQpa.so.6" 2>/dev/null | grep "not found")
ldconfig -p 2>/dev/null | grep -q "libxcb-cursor.so.0" || missing="$missing libxcb-cursor.so.0"
[ -n "$missing" ] || exit 0
packages="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 \
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing the system libraries Qt needs for X11: $packages"
    apt-get install -y -q $packages >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $packages; }
else
    echo "Qt needs system libraries to open a window on X11. Install them with:"
    echo "    sudo apt-get install $packages"
fi
exit 0
