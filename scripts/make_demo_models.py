"""Train and export the studio's built-in demo models on the procedural demo faces (CPU, about 15 minutes each).

    python scripts/make_demo_models.py [--minutes 15] [--faces 2000]

Writes resources/demo/dcgan.onnx and resources/demo/stylegan2.onnx: small enough to ship (a few MB in all),
trained only on faces this project draws itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainers.demo_faces import write_demo_folder  # noqa: E402

MODELS = {
    # Narrower than the sample DCGAN (g_width 128 instead of 512) to keep the file near 1 MB.
    "dcgan": ["--model", "dcgan", "--g-width", "128", "--d-width", "32", "--batch", "32", "--lr-g", "2e-4",
              "--lr-d", "2e-4"],
    "stylegan2": ["--model", "stylegan2", "--preset", "tiny", "--z-dim", "64", "--batch", "16", "--ema-kimg", "2"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--faces", type=int, default=2000)
    p.add_argument("--models", default="dcgan,stylegan2")
    p.add_argument("--work", help="folder for the runs (default: a temporary folder)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="gan-studio-demo-"))
    faces = work / "faces"
    if not faces.is_dir():
        write_demo_folder(faces, args.faces, size=64)
    for name in args.models.split(","):
        run = work / name
        subprocess.run([sys.executable, "-m", "trainers", "train", str(faces), "--out", str(run), "--device", "cpu",
                        "--minutes", str(args.minutes), "--steps", "1000000", "--sample-every", "500",
                        "--checkpoint-every", "500", "--quiet", *MODELS[name]], check=True, cwd=ROOT)
        subprocess.run([sys.executable, "-m", "trainers", "export", str(run), "--out",
                        str(ROOT / "resources" / "demo" / f"{name}.onnx")], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
