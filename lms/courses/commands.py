"""`lms content ...`: course packages from content/."""
from __future__ import annotations

import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup, with_appcontext

from lms.accounts.models import User
from lms.courses import content
from lms.db import utcnow, write_intent
from lms.errors import DomainError
from lms.extensions import db

content_cli = AppGroup("content", help="Course packages (content/).")


@content_cli.command("import")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path), default="content")
@click.option("--owner", default=None,
              help="username of the account that owns the courses (default: the first platform admin)")
@with_appcontext
def import_command(path: Path, owner: str | None) -> None:
    """Load every package under PATH (a folder of packages, or one package), creating or
    updating each course by its folder name; one line per course. Each package is committed on
    its own: a refused package is reported and the others still load."""
    started = time.monotonic()
    with write_intent(True):
        user = (db.session.scalar(sa.select(User).where(User.username == owner)) if owner
                else content.default_owner())
        if user is None:
            raise click.ClickException(f"找不到账号 {owner}。" if owner else
                                       "还没有平台管理员：请先运行 `lms demo` 或 `lms create-admin`，或用 --owner 指定账号。")
        try:
            folders = content.find_packages(path)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        failed = 0
        for i, folder in enumerate(folders, 1):
            try:
                result = content.import_package(folder, owner=user, now=utcnow())
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                failed += 1
                click.echo(f"[{i}/{len(folders)}] {folder.name}：未导入。{exc.message}", err=True)
                continue
            click.echo(content.progress_line(i, len(folders), result))
    click.echo(f"共 {len(folders)} 个课程包，导入 {len(folders) - failed} 个"
               f"{f'，失败 {failed} 个' if failed else ''}，用时 {time.monotonic() - started:.1f} 秒。")
    if failed:
        raise SystemExit(1)
