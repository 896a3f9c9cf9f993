"""`lms search ...`: the Whoosh index."""
from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup

from lms.errors import DomainError
from lms.messages import render
from lms.search import services

search_cli = AppGroup("search", help="The search index.")


@search_cli.command("rebuild")
@click.option("--type", "doc_type", default=None,
              help="one document type (e.g. course, question); default: every type")
def rebuild_command(doc_type: str | None) -> None:
    """Rebuild this host's index from the database (a fresh index swapped in when done)."""
    known = services.registered_doc_types()
    if doc_type is not None and doc_type not in known:
        raise click.BadParameter(render("search_unknown_type", name=doc_type,
                                        choices="、".join(known)), param_hint="--type")
    bar = None
    shown = [-1]

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not _interactive():  # a log: a line per tenth
            tenth = done * 10 // max(total, 1)
            if tenth != shown[0]:
                shown[0] = tenth
                click.echo(f"{render('search_rebuild_label')} {done}/{total}")
            return
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=render("search_rebuild_label"),
                                    show_pos=True, show_eta=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    started = time.monotonic()
    try:
        count = services.rebuild(doc_type, progress=progress)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(render("search_rebuilt", types=doc_type or "、".join(known), count=count,
                      seconds=f"{time.monotonic() - started:.1f}"))


def _interactive() -> bool:
    return sys.stdout.isatty()


@search_cli.command("status")
def status_command() -> None:
    """Per document type: documents in this host's index, the cursor, pending changes."""
    rows = services.status()
    click.echo(render("search_status_cursor", name=services.cursor_name(),
                      cursor=rows[0].cursor if rows else 0))
    for row in rows:
        if row.documents is None:
            click.echo(render("search_status_no_index", type=row.doc_type, pending=row.pending))
        else:
            click.echo(render("search_status_line", type=row.doc_type, documents=row.documents,
                              pending=row.pending))
