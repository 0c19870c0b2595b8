"""Tables that fit: the terminal's width on a terminal, :data:`~fourtop.cli._console.PIPE_WIDTH`
(or ``COLUMNS``) in a pipe or file.

A table wider than that first loses its optional columns, in the order given (the caption says
which; the result files have them all). Where it still does not fit, each row is shown as
``header: value`` lines instead. A cell is never wrapped, split or cut short with an ellipsis, so
a number or a variable name can always be read and copied.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["print_table"]


def print_table(
    console: Console,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    optional: Sequence[str] = (),
) -> None:
    """Print ``rows`` under ``columns`` (``(header, justify)``) on ``console``, as wide as it is.

    Cells are plain text (no markup). ``optional`` names the columns that may be left out when
    the table is too wide, the first named first. Lines of text (the title, the note, rows as
    ``header: value``) are never wrapped by us: the terminal folds them, without padding.
    """
    shown = list(range(len(columns)))
    names = [name for name, _ in columns]
    dropped: list[str] = []
    table = _table(columns, rows, shown)
    for name in optional:
        if _natural_width(console, table) <= console.width:
            break
        shown.remove(names.index(name))
        dropped.append(name)
        table = _table(columns, rows, shown)
    fits = _natural_width(console, table) <= console.width
    if title:
        console.print(Text(title, style="italic"), soft_wrap=True)
    if not fits:
        _records(console, columns, rows)
        return
    console.print(table)
    if dropped:
        console.print(f"not shown, for the terminal's width: {', '.join(dropped)}", markup=False,
                      soft_wrap=True)  # fmt: skip


def _natural_width(console: Console, table: Table) -> int:
    """The table's width with no limit (rich's measure stops at the console's width)."""
    return console.measure(table, options=console.options.update_width(1_000_000)).maximum


def _records(
    console: Console, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]]
) -> None:
    """Each row as ``header: value`` lines, a blank line between rows."""
    for n, row in enumerate(rows):
        if n:
            console.print()
        for (header, _), cell in zip(columns, row, strict=True):
            console.print(f"{header}: {cell}", markup=False, soft_wrap=True)


def _table(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], shown: list[int]
) -> Table:
    table = Table()
    for i in shown:
        header, justify = columns[i]
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    return table
