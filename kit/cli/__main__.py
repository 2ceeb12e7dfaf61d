"""`python -m kit.cli`: the `kit` command."""

from kit.cli import entry

if __name__ == "__main__":
    entry()
