"""Tables that fit: the terminal's width on a terminal, :data:`~fourtop.cli._console.PIPE_WIDTH`
(or ``COLUMNS``) in a pipe or file.

A table wider than that first loses its optional columns, in the order given (the caption says
which; the result files have them all). Where it still does not fit, each row is shown as
``header: value`` lines instead. A cell is never wrapped, split or cut short with an ellipsis, so
a number or a variable name can always be read and copied.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["fit_table"]


def fit_table(
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[str]],
    console: Console,
    *,
    title: str | None = None,
    optional: Sequence[str] = (),
) -> RenderableType:
    """A rich table of ``rows`` under ``columns`` (``(header, justify)``), as wide as ``console``.

    Cells are plain text (no markup). ``optional`` names the columns that may be left out when
    the table is too wide, the first named first.
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
    if _natural_width(console, table) > console.width:
        return _records(columns, rows, title)
    # title and note as lines of their own: rich would pad them with spaces to the table's width
    lines: list[RenderableType] = [Text(title, style="italic")] if title else []
    lines.append(table)
    if dropped:
        lines.append(Text(f"not shown, for the terminal's width: {', '.join(dropped)}"))
    return Group(*lines)


def _natural_width(console: Console, table: Table) -> int:
    """The table's width with no limit (rich's measure stops at the console's width)."""
    return console.measure(table, options=console.options.update_width(1_000_000)).maximum


def _records(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], title: str | None
) -> Group:
    """Each row as ``header: value`` lines, a blank line between rows."""
    lines: list[Text] = [Text(title, style="italic")] if title else []
    for n, row in enumerate(rows):
        if n:
            lines.append(Text(""))
        lines += [Text(f"{header}: {cell}") for (header, _), cell in zip(columns, row, strict=True)]
    return Group(*lines)


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
