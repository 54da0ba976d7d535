"""Start GAN Studio: `python main.py` (what `make run` does)."""

from studio.app import main

if __name__ == "__main__":
    raise SystemExit(main())
