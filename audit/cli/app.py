"""The ``isotope`` command line: parses, calls library code, prints.

Each command group lives in its own module of ``audit.cli`` and registers itself here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from audit.cli import audit, demo, faces, local, marks, prepare, providers, surrogate, vertex
from audit.exit_codes import ExitCode


class IsotopeGroup(TyperGroup):
    """The root group: a usage error (unknown option, a ``--method`` the command does not
    take) also prints a JSON error object when ``--json`` was given."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        self._json = "--json" in argv
        try:
            result = super().main(
                argv, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            code = int(ExitCode.INTERRUPTED)
        except typer.TyperException as exc:  # a usage error: typer's click parsed nothing
            exc.show()  # type: ignore[attr-defined]
            code = int(getattr(exc, "exit_code", ExitCode.BAD_INPUT))
            if "--json" in argv:
                message = exc.format_message()
                print(json.dumps({"error": message, "kind": "bad_input", "exit_code": code}))
        else:
            code = result if isinstance(result, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; Ctrl-C outside its guard (while printing, say) still says so,
        with ``--json`` as one JSON object, and exits ``ExitCode.INTERRUPTED``."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            code = int(ExitCode.INTERRUPTED)
            typer.echo("error: interrupted", err=True)
            if getattr(self, "_json", False):
                print(
                    json.dumps({"error": "interrupted", "kind": "interrupted", "exit_code": code})
                )
            raise typer.Exit(code) from None


app = typer.Typer(
    name="isotope",
    cls=IsotopeGroup,
    help="Mark your images with secret isotopes, then audit whether a model was trained on them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (marks, prepare, audit, providers, local, surrogate, vertex, demo, faces):
    module.register(app)


def main() -> None:
    """Console entry point."""
    app()
