"""`python -m trainers`: the headless command line."""

from trainers.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
