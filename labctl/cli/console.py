"""Rich consoles for the CLI: full-width, never truncated, flushed when piped to a log."""

from __future__ import annotations

import sys

from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A console that does not wrap or cut long values (resource strings) when not a TTY."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream, stderr=stderr)
    return Console(file=stream, stderr=stderr, width=240, no_color=True, soft_wrap=True)


def flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
