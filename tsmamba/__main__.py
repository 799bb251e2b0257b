"""``python -m tsmamba``: the same command line as the ``tsmamba`` console script."""

from tsmamba.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
