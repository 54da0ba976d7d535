"""Screenshots of every studio panel with real content: docs/screenshots/*.png.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--dataset FOLDER] [--model FILE.onnx ...]

Without arguments it uses the built-in demo (procedural faces and the shipped demo models). Runs offscreen
or under Xvfb; it trains a few steps on the CPU for the Train panel.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", help="image folder for the Dataset and Train panels (default: the demo faces)")
    p.add_argument("--model", action="append", default=[], help="models to show (default: the demo models)")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = p.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from studio.app import style_sheet
    from studio.demo import demo_folder, demo_models
    from studio.main_window import MainWindow

    app.setStyleSheet(style_sheet(dark=False))
    tmp = tempfile.mkdtemp(prefix="gan-studio-shots-")
    window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 820)
    window.show()

    def pump(seconds: float, until=None) -> None:
        end = time.time() + seconds
        while time.time() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.02)

    models = [Path(m) for m in args.model] or demo_models()
    if not models:
        sys.exit("no models: pass --model FILE.onnx or run scripts/make_demo_models.py first")
    for extra in models[1:]:
        window.compare_panel.add_paths([str(extra)])
    window.open_model_file(str(models[0]))
    window.dataset_panel.load(args.dataset or str(demo_folder()))
    pump(60, lambda: window.state.dataset is not None and window.state.model is not None)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def shot(name: str, panel, settle: float = 0.5) -> None:
        window.tabs.setCurrentWidget(panel)
        pump(0.3)
        pump(60, window.renderer.idle)  # every queued render has landed
        pump(settle)
        window.grab().save(str(out / f"{name}.png"))
        print(f"wrote {out / name}.png")

    shot("dataset", window.dataset_panel)
    # A short CPU run (about 2 minutes) that shows faces appearing: the tutorial DCGAN, narrowed, on the demo faces at 32x32.
    window.dataset_panel.resolution.setValue(32)  # reads the open folder again at that size
    pump(60, lambda: window.state.dataset is not None and window.state.dataset.resolution == 32)
    panel = window.train_panel
    panel.family.setCurrentText("dcgan-tutorial")
    panel.batch.setValue(32)
    panel.steps.setValue(1500)
    panel.score_every.setValue(250)  # the quality curve on the plot's right-hand axis
    panel.device.setCurrentText("cpu")
    panel.out.setText(str(Path(tmp) / "run"))
    panel.extra_settings = {"g_width": 32, "d_width": 32, "sample_every": 100, "log_every": 10, "grid_size": 6}
    panel.start()
    pump(600, lambda: not panel.is_training())
    shot("train", panel, 1.0)
    # The finished run opened in Generate (it replaces a demo model); the exploring panels show the first model.
    window.open_model_file(str(models[0]))
    pump(60, lambda: window.state.model is not None and window.state.model.info.path == str(models[0]))
    window.generate_panel.count.setValue(40)
    shot("generate", window.generate_panel)
    # Find a face like a picture: a demo face none of the models saw, searched among the StyleGAN2's faces.
    from trainers.demo_faces import write_demo_folder

    [picture] = write_demo_folder(Path(tmp) / "picture", 1, size=96, first_seed=3_000_000)
    search = window.generate_panel.find_face(str(picture))
    pump(600, lambda: search.found is not None)
    pump(0.5)
    search.grab().save(str(out / "find-face.png"))
    print(f"wrote {out / 'find-face.png'}")
    search.close()
    # A face edited along the model's directions.
    editor = window.generate_panel.edit_face(5, "seed 5")
    pump(120, editor.ready)
    editor.set_amounts({0: 1.5, 2: -1.0})
    pump(60, lambda: not editor.busy())
    pump(0.5)
    editor.grab().save(str(out / "edit-face.png"))
    print(f"wrote {out / 'edit-face.png'}")
    editor.close()
    window.interpolate_panel.set_seeds([3, 14, 27])
    window.interpolate_panel.scrub.setValue(25)
    shot("interpolate", window.interpolate_panel)
    window.style_mix_panel.update_grid()
    shot("style-mixing", window.style_mix_panel)
    # The shipped models (not the 2-minute run) under real faces of the dataset, read at their size again, and
    # every row scored: the dataset's own row is the floor.
    compare = window.compare_panel
    window.dataset_panel.resolution.setValue(window.state.model.info.resolution)
    pump(60, lambda: window.state.dataset.resolution == window.state.model.info.resolution)
    compare.set_checked([compare.dataset_path] + [str(m) for m in models])
    pump(60, lambda: len(compare.shown) == 1 + len(models))
    compare.score()
    pump(600, lambda: not compare.scoring())
    shot("compare", compare)
    window.shutdown()


if __name__ == "__main__":
    main()
