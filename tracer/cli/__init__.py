"""The ``tracer`` command (docs/spec.md §4): the Click group and every command registered on it.

Each module of this package is one group of commands; none of them computes or
formats anything itself — they parse arguments, call the library and map its
errors to the exit codes of docs/spec.md §6 (:mod:`tracer.cli.common`):

* :mod:`tracer.cli.problems` — ``solve``, ``ask``, ``validate``, ``new``, ``schema``
* :mod:`tracer.cli.quiz` — ``quiz``, ``check``
* :mod:`tracer.cli.grade` — ``grade``
* :mod:`tracer.cli.serve` — ``serve`` (the web application, :mod:`tracer.serve`)
* :mod:`tracer.cli.calculus` — ``diff``, ``descend``
"""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from tracer import __version__

#: every command, by the module that defines it: a command's module (and what it needs) is
#: imported when the command runs — `tracer solve -f json` loads no quiz, check or calculus
#: code (Click's lazily loaded subcommands; tests/test_imports.py reads these as imports)
COMMANDS = {
    "solve": "tracer.cli.problems:solve",
    "ask": "tracer.cli.problems:ask",
    "validate": "tracer.cli.problems:validate",
    "new": "tracer.cli.problems:new",
    "schema": "tracer.cli.problems:schema",
    "quiz": "tracer.cli.quiz:quiz",
    "check": "tracer.cli.quiz:check",
    "grade": "tracer.cli.grade:grade",
    "serve": "tracer.cli.serve:serve",
    "diff": "tracer.cli.calculus:diff",
    "descend": "tracer.cli.calculus:descend",
}


#: Click ≥ 8.2 raises this usage error for a group called without a command: it shows the help
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Commands(click.Group):
    """The group of :data:`COMMANDS`, each loaded from its module when it is asked for; a usage
    error of any of them (``--digits 0``, ``-f xml``, a folder as FILE, a missing argument) is
    one line and exit 2, as every other bad input (docs/spec.md §6) — not Click's four lines."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS_IS_HELP as err:  # `tracer` alone: the help, as Click prints it
            err.show()
            sys.exit(err.exit_code)
        except click.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else (prog_name or "tracer")
            message = " ".join(err.format_message().split())
            click.echo(f"{where}: {message} (see {where} --help)"[:299], err=True)
            sys.exit(2)
        except click.ClickException as err:
            err.show()
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Step-by-step, verified worked solutions of backpropagation.

    A problem file (YAML) describes a small network, its data, its loss and the
    training; `tracer solve` writes out the forward pass, every partial derivative
    by the chain rule (factor by factor, symbolic, then with numbers), the updates
    and the loss after, and checks every number against an independent NumPy pass.

    \b
    Start with a shipped example:
      tracer new mazur -o mazur.yaml
      tracer solve mazur.yaml
      tracer ask mazur.yaml "dloss/dW2[1,1]"
    """
    # NumPy's overflow and invalid-value warnings are not for the user: the commands judge every
    # non-finite number themselves (exit 2 naming the quantity), and a warning is a multi-line
    # message on stderr before that one line. (A filter of the standard library's warnings, not
    # np.seterr: `tracer --help` imports no NumPy, and no import hides in a function.)
    warnings.simplefilter("ignore", RuntimeWarning)



def main() -> None:
    cli(prog_name="tracer")


if __name__ == "__main__":
    main()
