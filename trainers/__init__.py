"""GAN Studio's headless engine: datasets, networks, training, checkpoints and the CLI.

Never imports Qt or `studio`; importing this package stays cheap (no torch until a submodule needs it).
"""

__version__ = "0.1.0"
