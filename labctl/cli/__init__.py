"""The ``labctl`` command line: wires the parts together, nothing else.

One module per topic: ``bench`` (simulators, instruments), ``run`` (procedures), ``platform``
(serve, admin, db, audit), ``demo`` (everything, on the embedded default), ``station`` (a
bench working with a remote platform), ``checks`` (a standard's intermediate checks),
``notices`` (the daily due notices).
"""

from __future__ import annotations

import typer

import labctl
from labctl.cli import bench, checks, demo, notices, platform, run, station

app = typer.Typer(help="labctl: calibration-laboratory control", no_args_is_help=True,
                  add_completion=False)
bench.register(app)
run.register_commands(app)
demo.register_commands(app)
platform.register_commands(app)
station.register_commands(app)
checks.register_commands(app)
notices.register_commands(app)


@app.command()
def version() -> None:
    """Print labctl's version."""
    typer.echo(labctl.__version__)


def main() -> None:
    app()
