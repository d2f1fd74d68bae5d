"""Command line entry point: wires the parts together, nothing else."""

from __future__ import annotations

import typer

import labctl

app = typer.Typer(help="labctl: calibration-laboratory control", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print labctl's version."""
    typer.echo(labctl.__version__)


def main() -> None:
    app()
