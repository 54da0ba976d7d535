"""Train and export the studio's built-in demo models on the procedural demo faces (CPU).

    python scripts/make_demo_models.py [--models dcgan-tutorial,stylegan2] [--minutes M] [--faces 2000]

Writes resources/demo/dcgan-tutorial.onnx and resources/demo/stylegan2.onnx: small enough to ship (a few MB
in all), trained only on faces this project draws itself. Each model trains for its own number of minutes
(below) unless --minutes sets one for all.
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

# name: (minutes on the 2-core development CPU, training options)
MODELS = {
    # The tutorial's networks at ngf = ndf = 32 (a quarter of its width): 4 MB, and they learn these flat
    # cartoon faces within minutes, where the sample DCGAN's 5x5 transposed convolutions leave a checkerboard.
    "dcgan-tutorial": (20.0, ["--model", "dcgan-tutorial", "--g-width", "32", "--d-width", "32", "--batch", "32"]),
    # StyleGAN2 is far slower per image on a CPU; it gets most of the time.
    "stylegan2": (95.0, ["--model", "stylegan2", "--preset", "tiny", "--z-dim", "64", "--batch", "16",
                         "--ema-kimg", "2"]),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, help="minutes of training for every model (default: each its own)")
    p.add_argument("--faces", type=int, default=2000)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--work", help="folder for the runs (default: a temporary folder)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="gan-studio-demo-"))
    faces = work / "faces"
    if not faces.is_dir():
        write_demo_folder(faces, args.faces, size=64)
    for name in args.models.split(","):
        minutes, options = MODELS[name]
        run = work / name
        subprocess.run([sys.executable, "-m", "trainers", "train", str(faces), "--out", str(run), "--device", "cpu",
                        "--minutes", str(args.minutes or minutes), "--steps", "10000000", "--sample-every", "500",
                        "--checkpoint-every", "500", "--quiet", *options], check=True, cwd=ROOT)
        subprocess.run([sys.executable, "-m", "trainers", "export", str(run), "--out",
                        str(ROOT / "resources" / "demo" / f"{name}.onnx")], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
