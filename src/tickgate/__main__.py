"""`python -m tickgate` runs the command-line interface."""

from tickgate.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
