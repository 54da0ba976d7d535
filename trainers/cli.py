"""The headless command line: `python -m trainers train|sample ...` (also installed as `gan-studio-train`).

Exit codes: 0 success; 1 training failed; 2 bad usage or unusable data, settings or checkpoint;
130 stopped with Ctrl-C (after a checkpoint was written).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

from trainers.config import FAMILIES, FAMILY_DEFAULTS, RESOLUTIONS, ConfigError, TrainConfig
from trainers.events import format_duration

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
RETRY_S = 30  # seconds before a paused CLI run (disk full) tries its checkpoint again


def _family_table() -> str:
    rows = ["family defaults:"]
    for name in FAMILIES:
        d = FAMILY_DEFAULTS[name]
        parts = [f"{d['optimizer']} lr {d['lr_g']:g}/{d['lr_d']:g}"]
        if d["optimizer"] == "adam":
            parts.append(f"betas {d['beta1']:g}/{d['beta2']:g}")
        parts.append(f"z {d['z_dim']}")
        if d.get("n_critic", 1) > 1:
            parts.append(f"n_critic {d['n_critic']}")
        if "clip" in d:
            parts.append(f"clip {d['clip']:g}")
        if "gp_weight" in d:
            parts.append(f"gp {d['gp_weight']:g}")
        res = "/".join(map(str, RESOLUTIONS[name]))
        rows.append(f"  {name:15s} {', '.join(parts)}; resolutions {res}")
    return "\n".join(rows)


def _engine_default(name: str):
    """A default of the engine, 'MODULE.NAME' (e.g. 'projection.STEPS'): trainers.projection and
    trainers.directions import torch only when they work, so --help stays quick."""
    import importlib

    module, _, name = name.partition(".")
    return getattr(importlib.import_module(f"trainers.{module}"), name)


def _model_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the faces are made: auto "
                   "(the GPU when there is one), cpu or cuda")


class _Version(argparse.Action):
    """--version: the versions are looked up only when asked for."""

    def __call__(self, parser, namespace, values, option_string=None):
        from trainers import __version__, versions

        print(f"GAN Studio {__version__} ({versions()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainers",
        description="GAN Studio's headless engine: train GANs on an image folder and sample from them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            examples:
              python -m trainers train faces/ --model dcgan --out runs/dcgan --steps 2000
              python -m trainers train --out runs/dcgan --resume --steps 2000   # 2,000 more
              python -m trainers sample runs/dcgan --n 64 --seed 0 --out grid.png
              python -m trainers sample runs/dcgan --n 16 --out faces/
              python -m trainers export runs/dcgan --out dcgan.onnx
              python -m trainers interpolate dcgan.onnx --seeds 3,14,27 --loop --scale 4 --out walk.gif
              python -m trainers style-mix runs/stylegan2 --rows 1,2,3 --columns 10,11,12 --styles coarse --out mix.png
              python -m trainers eval runs/dcgan dcgan.onnx --real faces/ --metric swd --n 2048
              python -m trainers nearest runs/dcgan --n 16 --out near.png
              python -m trainers duplicates faces/ --holdout 2000
              python -m trainers project runs/stylegan2 photo.png --out found.png

            exit codes: 0 success, 1 training failed, 2 bad usage or unusable data, 130 stopped by Ctrl-C"""))
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="GAN Studio's version, and the versions of Python, torch, onnxruntime and PySide6")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model on a folder (or a .zip or .tar) of images",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_family_table()
                       + "\n\nUnset hyperparameters take the family's default; every value used is saved in "
                       "RUN_DIR/config.json.\n--steps counts generator steps; with --resume, steps beyond the checkpoint "
                       "(without --steps a resumed run finishes its plan).")
    t.add_argument("data", nargs="?",
                   help="folder of images (searched recursively), or a .zip or .tar (.tar.gz, .tar.bz2, .tar.xz too) "
                        "of them; optional with --resume")
    t.add_argument("--model", choices=FAMILIES, default=None, help="model family (default dcgan)")
    t.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/MODEL)")
    length = t.add_argument_group("run length (default 1,000 steps; with several, the first reached ends the run)")
    length.add_argument("--steps", type=int, help="generator steps to train (with --resume: this many more)")
    length.add_argument("--epochs", type=float, help="passes over the dataset")
    length.add_argument("--minutes", type=float, help="wall-clock minutes of training in this session")
    t.add_argument("--batch", type=int, help="images per discriminator step (default 64)")
    t.add_argument("--resolution", type=int, help="training resolution, a power of two (default 64)")
    t.add_argument("--device", help="auto, cpu, cuda or cuda:N, or mps on an Apple-silicon Mac (untested) (default "
                   "auto: the GPU when there is one)")
    t.add_argument("--seed", type=int, help="seed for weights, data order and latents (default 0)")
    fast = t.add_argument_group("speed (the same training, faster on some GPUs: bench/train_speed.py measures each)")
    fast.add_argument("--cuda-graphs", action=argparse.BooleanOptionalAction, default=None,
                      help="capture whole training steps as CUDA graphs (one CUDA device; default off)")
    fast.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                      help="channels_last memory layout for networks and images (default off)")
    fast.add_argument("--precision", choices=("fp32", "bf16"),
                      help="bf16: autocast matrix work to bfloat16 (default fp32)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    t.add_argument("--config", metavar="FILE", help="start from a saved config.json (options given here override it)")
    h = t.add_argument_group("family hyperparameters (default: the family's, see below)")
    h.add_argument("--optimizer", choices=("adam", "rmsprop"), help="optimizer for both networks")
    h.add_argument("--lr-g", type=float, help="generator learning rate")
    h.add_argument("--lr-d", type=float, help="discriminator (critic) learning rate")
    h.add_argument("--beta1", type=float, help="Adam beta1")
    h.add_argument("--beta2", type=float, help="Adam beta2")
    h.add_argument("--z-dim", type=int, help="latent size")
    h.add_argument("--g-width", type=int, help="generator width (channels at 4x4; ngf for dcgan-tutorial)")
    h.add_argument("--d-width", type=int, help="discriminator width (channels of its first layer)")
    h.add_argument("--linear", action=argparse.BooleanOptionalAction, default=None,
                   help="sample-architecture generator starts with Linear + BatchNorm1d (wgan-clip: off unless given)")
    h.add_argument("--n-critic", type=int, help="discriminator steps per generator step")
    h.add_argument("--clip", type=float, help="wgan-clip: clamp critic weights to [-clip, clip]")
    h.add_argument("--gp-weight", type=float, help="wgan-gp: gradient penalty weight (lambda)")
    s2 = t.add_argument_group("stylegan2")
    s2.add_argument("--preset", choices=("tiny", "small", "medium", "base"),
                    help="capacity preset (default small: 2.4M generator parameters; base: 23.8M)")
    s2.add_argument("--r1-gamma", type=float, help="R1 penalty weight (default 0.1)")
    s2.add_argument("--pl-weight", type=float, help="path-length regularisation weight (default 2; 0 = off)")
    s2.add_argument("--style-mixing", type=float, help="style-mixing probability (default 0.9)")
    s2.add_argument("--ema-kimg", type=float, help="EMA half-life in thousands of images (default 10)")
    s2.add_argument("--diffaugment", help="comma list of translation,cutout,color (default off)")
    s2.add_argument("--fused-modconv", action=argparse.BooleanOptionalAction, default=None,
                    help="modulate weights per sample in grouped convolutions while training (default off)")
    b = t.add_argument_group("data and bookkeeping")
    b.add_argument("--no-flip", dest="flip", action="store_false", default=None, help="no random horizontal flips")
    b.add_argument("--holdout", type=int, help="keep the last N images (sorted by path) out of training, to "
                   "score on later with eval --real-last N")
    b.add_argument("--log-every", type=int, help="steps between progress lines in log.jsonl (default 20)")
    b.add_argument("--sample-every", type=int, help="steps between snapshot grids in samples/ (default 200)")
    b.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 1000)")
    b.add_argument("--score-every", type=int, metavar="STEPS",
                   help="score the faces every STEPS steps while training: SWD against the held-out images "
                        "(--holdout), else the training images; lower is better (default 0: never)")
    b.add_argument("--score-n", type=int, metavar="N", help="faces per score (default 1,024)")
    b.add_argument("--keep", dest="keep_checkpoints", type=int, help="checkpoints to keep (default 3)")
    b.add_argument("--grid", dest="grid_size", type=int, help="snapshot grid side in faces (default 8)")
    b.add_argument("--max-pixels", type=int, help="refuse images with more pixels (default 8192x8192)")
    b.add_argument("--no-cache", action="store_true", help="decode every image again instead of using the cache")
    b.add_argument("--quiet", action="store_true",
                   help="a plain line every --log-every steps instead of a progress bar (the default when the output "
                        "is not a terminal, such as a log file)")

    s = sub.add_parser("sample", help="generate faces from a run, a checkpoint or an exported .onnx file")
    s.add_argument("model", metavar="MODEL", help="a run folder (its latest checkpoint), a checkpoint or an .onnx "
                   "file; or a face or grid saved by GAN Studio: its model (where it was, else a model of its name "
                   "beside the face), at its seeds and truncation unless --n, --seed or --truncation say otherwise")
    s.add_argument("--n", type=int, help="number of faces (default 64)")
    s.add_argument("--seed", type=int, help="first seed; face i uses seed + i (default 0)")
    s.add_argument("--out", required=True,
                   help="grid.png for one grid, or DIR/ (a trailing slash or an existing folder) for one PNG per face, "
                        "named FAMILY-MODEL-seedN[-psiP].png, MODEL being RUN-step-N for a run's checkpoint (another model's face of that name is kept: 'NAME (2).png')")
    s.add_argument("--columns", type=int, help="faces per grid row (default: square)")
    s.add_argument("--truncation", type=float, help="stylegan2 truncation psi (default 1 = none)")
    _model_device_option(s)

    i = sub.add_parser("interpolate", help="an animation walking between seeds' faces: GIF, MP4 or numbered PNGs")
    i.add_argument("model", metavar="MODEL", nargs="+",
                   help="a run folder (its latest checkpoint), a checkpoint or an .onnx file; or two or more faces "
                        "(or grids) saved by GAN Studio, in the order to walk through them: their model, at their "
                        "seeds and truncation (faces found for pictures by `project`, or edited by `edit`, too, at "
                        "their latents)")
    i.add_argument("--seeds", help="with a model: two or more seeds to walk through, e.g. 3,14,27")
    i.add_argument("--out", required=True,
                   help="walk.gif, walk.mp4, or a folder (no suffix) for numbered PNG frames")
    i.add_argument("--frames", type=int, default=60, help="frames in all (default 60)")
    i.add_argument("--seconds", type=float, default=3.0, help="length of the animation (default 3)")
    i.add_argument("--method", choices=["slerp", "lerp", "w"],
                   help="slerp or lerp in z, or lerp in w (stylegan2; the smoothest walk) (default slerp; w through "
                        "StyleGAN2 faces found for pictures or edited, which have no z)")
    i.add_argument("--loop", action="store_true", help="walk back to the first seed, for a seamless loop")
    i.add_argument("--scale", type=int, default=1, help="enlarge each frame by this whole number (default 1)")
    i.add_argument("--truncation", type=float,
                   help="stylegan2 truncation psi (default: the first saved face's; for a model 1 = none)")
    _model_device_option(i)

    tl = sub.add_parser("timelapse", help="a run's snapshot grids, in training order, as one animation: GIF, MP4 or PNGs")
    tl.add_argument("run", metavar="RUN_DIR", help="a run folder (its samples/ holds the snapshots)")
    tl.add_argument("--out", required=True, help="progress.gif, progress.mp4, or a folder (no suffix) for PNG frames")
    tl.add_argument("--kind", default="samples",
                    help="samples (the faces from fixed seeds) or style-mixing (stylegan2) (default samples)")
    tl.add_argument("--frame-seconds", type=float, default=0.25, help="how long each snapshot shows (default 0.25)")
    tl.add_argument("--hold", type=float, default=1.5, help="seconds the last snapshot stays (default 1.5)")
    tl.add_argument("--max-frames", type=int, default=300,
                    help="with more snapshots, evenly spaced ones, the first and last among them (default 300)")
    tl.add_argument("--scale", type=int, default=1, help="enlarge each frame by this whole number (default 1)")

    m = sub.add_parser("style-mix", help="a StyleGAN2 style-mixing grid: row seeds' styles over column seeds' faces")
    m.add_argument("model", metavar="MODEL", nargs="+",
                   help="a stylegan2 run folder, checkpoint or .onnx file; or two or more faces (or grids) saved by "
                        "GAN Studio: each one's styles over each other one's face, with their model and truncation "
                        "(StyleGAN2 faces found for pictures by `project`, or edited by `edit`, too)")
    m.add_argument("--rows", help="with a model: seeds down the left, which give the chosen styles, e.g. 1,2,3")
    m.add_argument("--columns", help="with a model: seeds along the top, which keep the other styles, e.g. 10,11,12")
    m.add_argument("--styles", default="coarse",
                   help="coarse (4-8 px: pose, face shape), middle (16-32 px: features, hair style), fine (64 px "
                        "and up: colours), or a layer range FIRST-LAST of ws (default coarse)")
    m.add_argument("--out", required=True, metavar="FILE.png", help="the grid to write")
    m.add_argument("--truncation", type=float,
                   help="truncation psi (default: the first saved face's; for a model 1 = none)")
    _model_device_option(m)

    v = sub.add_parser("eval", help="score models (or folders of images) against real images: SWD, FID, KID")
    v.add_argument("models", nargs="+", metavar="MODEL",
                   help="run folders, checkpoints, .onnx files, or folders (or .zip or .tar files) of images to score "
                   "as they are; DATA itself scores real images against other real ones of DATA, the floor")
    v.add_argument("--real", metavar="DATA", help="folder (or .zip or .tar) of real images (default: the first "
                   "model's own training images, its --holdout files when it held some out)")
    v.add_argument("--real-last", type=int, metavar="N",
                   help="use only the last N files of DATA (sorted by path): the held-out part of a --holdout run")
    v.add_argument("--metric", default="swd", help="comma list of swd, fid, kid (default swd)")
    v.add_argument("--n", type=int, default=10000, help="images per set (default 10,000; fewer if DATA has fewer)")
    v.add_argument("--seed", type=int, default=0, help="first seed of the generated faces and the metrics' RNG")
    v.add_argument("--truncation", type=float, default=1.0, help="stylegan2 truncation psi (default 1)")
    v.add_argument("--inception", metavar="FILE", help="local Inception weights for FID/KID (default: "
                   "the cached copy, else a download)")
    v.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    _model_device_option(v)

    n = sub.add_parser("nearest", help="the real images most like a model's faces (plain or mirrored): does it copy "
                       "its training images?")
    n.add_argument("model", metavar="MODEL", help="a run folder (its latest checkpoint), a checkpoint or an .onnx file")
    n.add_argument("--real", metavar="DATA", help="folder (or .zip or .tar) of images to search (default: the images "
                   "the model trained on)")
    n.add_argument("--n", type=int, default=16, help="faces to look up (default 16)")
    n.add_argument("--seed", type=int, default=0, help="first seed; face i uses seed + i (default 0)")
    n.add_argument("--k", type=int, default=5, help="real images shown per face (default 5)")
    n.add_argument("--out", metavar="FILE.png", help="also write a sheet: each face, then its nearest real images")
    n.add_argument("--truncation", type=float, default=1.0, help="stylegan2 truncation psi (default 1 = none)")
    _model_device_option(n)

    f = sub.add_parser("project", help="the face a model makes that is most like a picture (GAN inversion): can it "
                       "draw this face?")
    f.add_argument("model", metavar="MODEL", help="a run folder (its latest checkpoint) or a checkpoint, searched by "
                   "gradient descent; or an .onnx file, searched without gradients (slower, and not as close)")
    f.add_argument("pictures", nargs="+", metavar="PICTURE", help="image files, cropped and resized as training "
                   "images are")
    f.add_argument("--out", required=True, help="sheet.png: each picture, its closest seed's face and the face found, "
                   "side by side; or DIR/ (a trailing slash or an existing folder): each face found as its own PNG, "
                   "PICTURE-found.png, its latent in the PNG text")
    f.add_argument("--steps", type=int, default=None,
                   help=f"refining steps (default {_engine_default('projection.STEPS')})")
    f.add_argument("--search", type=int, default=None, help="seeds' faces compared with each picture first (default "
                   f"{_engine_default('projection.SEARCH')})")
    f.add_argument("--seed", type=int, default=0, help="the first seed searched (default 0): the search is the same "
                   "for the same seed")
    _model_device_option(f)

    d = sub.add_parser("edit", help="a face moved along the directions in which the model's faces vary most "
                       "(GANSpace): a sheet of them, or one edited face")
    d.add_argument("model", metavar="MODEL", help="a run folder, checkpoint or .onnx file, with --seed; or a face "
                   "saved by GAN Studio (a seed's face, or a face found for a picture or edited), edited with its "
                   "model")
    d.add_argument("--seed", type=int, help="with a model: the seed whose face is edited (default 0)")
    d.add_argument("--directions", default="1-5", help="the sheet's rows: directions 1-5 (default), or e.g. 1,3,4; "
                   f"a model offers {_engine_default('directions.COUNT')}, the first the most varied")
    d.add_argument("--amounts", nargs="+", type=float, metavar="A",
                   default=list(_engine_default("directions.AMOUNTS")),
                   help="the sheet's columns, in standard deviations of the model's own latents along each direction "
                   f"(0 is the face itself; from -{_engine_default('directions.LIMIT'):g} to "
                   f"{_engine_default('directions.LIMIT'):g}; default "
                   f"{' '.join(f'{a:g}' for a in _engine_default('directions.AMOUNTS'))})")
    d.add_argument("--set", metavar="K=A,...", help="one edited face instead of a sheet: direction K moved by A, e.g. "
                   "1=1.5,3=-2, written with its latent (`sample` makes it again; `interpolate` and `style-mix` take "
                   "it)")
    d.add_argument("--styles", default="all", help="stylegan2: the layers an edit moves: all (default), coarse "
                   "(pose, face shape), middle (features, hair style), fine (colours), or a layer range FIRST-LAST")
    d.add_argument("--truncation", type=float, help="stylegan2 truncation psi of the face edited (default: a saved "
                   "face's; else 1)")
    d.add_argument("--out", required=True, metavar="FILE.png", help="the sheet (or, with --set, the face) to write")
    _model_device_option(d)

    u = sub.add_parser("duplicates", help="images of a folder (or .zip or .tar) that are copies of one another")
    u.add_argument("data", metavar="DATA", help="folder (or .zip or .tar) of images")
    u.add_argument("--resolution", type=int, default=64, help="the size they are read at, as for training "
                   "(default 64)")
    u.add_argument("--holdout", type=int, metavar="N", help="also say how many of the last N files (a --holdout "
                   "run's unseen ones) have a copy among the others")

    e = sub.add_parser("export", help="export a generator to ONNX (checked against torch before it is written)")
    e.add_argument("model", metavar="RUN_DIR|CHECKPOINT", help="a run folder (its latest checkpoint) or a checkpoint")
    e.add_argument("--out", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    return parser


TRAIN_FIELDS = ("steps", "epochs", "minutes", "batch", "resolution", "device", "seed", "optimizer", "lr_g",
                "lr_d", "beta1", "beta2", "z_dim", "g_width", "d_width", "linear", "n_critic", "clip", "gp_weight",
                "preset", "r1_gamma", "pl_weight", "style_mixing", "ema_kimg", "diffaugment", "fused_modconv", "flip",
                "holdout", "log_every", "sample_every", "cuda_graphs", "channels_last", "precision", "checkpoint_every",
                "keep_checkpoints", "grid_size", "score_every", "score_n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args, parser)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "interpolate":
            return cmd_interpolate(args)
        if args.command == "style-mix":
            return cmd_style_mix(args)
        if args.command == "timelapse":
            return cmd_timelapse(args)
        if args.command == "nearest":
            return cmd_nearest(args)
        if args.command == "duplicates":
            return cmd_duplicates(args)
        if args.command == "project":
            return cmd_project(args)
        if args.command == "edit":
            return cmd_edit(args)
        return cmd_sample(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _read_config(path: str) -> dict:
    import json

    try:
        values = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the config {path}: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} is not a GAN Studio config (a JSON object)")
    return values


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _own_images(model, source) -> tuple[str | None, int, str]:
    """The images a model trained on, from its config: (folder or archive, how many of its last files were held
    out, "") or (None, 0, why they are not at hand)."""
    own = model.info.config if model is not None else {}
    if not own.get("data"):
        return None, 0, "give --real DATA: the real images to compare with"
    if not Path(own["data"]).exists():
        return None, 0, f"give --real DATA: {source} trained on {own['data']}, which is not there any more"
    return own["data"], int(own.get("holdout") or 0), ""


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Train in this process, or as one process of a `torchrun` group."""
    from trainers.distributed import join_from_env, launched_by_torchrun

    group = join_from_env(args.device or "auto") if launched_by_torchrun() else None
    try:
        return _train(args, parser, group)
    finally:
        if group is not None:
            group.close()


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser, group) -> int:
    from trainers.checkpoint import CheckpointError
    from trainers.data import DatasetError, load_folder
    from trainers.distributed import PeerFailed, first_on_each_machine
    from trainers.images import DEFAULT_MAX_PIXELS
    from trainers.loop import TrainControl, resume_config, train

    main_process = group is None or group.is_main
    overrides = {k: getattr(args, k) for k in TRAIN_FIELDS}
    model = args.model or "dcgan"
    out = args.out or os.path.join("runs", model)
    try:
        if args.resume:
            more = overrides.pop("steps")  # with --resume, --steps counts from the checkpoint
            if args.config:  # the studio resuming a multi-process run: its config holds the run's new totals
                saved = _read_config(args.config)
                for key in ("steps", "epochs", "minutes", "device", "log_every", "sample_every", "checkpoint_every",
                            "score_every", "score_n"):
                    if overrides.get(key) is None:
                        overrides[key] = saved.get(key)
            config = resume_config(out, more_steps=more, model=args.model,
                                   data=args.data and os.path.abspath(args.data), **overrides)
        elif args.config:
            base = TrainConfig.from_dict(_read_config(args.config))
            out = args.out or base.out
            changes = {k: v for k, v in overrides.items() if v is not None}
            config = base.with_(**changes, out=out, data=os.path.abspath(args.data) if args.data else base.data)
        else:
            if not args.data:
                parser.error("train needs a DATA folder (or --resume with --out RUN_DIR)")
            config = TrainConfig.for_family(model, data=os.path.abspath(args.data), out=out, **overrides)
        if not args.resume and Path(out, "checkpoints").is_dir() and any(Path(out, "checkpoints").glob("step-*.pt")):
            return _error(f"{out} already holds a run; continue it with --resume or choose another --out")
    except (ConfigError, CheckpointError) as exc:
        return _error(str(exc))

    # with torchrun, process 0 speaks for all; a log file gets lines, not a bar's carriage returns
    quiet = args.quiet or not main_process or not _on_terminal()
    tqdm = _tqdm(quiet)
    try:
        bar = tqdm(total=None, desc="reading images", unit="img", leave=False)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        images = first_on_each_machine(group, lambda: load_folder(
            config.data, config.resolution, use_cache=not args.no_cache,
            max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS, progress=progress))
        bar.close()
    except PeerFailed:
        return EXIT_USAGE
    except DatasetError as exc:
        if args.resume and not os.path.exists(config.data):
            return _error(f"{exc}: the run's images were there. If they have moved, give their new place: "
                          f"train NEW_PLACE --resume --out {out}")
        return _error(str(exc))
    report = images.report
    if main_process:
        print(report.summary(), file=sys.stderr)
        report_path = Path(out) / "data_report.txt"
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
            if report.rejected or report.upscaled:
                report_path.write_text(report.summary() + "\n\n" + report.details() + "\n"
                                       + "".join(f"upscaled: {p}\n" for p in report.upscaled))
        except OSError as exc:
            return _error(f"cannot write the run folder {out}: {exc}")
    if main_process and (report.rejected or report.upscaled):
        for reason, paths in sorted(report.rejected.items()):
            for p in paths[:20]:
                print(f"  skipped ({reason}): {p}", file=sys.stderr)
            if len(paths) > 20:
                print(f"  ... and {len(paths) - 20} more {reason}", file=sys.stderr)
        print(f"full report: {report_path}", file=sys.stderr)

    control = TrainControl()
    interrupts = {"n": 0}

    def on_sigint(signum, frame):
        interrupts["n"] += 1
        if interrupts["n"] > 1:
            raise KeyboardInterrupt
        print("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit at once)", file=sys.stderr)
        control.stop()

    previous = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
    previous_term = signal.signal(signal.SIGTERM, on_sigint) if _main_thread() else None  # e.g. from torchrun
    status = EXIT_OK
    bar = None
    post: dict[str, str] = {}  # the progress bar's figures (speed, losses, time left)
    try:
        for event in train(config, images=images, control=control, resume=args.resume, group=group):
            kind = type(event).__name__
            if not main_process:  # process 0 reports; the others only pass on how they ended
                if kind == "Failed":
                    status = EXIT_FAILED
                elif kind == "Finished" and event.stopped:
                    status = EXIT_INTERRUPTED
                continue
            if kind == "Started":
                images = f"{event.num_images:,} image{'s' * (event.num_images != 1)}"
                print(f"training {event.family} on {images}, {event.device}, run {event.run_dir}"
                      + (f", resuming at step {event.step}" if event.step else ""), file=sys.stderr)
                bar = tqdm(total=event.total_steps, initial=event.step, unit="step", dynamic_ncols=True)
                planned_steps, first_step, started = event.total_steps, event.step, time.monotonic()
            elif kind == "Progress":
                bar.update(event.step - bar.n)
                _expect_end(bar, event, planned_steps, first_step, config.minutes, time.monotonic() - started)
                post = {"img/s": f"{event.img_per_s:,.0f}"}
                post.update({k.split("/")[-1]: f"{v:.3f}" for k, v in event.stats.items() if k.startswith("Loss/")})
                if event.eta_s is not None:
                    post["left"] = format_duration(event.eta_s)
                bar.set_postfix(post, refresh=True)
                if quiet:
                    print(f"step {event.step} " + " ".join(f"{k}={v}" for k, v in post.items()), file=sys.stderr)
            elif kind == "Notice":
                _write(bar, f"note: {event.message}")
            elif kind == "Paused":  # the CLI never pauses by itself: the engine did (a checkpoint write failed)
                _write(bar, f"paused at step {event.step}; trying again in {RETRY_S} s (Ctrl-C stops)")
                retry = threading.Timer(RETRY_S, control.resume)
                retry.daemon = True
                retry.start()
            elif kind == "Scoring":
                bar.set_postfix_str(f"scoring {event.n:,} faces …", refresh=True)
            elif kind == "Scored":
                levels = ", ".join(f"{k.split('/')[1]} px {v:.1f}" for k, v in event.scores.items() if "/" in k)
                _write(bar, f"step {event.step:,}: SWD {event.scores['SWD']:.2f} against {event.n:,} {event.reference} "
                            f"images ({levels}; lower is better; {event.seconds:.0f} s)")
                bar.set_postfix(post, refresh=True)  # the figures it showed before scoring
            elif kind == "Checkpointed":
                _write(bar, f"checkpoint: {event.path}")
            elif kind == "Failed":
                _write(bar, f"error: {event.message}")
                status = EXIT_FAILED
            elif kind == "Finished":
                if bar is not None:
                    bar.close()
                how = "stopped" if event.stopped else "finished"
                print(f"{how} at step {event.step:,} ({event.images_seen:,} images seen, {format_duration(event.elapsed_s)} "
                      f"of training); latest checkpoint: {event.checkpoint}", file=sys.stderr)
                if event.best_checkpoint:
                    print(f"best-scoring checkpoint: {event.best_checkpoint} (SWD {event.best_swd:.2f})",
                          file=sys.stderr)
                if event.stopped:
                    status = EXIT_INTERRUPTED
    except ConfigError as exc:  # the same settings and images in every process: process 0 says it for all
        return _error(str(exc)) if main_process else EXIT_USAGE
    except (CheckpointError, ValueError) as exc:
        return _error(str(exc))
    finally:
        if bar is not None:
            bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)
    return status


def _expect_end(bar, progress, planned_steps: int | None, first_step: int, minutes: float | None,
                session_s: float) -> None:
    """When the time limit will end the run before its steps do, the bar counts to the step it should reach
    then, re-estimated at each report (it would otherwise sit near 0% of --steps 10000000 for the whole run)."""
    if minutes is None or session_s <= 0 or progress.step <= first_step:
        return
    rate = (progress.step - first_step) / session_s  # steps per second in this session
    expected = progress.step + round(max(0.0, minutes * 60 - session_s) * rate)
    total = expected if planned_steps is None else min(planned_steps, expected)
    if total != bar.total:
        bar.total = total
        bar.refresh()


def _saved_face(path: str):
    """(its record, where its model is now or None) for a face or grid GAN Studio saved, told on stderr; (None, None)
    for any other file."""
    from trainers.explore import FoundFace, face_origin, found_face, locate_model
    from trainers.images import is_image_name

    origin = (face_origin(path) or found_face(path)) if is_image_name(path) and os.path.isfile(path) else None
    if origin is None:
        return None, None
    if isinstance(origin, FoundFace):
        print(f"{path} is {origin.seeds_text()}, made by {origin.model}", file=sys.stderr)
    else:
        print(f"{path} was made by {origin.model}, {origin.seeds_text()}, truncation {origin.truncation:g}",
              file=sys.stderr)
    found = locate_model(path, origin)
    if found is not None and found != origin.model:
        print(f"it is no longer there: using {found}, of the same name, beside the face", file=sys.stderr)
    return origin, found


def _gone(face: str, origin, options: str) -> str:
    from trainers.explore import FoundFace

    gone = f"{origin.model} is no longer there (nor beside {os.path.basename(face)})"
    if isinstance(origin, FoundFace):  # its latent is no option: the model must be found
        return f"{gone}: a face saved with its latent is made by its model; put the model back there, or beside the face"
    return f"{gone}: give the model where it is now as MODEL, with {options}"


def _note_step(origin, info) -> None:
    if origin.step is not None and origin.step != info.step:
        print(f"note: it was made at step {origin.step:,} and the model there is at step {info.step:,} now, so its "
              "faces may differ", file=sys.stderr)


def _faces_model(paths: list[str], given: str | None, truncation: float | None, within: str, option: str,
                 example: str):
    """The MODEL arguments of a command that takes a model and seeds, or faces saved by GAN Studio instead:
    (model path, the faces' seeds or None for a model, truncation, the first face's record or None, how each seed is
    named). Faces found for pictures come as their latents among the seeds (explore.Key), named by their file.
    ValueError with the message when they do not fit together. given: the seed options as given; within: 'a walk
    is', ...; option: the seed options' names; example: how they are given."""
    from trainers.explore import FoundFace, same_file

    faces = [(path, *_saved_face(path)) for path in paths]
    origins = [origin for _, origin, _ in faces if origin is not None]
    if not origins:
        if len(faces) > 1 or not given:
            raise ValueError(f"give one model and {option} (e.g. {example}), or faces saved by GAN Studio")
        return paths[0], None, 1.0 if truncation is None else truncation, None, None
    if len(origins) < len(faces) or given:
        raise ValueError(f"give one model and {option}, or faces saved by GAN Studio (and no {option})")
    for path, origin, found in faces:
        if found is None:
            raise ValueError(_gone(path, origin, f"its {origin.seeds_text()} as {option}"))
    path, origin, model_path = faces[0]
    other = next((face for face in faces[1:] if not same_file(face[2], model_path)), None)
    if other is not None:
        raise ValueError(f"{path} and {other[0]} were made by different models ({model_path}, {other[2]}): "
                         f"{within} within one model's faces")
    if truncation is None:
        seen = [o.truncation for o in origins if not isinstance(o, FoundFace)]  # a found face is at its own latent
        truncation = seen[0] if seen else 1.0
        if len(set(seen)) > 1:
            print(f"note: the faces were seen at different truncations; this is at {truncation:g}, the first's "
                  "(--truncation sets another)", file=sys.stderr)
    keys = [key for o in origins for key in ([o.latent] if isinstance(o, FoundFace) else o.seeds)]
    names = [name for path, o, _ in faces for name in ([f"[{os.path.basename(path)}]"] if isinstance(o, FoundFace)
                                                        else map(str, o.seeds))]
    return model_path, keys, truncation, origin, names


def cmd_sample(args: argparse.Namespace) -> int:
    from trainers.explore import export_faces, grid_metadata
    from trainers.images import make_grid, save_image
    from trainers.inference import ModelError, open_model

    from trainers.explore import FoundFace

    origin, found = _saved_face(args.model)
    if isinstance(origin, FoundFace):  # a face found for a picture: made again from its latent
        return _found_again(args, origin, found)
    if origin is not None:  # a face or grid the studio or `sample` saved: made again from its record
        if found is None:
            return _error(_gone(args.model, origin, f"--seed {origin.first_seed} --n {origin.count} "
                                                    f"--truncation {origin.truncation:g}"))
        args.model = found
        args.seed = origin.first_seed if args.seed is None else args.seed
        args.n = origin.count if args.n is None else args.n
        args.truncation = origin.truncation if args.truncation is None else args.truncation
    args.n = 64 if args.n is None else args.n
    args.seed = 0 if args.seed is None else args.seed
    args.truncation = 1.0 if args.truncation is None else args.truncation
    if args.n < 1:
        return _error("--n must be at least 1")
    try:
        model = open_model(args.model, provider=args.device)
        seeds = list(range(args.seed, args.seed + args.n))
        faces = model.generate_many(seeds, truncation=args.truncation)
    except (ModelError, ValueError) as exc:
        return _error(str(exc))
    info = model.info
    if origin is not None:
        _note_step(origin, info)
    out = args.out
    try:
        if out.endswith(("/", os.sep)) or os.path.isdir(out):
            # named like the studio's exports; a face never overwrites another model's face of the same name
            paths = export_faces(model, faces, seeds, args.truncation, out)
            print(f"wrote {len(paths)} face{'s' * (len(paths) != 1)} to {out}, e.g. {os.path.basename(paths[0])} "
                  f"({info.provider})")
        else:
            save_image(out, make_grid(faces, columns=args.columns), grid_metadata(model, seeds, args.truncation))
            which = f"seeds {seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}"
            print(f"wrote a grid of {len(seeds)} face{'s' * (len(seeds) > 1)} ({which}) to {out} ({info.provider})")
    except ValueError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {out}: {exc}")
    return EXIT_OK


def _found_again(args: argparse.Namespace, origin, model_path: str | None) -> int:
    """`sample FOUND.png --out face.png`: a face found for a picture (or edited), made again by its model from its
    latent."""
    from trainers.explore import free_path, latent_faces, latent_metadata
    from trainers.images import save_image
    from trainers.inference import ModelError, open_model

    if model_path is None:
        return _error(_gone(args.model, origin, ""))
    if args.n not in (None, 1) or args.seed is not None or args.truncation is not None:
        return _error(f"{args.model} is one face, at its own latent: --n, --seed and --truncation do not apply")
    try:
        model = open_model(model_path, provider=args.device)
        _note_step(origin, model.info)
        face = latent_faces(model, origin.space, origin.latent[None])[0]
        out, text = args.out, latent_metadata(model, origin.space, origin.latent, origin.picture, edit=origin.edit)
        if out.endswith(("/", os.sep)) or os.path.isdir(out):
            os.makedirs(out, exist_ok=True)
            out = free_path(out, os.path.splitext(os.path.basename(args.model))[0] + ".png", text)
        save_image(out, face.transpose(1, 2, 0), text)
    except (ModelError, ValueError) as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc}")
    print(f"wrote {out}: {origin.seeds_text()}, made again ({model.info.provider})")
    return EXIT_OK


def cmd_interpolate(args: argparse.Namespace) -> int:
    import numpy as np

    from trainers.animation import write_animation
    from trainers.explore import parse_seeds, render_latents, walk_latents
    from trainers.inference import ModelError, open_model

    if args.scale < 1 or args.seconds <= 0:
        return _error("--scale must be at least 1 and --seconds above 0")
    try:
        model_path, seeds, truncation, origin, _ = _faces_model(args.model, args.seeds, args.truncation, "a walk is",
                                                                "--seeds", "--seeds 3,14,27")
        seeds = parse_seeds(args.seeds) if seeds is None else seeds
    except ValueError as exc:
        return _error(str(exc))
    try:
        model = open_model(model_path, provider=args.device)
        if origin is not None:
            _note_step(origin, model.info)
        found = model.info.style_based and any(isinstance(key, np.ndarray) for key in seeds)
        method = {"slerp": "slerp in z", "lerp": "lerp in z", "w": "lerp in w"}[args.method or "w" * found or "slerp"]
        space, latents = walk_latents(model, seeds, args.frames, method, args.loop, truncation)
        bar = _tqdm(False)(total=len(latents), desc="rendering", unit="frame", leave=False)
        parts = []
        for i in range(0, len(latents), 16):
            parts.append(render_latents(model, space, latents[i : i + 16], truncation))
            bar.update(len(parts[-1]))
        bar.close()
        frames = np.concatenate(parts).transpose(0, 2, 3, 1)  # [T, H, W, 3]
        written = write_animation(args.out, frames, args.seconds, args.scale)
    except (ModelError, ValueError) as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc}")
    where = f"{len(written)} PNG frames to {args.out}" if len(written) > 1 else f"{args.out}: {len(frames)} frames"
    pictures = sum(isinstance(key, np.ndarray) for key in seeds)
    through = (f"{len(seeds)} faces, {pictures} of them found for pictures or edited" if pictures else
               f"seeds {', '.join(map(str, seeds))}")
    print(f"wrote {where}, through {through} ({method}{', loop' if args.loop else ''}; {model.info.provider})")
    return EXIT_OK


def cmd_timelapse(args: argparse.Namespace) -> int:
    from trainers.timelapse import TimelapseError, write_timelapse

    if args.max_frames < 2:
        return _error("--max-frames must be at least 2")
    bars = []  # made once there are snapshots to read

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(_tqdm(False)(total=total, desc="reading snapshots", unit="grid", leave=False))
        bars[0].update(done - bars[0].n)

    def close_bar() -> None:  # before any message: closing clears the bar's line
        for bar in bars:
            bar.close()

    try:
        written, steps, unreadable = write_timelapse(args.run, args.out, args.kind, args.frame_seconds, args.hold,
                                                     args.scale, args.max_frames, progress)
    except (TimelapseError, ValueError) as exc:
        close_bar()
        return _error(str(exc))
    except OSError as exc:
        close_bar()
        return _error(f"cannot write {args.out}: {exc}")
    close_bar()
    for path in unreadable:
        print(f"skipped {path}: not a readable image", file=sys.stderr)
    where = f"{len(written)} PNG frames to {args.out}" if len(written) > 1 else str(args.out)
    print(f"wrote {where}: {len(steps)} snapshots, steps {steps[0]:,} to {steps[-1]:,}")
    return EXIT_OK


def cmd_style_mix(args: argparse.Namespace) -> int:
    from trainers.explore import STYLE_GROUPS, mix_grid, parse_seeds
    from trainers.images import save_image
    from trainers.inference import ModelError, open_model

    try:
        given = args.rows or args.columns
        model_path, seeds, truncation, origin, names = _faces_model(args.model, given, args.truncation,
                                                                    "style mixing is", "--rows and --columns",
                                                                    "--rows 1,2 --columns 5,6,7")
        if seeds is not None:  # saved faces: each one's styles over each other one's face
            rows = columns = seeds
        elif not (args.rows and args.columns):
            raise ValueError("give both --rows and --columns")
        else:
            rows, columns = parse_seeds(args.rows), parse_seeds(args.columns)
        if not rows or not columns:
            raise ValueError("give at least one row seed and one column seed")
        model = open_model(model_path, provider=args.device)
        if not model.info.style_based:
            raise ModelError(f"style mixing needs a StyleGAN2 model; {model.info.name} is {model.info.family}")
        if origin is not None:
            _note_step(origin, model.info)
        layers = _style_layers(args.styles, model.info.layers, model.info.num_ws, STYLE_GROUPS)
        figure, _ = mix_grid(model, rows, columns, layers, truncation)
        if seeds is not None:  # (a face found for a picture is named by its file)
            row_text = column_text = ",".join(names)
        else:
            row_text, column_text = ",".join(map(str, rows)), ",".join(map(str, columns))
        save_image(args.out, figure, {"model": model.info.family, "source": model.info.name, "rows": row_text,
                                      "columns": column_text, "layers": f"{layers[0]}-{layers[-1]}",
                                      "truncation": f"{truncation:g}"})
    except (ModelError, ValueError) as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc}")
    print(f"wrote {args.out}: rows {row_text} give ws layers {layers[0]}-{layers[-1]} ({args.styles}) to columns "
          f"{column_text} ({model.info.provider})")
    return EXIT_OK


def _style_layers(text: str, groups: dict[str, list[int]], num_ws: int, names) -> list[int]:
    """'coarse' | 'middle' | 'fine' | 'FIRST-LAST' -> ws indices."""
    if text in names:
        return list(groups[text])
    first, sep, last = text.partition("-")
    try:
        lo, hi = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"--styles is coarse, middle, fine or a layer range like 0-3, not {text!r}") from None
    if not 0 <= lo <= hi < num_ws:
        raise ValueError(f"--styles {text}: this model's layers are 0 to {num_ws - 1}")
    return list(range(lo, hi + 1))


def cmd_export(args: argparse.Namespace) -> int:
    from trainers.checkpoint import CheckpointError
    from trainers.config import ConfigError
    from trainers.export import ExportError, export_onnx

    try:
        result = export_onnx(args.model, args.out, log=lambda m: print(m, file=sys.stderr))
    except (CheckpointError, ConfigError) as exc:
        return _error(str(exc))
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc}")
    meta = result.metadata
    print(f"wrote {result.path}: {meta['family']} at {meta['resolution']}px, step {meta['step']}, "
          f"{int(meta['images_seen']):,} images seen")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from trainers.data import DatasetError, is_archive, load_folder
    from trainers.inference import ModelError, open_model
    from trainers.metrics import METRICS, MetricError, evaluate, floor_pair

    metrics = [m.strip().lower() for m in args.metric.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:  # said now, not after the first model's scoring
        return _error(f"unknown metric {', '.join(unknown) or repr(args.metric)}; choose from {', '.join(METRICS)}")
    if args.n < 2 or (args.real_last is not None and args.real_last < 2):
        return _error("--n and --real-last must be at least 2: a score compares sets of images")
    if args.json and not Path(args.json).absolute().parent.is_dir():  # say so now, not after minutes of scoring
        return _error(f"cannot write {args.json}: its folder does not exist")
    try:
        from trainers.device import resolve_device

        feature_device = resolve_device(args.device).type  # FID and KID's Inception: on the GPU when there is one
    except (ValueError, RuntimeError) as exc:
        return _error(str(exc))
    tqdm = _tqdm(False)
    reals: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def real_set(resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """Every real image, and the indices of those the models are scored against: up to --n of them, from the
        last --real-last files when given."""
        if resolution not in reals:
            images = load_folder(args.real, resolution).images
            start = max(0, len(images) - args.real_last) if args.real_last else 0
            pick = start + np.sort(np.random.default_rng(args.seed).permutation(len(images) - start)[: args.n])
            reals[resolution] = images, pick
        return reals[resolution]

    def real_images(resolution: int) -> np.ndarray:
        images, pick = real_set(resolution)
        return images[pick]

    def is_images(path: Path) -> bool:  # a folder (not a run's) or an archive: images, scored as they are
        return (path.is_dir() and not (path / "checkpoints").is_dir()) or is_archive(path)

    rows = []
    opened = {}  # the first model, opened early: its size is the one images are scored at
    try:
        first_model = next((Path(m) for m in args.models if not is_images(Path(m))), None)
        if first_model is not None:
            opened[first_model] = open_model(first_model, provider=args.device)
        if args.real is None:  # the images the first model trained on, and held out
            data, holdout, why = _own_images(opened.get(first_model), first_model)
            if data is None:
                return _error(why)
            args.real, args.real_last = data, args.real_last or holdout or None
            held = f"the last {args.real_last:,} files of " if args.real_last else ""
            print(f"scoring against {held}{args.real} ({first_model.name}'s own{' held-out' * bool(held)} images; "
                  "--real chooses others)", file=sys.stderr)
        image_size = opened[first_model].info.resolution if opened else 64
        for source in args.models:
            path = Path(source)
            if os.path.abspath(path) == os.path.abspath(args.real):  # the real images themselves: the floor
                images, pick = real_set(image_size)
                ours, others = floor_pair(len(images), pick, seed=args.seed + 1)
                first, fake = images[ours], images[others]
                what, label = "real against other real images: the floor", path.name
            elif is_images(path):
                first = real_images(image_size)
                fake = load_folder(path, image_size).images
                fake = fake[np.random.default_rng(args.seed + 1).permutation(len(fake))[: len(first)]]
                what, label = "images", path.name
            else:
                model = opened.pop(path, None) or open_model(path, provider=args.device)
                label = model.info.label  # a run's checkpoint with its run's name: two runs' step-N.pt differ
                first = real_images(model.info.resolution)
                seeds = list(range(args.seed, args.seed + len(first)))
                bar = tqdm(total=len(seeds), desc=f"generating {label}", unit="img", leave=False)
                fake = model.generate_many(seeds, truncation=args.truncation,
                                           each=lambda done, total: bar.update(done - bar.n))
                bar.close()
                what = f"{model.info.family}, step {model.info.step:,}"
            n = min(len(first), len(fake))
            if n < len(first):  # fewer images than the real pick: as many of the real ones, at random
                first = first[np.sort(np.random.default_rng(args.seed + 2).permutation(len(first))[:n])]
            print(f"scoring {label} ({what}) on {n:,} images …", file=sys.stderr)
            result = evaluate(first[:n], fake[:n], metrics, seed=args.seed, inception=args.inception,
                              device=feature_device)
            rows.append({"model": str(path), "label": label, "kind": what, "n": n, "resolution": first.shape[-1],
                         **result})
    except (DatasetError, ModelError, MetricError) as exc:
        return _error(str(exc))

    # Models of several sizes have SWD levels of their own (SWD/64 for 64 px only): every level any row has,
    # largest first, then the summary figures; a row without a level leaves it blank.
    figures = list(dict.fromkeys(k for r in rows for k in r if k not in ("model", "label", "kind", "n", "resolution")))
    levels = sorted((k for k in figures if k.startswith("SWD/")), key=lambda k: -int(k.split("/")[1]))
    names = levels + [k for k in figures if not k.startswith("SWD/")]
    width = max(len(r["label"]) for r in rows) + 2
    print(f"{'model':<{width}}{'px':>5}{'n':>7}" + "".join(f"{k:>10}" for k in names))
    for r in rows:
        print(f"{r['label']:<{width}}{r['resolution']:>5}{r['n']:>7,}"
              + "".join(f"{r[k]:>10.3f}" if k in r else " " * 10 for k in names))
    if len({r["resolution"] for r in rows}) > 1:
        print("note: scores taken at different sizes do not compare; score models of one size together",
              file=sys.stderr)
    if args.json:
        try:
            Path(args.json).write_text(json.dumps({"real": args.real, "real_last": args.real_last, "seed": args.seed,
                                                   "results": rows}, indent=2))
        except OSError as exc:
            return _error(f"cannot write {args.json}: {exc} (the table above has the figures)")
    return EXIT_OK


def cmd_nearest(args: argparse.Namespace) -> int:
    import numpy as np

    from trainers.data import DatasetError, load_folder
    from trainers.explore import COPY_DISTANCE, DISTANCE_SCALE, nearest_images, nearest_sheet
    from trainers.images import save_image
    from trainers.inference import ModelError, open_model

    if args.n < 1 or args.k < 1:
        return _error("--n and --k must be at least 1")
    try:
        model = open_model(args.model, provider=args.device)
        real = args.real
        if real is None:
            real, _, why = _own_images(model, args.model)
            if real is None:
                return _error(why)
        images = load_folder(real, model.info.resolution)
        seeds = list(range(args.seed, args.seed + args.n))
        faces = model.generate_many(seeds, truncation=args.truncation)
    except (ModelError, DatasetError, ValueError) as exc:
        return _error(str(exc))
    print(f"looking for the images of {real} ({len(images):,}) most like {len(seeds)} faces of {model.info.label} …",
          file=sys.stderr)
    nearest = nearest_images(faces, images.images, k=args.k)
    found, distances = nearest.index, nearest.distance
    print(f"{'seed':>10}  {'distance':>8}  nearest image")
    for seed, i, d, m in zip(seeds, found[:, 0], distances[:, 0], nearest.mirrored[:, 0]):
        print(f"{seed:>10}  {d:>8.3f}  {images.paths[i]}" + ", mirrored" * bool(m)
              + ("  (a copy)" if d < COPY_DISTANCE else ""))
    copies = int((distances[:, 0] < COPY_DISTANCE).sum())
    spread = f"the closest is {distances[:, 0].min():.3f} away, the median {float(np.median(distances[:, 0])):.3f}"
    print(f"{copies} of {len(seeds)} faces look like copies of a real image (under {COPY_DISTANCE}); {spread}"
          if copies else
          f"no face is a copy of a real image: {spread} (a copy is under {COPY_DISTANCE}; a real face that is no "
          "copy is typically about 0.8 from its nearest other)")
    print(f"distance: {DISTANCE_SCALE}; faces are also compared mirrored, as training flips them", file=sys.stderr)
    if args.out:
        sheet = nearest_sheet(seeds, faces, images.images, nearest)
        try:
            save_image(args.out, sheet, {"model": model.info.path, "real": str(real),
                                         "seeds": f"{seeds[0]}-{seeds[-1]}"})
        except (OSError, ValueError) as exc:
            return _error(f"cannot write {args.out}: {exc}")
        print(f"wrote {args.out}: each face, then its {found.shape[1]} nearest real images", file=sys.stderr)
    return EXIT_OK


def cmd_project(args: argparse.Namespace) -> int:
    from trainers import projection
    from trainers.explore import COPY_DISTANCE, DISTANCE_SCALE, free_path, latent_metadata
    from trainers.images import RejectedImage, captioned_rows, read_file, save_image
    from trainers.inference import ModelError, TorchGenerator, open_model

    steps = projection.STEPS if args.steps is None else args.steps
    search = projection.SEARCH if args.search is None else args.search
    if steps < 0 or search < 1:
        return _error("--steps must be 0 or more and --search at least 1")
    folder = args.out.endswith(("/", os.sep)) or os.path.isdir(args.out)
    try:
        model = open_model(args.model, provider=args.device)
    except ModelError as exc:
        return _error(str(exc))
    pictures = []
    for path in args.pictures:
        try:
            pictures.append(projection.picture_for(model, read_file(path)))
        except RejectedImage as exc:
            return _error(f"{path}: {exc}")
    how = ("by gradient descent" if isinstance(model, TorchGenerator) else
           "without gradients (an .onnx model: its checkpoint would come closer, sooner)")
    print(f"looking for {model.info.label}'s faces most like {len(pictures)} picture{'s' * (len(pictures) > 1)}, "
          f"{how} …", file=sys.stderr)
    results = []
    for path, picture in zip(args.pictures, pictures):
        bar = _tqdm(False)(total=1, desc=os.path.basename(path)[:30], leave=False)

        def each(done: int, total: int, face, bar=bar) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            results.append(projection.find_face(model, picture, steps=steps, search=search, seed=args.seed,
                                                each=each))
        except (ModelError, ValueError) as exc:
            return _error(str(exc))
        finally:
            bar.close()
    print(f"{'seed':>10}  {'its face':>8}  {'found':>8}  picture")
    for path, found in zip(args.pictures, results):
        print(f"{found.seed:>10}  {found.seed_distance:>8.3f}  {found.distance:>8.3f}  {path}")
    print(f"distance: {DISTANCE_SCALE}; a copy of a picture is under {COPY_DISTANCE}, and two random faces are "
          "about 1.25 apart", file=sys.stderr)
    try:
        if folder:
            os.makedirs(args.out, exist_ok=True)
            for path, found in zip(args.pictures, results):  # another picture's face of the same name is kept
                text = latent_metadata(model, found.space, found.key, path, found.distance)
                save_image(free_path(args.out, f"{Path(path).stem}-found.png", text), found.face.transpose(1, 2, 0),
                           text)
            print(f"wrote {len(results)} face{'s' * (len(results) > 1)} found to {args.out}", file=sys.stderr)
        else:
            titles = [f"seed {f.seed_distance:.2f}, found {f.distance:.2f}: {Path(p).name}"
                      for p, f in zip(args.pictures, results)]
            k = max(1, 64 // model.info.resolution)  # small faces shown larger, so that their captions fit
            rows = [[face.repeat(k, 1).repeat(k, 2) for face in (picture, f.seed_face, f.face)]
                    for picture, f in zip(pictures, results)]
            save_image(args.out, captioned_rows(titles, rows), {"model": model.info.path, "software": "GAN Studio"})
            print(f"wrote {args.out}: each picture, its closest seed's face, the face found", file=sys.stderr)
    except (OSError, ValueError) as exc:
        return _error(f"cannot write {args.out}: {exc}")
    return EXIT_OK


def _numbers(text: str, option: str) -> list[int]:
    """'1-5' or '1,3,4' -> [1, 2, 3, 4, 5] or [1, 3, 4]; ValueError naming the option."""
    first, sep, last = text.partition("-")
    try:
        if sep and first.strip():
            return list(range(int(first), int(last) + 1))
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"{option} is a range like 1-5 or a list like 1,3,4, not {text!r}") from None


def _edit_amounts(text: str) -> dict[int, float]:
    """--set '1=1.5,3=-2' -> {0: 1.5, 2: -2.0} (directions counted from 0)."""
    amounts = {}
    for part in text.replace(" ", "").split(","):
        k, sep, amount = part.partition("=")
        try:
            if not sep:
                raise ValueError
            amounts[int(k) - 1] = float(amount)
        except ValueError:
            raise ValueError(f"--set is DIRECTION=AMOUNT, comma-separated, e.g. 1=1.5,3=-2, not {text!r}") from None
    return amounts


def cmd_edit(args: argparse.Namespace) -> int:
    from trainers import directions as dirs
    from trainers.explore import STYLE_GROUPS, FoundFace, free_path, latent_faces, latent_metadata
    from trainers.images import save_image
    from trainers.inference import ModelError, open_model

    origin, found = _saved_face(args.model)
    try:
        if origin is not None:
            if found is None:
                given = "" if isinstance(origin, FoundFace) else f"--seed {origin.first_seed}"
                raise ValueError(_gone(args.model, origin, given))
            if args.seed is not None:
                raise ValueError(f"{args.model} is one face already: --seed does not apply")
            if isinstance(origin, FoundFace):
                key, name, truncation = origin.latent, origin.seeds_text(), 1.0
                if args.truncation is not None:
                    raise ValueError(f"{args.model} is at its own latent: --truncation does not apply")
            elif origin.count > 1:
                raise ValueError(f"{args.model} is a grid of {origin.seeds_text()}: give one face (--seed S with its "
                                 "model, or one saved face)")
            else:
                key, name = origin.first_seed, origin.seeds_text()
                truncation = origin.truncation if args.truncation is None else args.truncation
            model_path = found
        else:
            key, model_path = 0 if args.seed is None else args.seed, args.model
            name, truncation = f"seed {key}", 1.0 if args.truncation is None else args.truncation
        model = open_model(model_path, provider=args.device)
        info = model.info
        if origin is not None:
            _note_step(origin, info)
        if truncation != 1.0 and not info.style_based:
            raise ModelError(f"truncation needs a StyleGAN2 model; {info.name} is {info.family}")
        if truncation != 1.0:
            name += f", truncation {truncation:g}"
        layers, layers_name = None, ""
        if args.styles != "all":
            if not info.style_based:
                raise ModelError(f"--styles needs a StyleGAN2 model; {info.name} is {info.family}")
            layers = _style_layers(args.styles, info.layers, info.num_ws, STYLE_GROUPS)
            layers_name = args.styles if args.styles in STYLE_GROUPS else f"layers {layers[0]}-{layers[-1]}"
        chosen = _edit_amounts(args.set) if args.set else None
        which = [k - 1 for k in _numbers(args.directions, "--directions")]
        amounts = args.amounts
        if not amounts or any(abs(a) > dirs.LIMIT for a in [*amounts, *(chosen or {}).values()]):
            raise ValueError(f"amounts go from -{dirs.LIMIT:g} to {dirs.LIMIT:g}, e.g. --amounts -2 0 2 or --set 1=2")
        if not which or any(not 0 <= k < dirs.COUNT for k in [*which, *(chosen or {})]):
            raise ValueError(f"directions are numbered 1 to {dirs.COUNT}, e.g. --directions 1-5 or --set 1=2")
        start = dirs.base_latent(model, key, truncation)
        bar = _tqdm(False)(total=1, desc="directions", leave=False)

        def each(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            found_directions = dirs.principal_directions(model, each=each)
        finally:
            bar.close()
        for k in range(len(found_directions.vectors)):
            print(f"{found_directions.describe(k)}", file=sys.stderr)
        space = "ws" if info.style_based else "z"
        if chosen is not None:
            latent = dirs.edited(found_directions, start, chosen, layers)
            edit = dirs.describe_edit(chosen, layers_name, name, origin.edit if isinstance(origin, FoundFace) else "")
            face = latent_faces(model, space, latent[None])
            text = latent_metadata(model, space, latent, origin.picture if isinstance(origin, FoundFace) else "",
                                   edit=edit)
            out = args.out
            if out.endswith(("/", os.sep)) or os.path.isdir(out):
                os.makedirs(out, exist_ok=True)
                out = free_path(out, f"{info.stem}-edited.png", text)
            save_image(out, face[0].transpose(1, 2, 0), text)
            print(f"wrote {out}: {edit} ({info.provider})")
            return EXIT_OK
        figure, _ = dirs.edit_sheet(model, found_directions, start, which, amounts, layers)
        save_image(args.out, figure, {"model": os.path.abspath(info.path), "family": info.family, "edited": name,
                                      "directions": args.directions, "amounts": " ".join(f"{a:g}" for a in amounts),
                                      "styles": args.styles})
    except (ModelError, ValueError) as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc}")
    print(f"wrote {args.out}: {name}, a row for each of directions {args.directions}, at "
          f"{', '.join(f'{a:+g}' if a else '0' for a in amounts)} standard deviations ({info.provider})")
    return EXIT_OK


def cmd_duplicates(args: argparse.Namespace) -> int:
    from trainers.data import DatasetError, load_folder
    from trainers.explore import COPY_DISTANCE, duplicate_pairs

    if args.holdout is not None and args.holdout < 1:
        return _error(f"--holdout must be at least 1, not {args.holdout}")
    try:
        images = load_folder(args.data, args.resolution)
    except DatasetError as exc:
        return _error(str(exc))
    if args.holdout is not None and args.holdout >= len(images):
        return _error(f"--holdout {args.holdout:,} would hold out every image: {args.data} has {len(images):,}")
    # a percentage: the work is counted in the search's own units, not in images
    bar = _tqdm(False)(total=1, desc="comparing every pair", leave=False,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    pairs = duplicate_pairs(images.images, progress=progress)
    bar.close()
    if pairs:
        print(f"{'distance':>8}  image, then its copy")
    for i, j, d, mirrored in pairs:
        print(f"{d:>8.3f}  {images.paths[i]}  {images.paths[j]}" + "  (mirrored)" * mirrored)
    copies = len({j for _, j, _, _ in pairs})
    print(f"{copies:,} of {len(images):,} images are copies of an earlier one ({len(pairs):,} "
          f"pair{'s' * (len(pairs) != 1)} under "
          f"{COPY_DISTANCE} apart); nothing was changed" if pairs else
          f"no image of the {len(images):,} is a copy of another (none under {COPY_DISTANCE} apart)")
    if args.holdout:
        start = len(images) - args.holdout
        crossing = [(i, j) for i, j, _, _ in pairs if i < start <= j]
        held, copies = len({j for _, j in crossing}), len({i for i, _ in crossing})
        print(f"{held:,} of the last {args.holdout:,} files (held out) have a copy among the files before them"
              + (f": train --holdout {args.holdout} leaves their {copies:,} cop{'y' if copies == 1 else 'ies'} out of "
                 "training, so that the held-out faces stay unseen" if crossing else ""))
    return EXIT_OK


def _on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _tqdm(quiet: bool):
    """Progress bars on stderr, left out when quiet or when stderr is not a terminal (a log file would fill with
    the bar's redraws)."""
    from tqdm import tqdm

    def make(**kw):
        return tqdm(disable=quiet or not _on_terminal(), file=sys.stderr, **kw)

    return make


def _write(bar, message: str) -> None:
    if bar is not None:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)



def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    raise SystemExit(main())
