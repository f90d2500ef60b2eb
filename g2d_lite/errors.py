"""Failures a person can act on, and the one way every command line reports them.

Each command (``python -m g2d_lite``, ``g2d_lite.run``, ``g2d_lite.exercises``, the data scripts)
runs its body through :func:`run_command`: an expected failure prints one line, ``prog: error:``
followed by the problem and its fix, and exits non-zero. The traceback is shown only with
``--debug`` or ``G2D_LITE_DEBUG=1``, because a student needs the fix, not the stack.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from g2d_lite.switches import env_switch

DEBUG_ENV = "G2D_LITE_DEBUG"
EXIT_BAD_INPUT = 2
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130


class KitError(Exception):
    """An expected failure of the kit; its message names what is wrong and how to fix it."""


def returns_status(main: Callable[..., int]) -> Callable[..., int]:
    """A command's ``main`` that returns the exit status of a usage error or ``--help`` too
    (argparse raises SystemExit for those): called from a notebook or a script looping over
    commands, no failure escapes as an exception."""

    @functools.wraps(main)
    def wrapped(*args: Any, **kwargs: Any) -> int:
        try:
            return main(*args, **kwargs)
        except SystemExit as stop:
            code = stop.code
            return code if isinstance(code, int) else (0 if code is None else EXIT_BAD_INPUT)

    return wrapped


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other failure, and that
    says when a single-valued option is given twice (the last one counts, as argparse has it,
    and as for key=value overrides: it is often a typo)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        self._note_repeated_options(argv)
        return super().parse_known_args(argv, namespace)

    def _note_repeated_options(self, argv: Sequence[str]) -> None:
        single = {
            option: action
            for action in self._actions
            if isinstance(action, argparse._StoreAction)  # one value each; append/flags differ
            for option in action.option_strings
        }
        seen: set[str] = set()
        for token in argv:
            if token == "--":
                break
            action = single.get(token.split("=", 1)[0])
            if action is None:
                continue
            if action.dest in seen:
                name = "/".join(action.option_strings)
                print(f"note: {name} is given more than once; the last one counts", file=sys.stderr)
            seen.add(action.dest)


def dangling_link(path: os.PathLike[str] | str) -> str | None:
    """``"is a symlink to T, which does not exist (or loops)"`` when ``path`` is a link that
    leads nowhere, else None: such a path neither exists nor can be created, and saying only
    "does not exist" hides why."""
    if os.path.islink(path) and not os.path.exists(path):
        return f"is a symlink to {os.readlink(path)}, which does not exist (or loops)"
    return None


def path_argument(text: str) -> str:
    """An argparse type for a file or folder option: ``~`` expanded (a shell leaves it alone
    after ``=`` or in quotes), and an empty value refused: ``--out $DIR`` with ``DIR`` unset
    would otherwise write into the current folder; so is one holding a control character."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty (an unset shell variable?): name a file or folder"
        )
    if problem := control_character(text):
        raise argparse.ArgumentTypeError(problem)
    return os.path.expanduser(text)


def control_character(path: str) -> str | None:
    """What is wrong with a path holding a control character, if it does: a pasted line end
    or a `read` without -r makes a folder nobody can type."""
    control = next((c for c in path if ord(c) < 32 or ord(c) == 127), None)
    if control is None:
        return None
    return f"{path!r} holds the control character {control!r} (pasted with the path?): retype it"


def debug_option() -> argparse.ArgumentParser:
    """A parent parser adding ``--debug`` to a subcommand, so it works after it too."""
    parent = OneLineParser(add_help=False)
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show error tracebacks"
    )
    return parent


def debug_enabled(flag: bool = False) -> bool:
    """Tracebacks on: the ``--debug`` flag or ``G2D_LITE_DEBUG`` on (1, on, true, yes)."""
    return flag or env_switch(DEBUG_ENV, False, "show tracebacks of errors")


def _os_message(error: OSError) -> str:
    """An OS error as the file it concerns and what to do about it."""
    where = error.filename if error.filename is not None else "a file"
    if error.errno == errno.ENOSPC:
        return (
            f"no space left on the device while writing {where}: free some space or write elsewhere"
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied for {where}: choose a folder you can write to, or fix its rights"
    if error.errno == errno.ENOTDIR:
        return f"{where} is (inside) a file, not a folder: give a folder path"
    if error.errno == errno.EISDIR:
        return f"{where} is a folder, not a file: give a file path"
    if error.errno == errno.ENAMETOOLONG:
        longest = max(os.fsencode(str(where)).split(b"/"), key=len)
        return (
            f"a name in {where} is too long for the file system ({len(longest)} bytes; most "
            "allow 255 per name): choose a shorter name"
        )
    if isinstance(error, FileNotFoundError) and error.filename is not None:
        return f"{where} does not exist: check the path"
    if error.errno is None and not error.strerror:  # numpy's writers say no more than this
        return (
            f"could not write or read {where}: the disk may be full or a file-size limit "
            "(ulimit -f) reached; fix that and rerun the same command"
        )
    return f"{error.strerror or error} ({where})"


def describe(error: BaseException) -> str:
    """The one line printed for ``error``: its message, with OS errors made actionable."""
    if isinstance(error, KitError | ValueError | TypeError):
        text = str(error)
    elif isinstance(error, KeyError):
        text = str(error.args[0]) if error.args else "missing key"
    elif isinstance(error, OSError) and (error.errno is not None or error.filename is not None):
        text = _os_message(error)
    elif isinstance(error, OSError):
        text = str(error)
    else:
        text = (
            f"unexpected {type(error).__name__}: {error} (a bug in g2d-lite? rerun with --debug "
            "for the traceback and report it)"
        )
    return " ".join(text.split())


def is_expected(error: BaseException) -> bool:
    """Whether ``error`` is a failure of the input or the environment, not of the kit."""
    return isinstance(error, KitError | ValueError | TypeError | KeyError | OSError)


class _StandardOutput:
    """sys.stdout, with its write errors naming it: a full disk behind `> file` raises an
    OSError that names no file, and "while writing a file" would send the user hunting."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._named(self._stream.write, text)

    def flush(self) -> None:
        self._named(self._stream.flush)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @staticmethod
    def _named(call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as error:
            if error.filename is None:
                error.filename = "standard output"
            raise


def _drop_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run_command(prog: str, body: Callable[[], int | None], debug: bool = False) -> int:
    """Run a command's ``body`` and turn every failure into one line on stderr and an exit code.

    Returns ``body``'s status (0 for None), 2 for an expected failure (or the error's own
    ``exit_code``), 1 for an unexpected one, 130 when interrupted. ``SystemExit`` (argparse)
    passes through untouched.
    """
    try:
        debug = debug_enabled(debug)  # a typo in G2D_LITE_DEBUG is refused before anything runs
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if sys.stdout is None:  # started with `>&-`: what the command prints would go nowhere
        print(f"{prog}: error: standard output is closed; run it with an output", file=sys.stderr)
        return EXIT_BAD_INPUT
    stdout = sys.stdout
    sys.stdout = _StandardOutput(stdout)
    try:
        status = body() or 0
        sys.stdout.flush()  # a full disk behind `> file` is found here, not after the exit
        return status
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        _drop_stdout()
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if debug:
            raise
        if isinstance(error, OSError) and error.filename == "standard output":
            _drop_stdout()  # else the failed flush repeats, with a traceback, at the exit
        print(f"{prog}: error: {describe(error)}", file=sys.stderr)
        if not is_expected(error):
            return EXIT_UNEXPECTED
        return getattr(error, "exit_code", EXIT_BAD_INPUT)
    finally:
        sys.stdout = stdout
