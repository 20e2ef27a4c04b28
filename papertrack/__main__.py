"""`python -m papertrack`: the same command as `papertrack`."""

from papertrack.cli import cli

if __name__ == "__main__":
    cli(prog_name="papertrack")
