"""The ``tracer`` command (SPEC.md §4): the Click group and every command registered on it.

Each module of this package is one group of commands; none of them computes or
formats anything itself — they parse arguments, call the library and map its
errors to the exit codes of SPEC.md §6 (:mod:`tracer.cli.common`):

* :mod:`tracer.cli.problems` — ``solve``, ``ask``, ``validate``, ``new``, ``schema``
* :mod:`tracer.cli.quiz` — ``quiz``, ``check``
* :mod:`tracer.cli.calculus` — ``diff``, ``descend``
"""

from __future__ import annotations

import click

from tracer import __version__
from tracer.cli.calculus import descend, diff
from tracer.cli.problems import ask, new, schema, solve, validate
from tracer.cli.quiz import check, quiz


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


cli.add_command(solve)
cli.add_command(ask)
cli.add_command(validate)
cli.add_command(new)
cli.add_command(schema)
cli.add_command(quiz)
cli.add_command(check)
cli.add_command(diff)
cli.add_command(descend)


def main() -> None:
    cli(prog_name="tracer")


if __name__ == "__main__":
    main()
