"""What every command shares: one-line errors, non-zero exits, the model options."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from sf_mobile.errors import SfError

TERMINATED_EXIT = 128 + signal.SIGTERM
# Import-time notices of libraries we load, nothing a user can act on: torchao reports CUDA-only
# kernels it cannot load on a CPU build, torch's pytree a deprecation inside torchao. Left alone they
# put four lines before every answer and every one-line error.
QUIET_LOGGERS = ("torchao", "torch.utils._pytree")


class Terminated(BaseException):
    """SIGTERM (`kill`, a CI timeout) raised where the command is, so that clean-up runs as for
    Ctrl-C: an export's staging folder is removed instead of left behind."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises():
    if threading.current_thread() is not threading.main_thread():  # handlers belong to the main thread
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(name: str, body: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse, run, and turn an `SfError` into `name: error: <one line>` with a non-zero exit."""
    args = parser.parse_args(argv)
    for logger in QUIET_LOGGERS:
        logging.getLogger(logger).setLevel(logging.ERROR)
    try:
        with _sigterm_raises():
            return body(args)
    except SfError as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{name}: terminated", file=sys.stderr)
        return TERMINATED_EXIT
    except BrokenPipeError:  # the reader went away (`sf-info | head`): stop quietly, as shell tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from sf_mobile.presets import DEFAULT_PRESET, PRESETS

    parser.add_argument(
        "--size",
        default=DEFAULT_PRESET,
        metavar="PRESET",
        help=f"model preset: {', '.join(PRESETS)} (default: {DEFAULT_PRESET})",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="DIR",
        help="Hugging Face-layout folder (config.json, *.safetensors, tokenizer.json); "
        "without it the preset runs with seeded random weights",
    )
    parser.add_argument("--frames", type=int, metavar="T", help="frame budget (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights when no checkpoint is given")


def positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise SfError(f"{flag} is {value}", f"pass a positive {flag}")


def warn_if_random(origin, name: str) -> None:
    if origin.weights == "random":
        print(
            f"{name}: WARNING: no --checkpoint given: running with RANDOM weights (seed {origin.seed}) and a "
            "stand-in tokenizer; the answer is noise, the shapes and timings are real",
            file=sys.stderr,
        )


def emit(report: dict, as_json: bool, formatter: Callable[[dict], str]) -> None:
    """Print the report as one JSON object or as the command's text."""
    if as_json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(formatter(report))
