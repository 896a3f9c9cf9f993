"""The `lms` command: Flask's CLI group plus the platform's own commands."""
from __future__ import annotations

import getpass
import logging
import os
import signal
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from lms import create_app, demo, jobs
from lms.accounts.services import create_platform_admin
from lms.courses.commands import content_cli
from lms.db import utcnow, write_intent
from lms.errors import DomainError
from lms.extensions import db
from lms.jobs import worker
from lms.search.commands import search_cli


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """滨海新区工会干部教育培训在线学习平台 management command."""


main.add_command(content_cli)
main.add_command(search_cli)


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo district (idempotent): units, the role accounts, 200 cadres."""
    with write_intent(True):
        summary = demo.load_demo(password=current_app.config["DEMO_PASSWORD"], now=utcnow(),
                            echo=click.echo)
        db.session.commit()
    click.echo(summary)


@main.command("create-admin")
@click.option("--username", required=True, help="用户名（字母开头）")
@click.option("--name", required=True, help="姓名")
@click.option("--phone", default=None, help="手机号（可选）")
@click.option("--password", default=None, help="密码（不给则交互输入）")
@with_appcontext
def create_admin_command(username: str, name: str, phone: str | None, password: str | None) -> None:
    """Create a platform administrator at the district federation."""
    if password is None:
        password = getpass.getpass("密码: ")
        if password != getpass.getpass("再次输入密码: "):
            raise click.ClickException("两次输入的密码不一致。")
    with write_intent(True):
        try:
            user = create_platform_admin(username=username, name=name, phone=phone,
                                                   password=password, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
    click.echo(f"已创建平台管理员 {user.name}（{user.username}）。")


@main.command("worker")
@click.option("--once", is_flag=True, help="run the due jobs once and exit")
@with_appcontext
def worker_command(once: bool) -> None:
    """Run scheduled and queued jobs (APScheduler in this process only)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per 2-second poll
    if once:
        ran = jobs.run_pending(utcnow)
        click.echo(f"ran {ran} job(s)")
        return
    worker.serve(current_app._get_current_object())


@main.command("run")
@click.option("--port", type=int, default=None, help="port (default LMS_PORT or 5000)")
@click.option("--host", default=None, help="address (default LMS_HOST or 127.0.0.1)")
@with_appcontext
def run_command(port: int | None, host: str | None) -> None:
    """Serve the platform: the web server (gunicorn, or Flask's with LMS_DEBUG=1) and one worker."""
    port = port or current_app.config["PORT"]
    host = host or os.environ.get("LMS_HOST", "127.0.0.1")
    cfg = current_app.config
    bindir = os.path.dirname(sys.executable)
    worker_proc = subprocess.Popen([os.path.join(bindir, "lms"), "worker"])
    if cfg["DEBUG_SERVER"]:
        web_cmd = [os.path.join(bindir, "flask"), "--app", "lms.wsgi:app", "run", "--debug",
                   "--host", host, "--port", str(port)]
    else:
        web_cmd = [os.path.join(bindir, "gunicorn"), "--worker-class", "gthread",
                   "--workers", str(cfg["WEB_WORKERS"]), "--threads", str(cfg["WEB_THREADS"]),
                   "--bind", f"{host}:{port}", "--access-logfile", "-", "--timeout", "120",
                   "--no-control-socket",
                   "lms.wsgi:app"]
    web_proc = subprocess.Popen(web_cmd)
    click.echo(f"平台已启动：http://{host}:{port}  （Ctrl+C 停止）")

    def stop(*_):
        for proc in (web_proc, worker_proc):
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while web_proc.poll() is None and worker_proc.poll() is None:
            time.sleep(0.5)
    finally:
        stop()
        for proc in (web_proc, worker_proc):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    sys.exit(web_proc.returncode or 0)

