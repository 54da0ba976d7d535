"""Studio start-up: seconds from launch to the splash screen, to the window, and to the demo's first faces.

    python bench/startup.py [--repeats 3]

Each repeat is a fresh process (`python main.py`'s path: studio.app.main) on Qt's offscreen platform, with
empty settings and cache folders, so that it starts as a first launch does after installation. Times run
from the process's start (the interpreter's own start-up is not counted) and are medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from PySide6.QtWidgets import QApplication, QMainWindow, QSplashScreen

marks = {}
show_splash, show_window = QSplashScreen.show, QMainWindow.show
def splash(self):
    show_splash(self); marks.setdefault("splash", time.perf_counter() - t0)
def window(self):
    show_window(self); marks.setdefault("window", time.perf_counter() - t0); marks["w"] = self
QSplashScreen.show, QMainWindow.show = splash, window

def run_until_faces(app):
    w = marks["w"]
    deadline = time.monotonic() + 120
    while not len(getattr(w.generate_panel.grid, "faces", [])) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    marks["faces"] = time.perf_counter() - t0
    w.shutdown()
    return 0
QApplication.exec = lambda *args: run_until_faces(QApplication.instance())

from studio.app import main
main([])
print(json.dumps({k: v for k, v in marks.items() if k != "w"}))
os._exit(0)
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=home, XDG_CONFIG_HOME=home,
                       GAN_STUDIO_CACHE=str(Path(home) / "cache"))
            out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], env=env, capture_output=True, text=True,
                                 timeout=300)
            if out.returncode != 0:
                sys.exit(f"the studio did not start:\n{out.stderr[-3000:]}")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"studio start-up, median of {len(runs)} fresh processes (offscreen)")
    for key, what in (("splash", "splash screen shown"), ("window", "main window shown"),
                      ("faces", "first demo faces in Generate")):
        print(f"{what:<32} {statistics.median(r[key] for r in runs):6.2f} s")


if __name__ == "__main__":
    main()
