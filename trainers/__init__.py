"""GAN Studio's headless engine: datasets, networks, training, checkpoints and the CLI.

Never imports Qt or `studio`; importing this package stays cheap (no torch until a submodule needs it).
"""

__version__ = "0.1.0"


def versions() -> str:
    """'Python 3.11.7 · torch 2.14.1 · onnxruntime 1.2x · PySide6 6.x': what GAN Studio runs on, for a bug report.
    Read from the installed packages' metadata, so that nothing is imported."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {'.'.join(map(str, sys.version_info[:3]))}"]
    for name, dists in (("torch", ["torch"]), ("onnxruntime", ["onnxruntime", "onnxruntime-gpu"]),
                        ("PySide6", ["PySide6", "PySide6-Essentials"])):
        found = []
        for dist in dists:
            try:
                found.append(version(dist))
            except PackageNotFoundError:
                pass
        parts.append(f"{name} {found[0]}" if found else f"{name} (not installed)")
    return " · ".join(parts)
