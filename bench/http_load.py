#!/usr/bin/env python3
"""HTTP benchmark of the foundation: /healthz, the signed-in home page, and GET /api/v1/me.

It builds a throw-away data folder, loads the demo district, starts the platform exactly as in
production (`lms run`: gunicorn with gthread workers plus the job worker), signs in a demo
learner, and loads each endpoint in turn from a separate process (wrk, or a Python fallback).
It prints requests/s and latency percentiles, and each figure as a share of /healthz measured
in the same run. The target: the signed-in home page reaches at least 50 % of /healthz.

    .venv/bin/python bench/http_load.py --duration 10
    .venv/bin/python bench/http_load.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Exit status: 0 when the measurement ran (whatever the figures), 2 when the setup failed,
130 when interrupted. This is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TARGET_SHARE = 0.50          # the signed-in page must reach 50 % of /healthz throughput
PROTECTED_DATABASES = {"test"}  # the test suite's database: never touched from here
LEARNER = "learner"          # demo account (lms/accounts/demo.py)

# wrk: headers come from -H; done() prints one JSON line with the figures (latency in µs).
# response() counts statuses other than 200 per thread; done() adds them up.
WRK_LUA = r"""
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  non200 = 0
end

response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non200") or 0) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.6f, "rps": %.3f, "p50_ms": %.3f, ' ..
    '"p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "non200": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, bad,
    e.connect, e.read, e.write, e.timeout))
end
"""


class SetupError(Exception):
    """The benchmark could not be set up; the message says why."""


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- environment

def venv_bin() -> Path:
    for candidate in (ROOT / ".venv" / "bin", Path(sys.executable).parent):
        if (candidate / "lms").exists():
            return candidate
    raise SetupError("cannot find the `lms` command: run `make setup` first")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float:
    """User+system CPU of every live process in a process group (Linux /proc; else 0)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of proc(5): the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def pids_cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


class PostgresBackends:
    """The CPU of the PostgreSQL backends serving the benchmark's database, when they run on
    this machine: the database's share of the work, which SQLite does inside the server."""

    def __init__(self, url: str):
        import psycopg
        from sqlalchemy.engine import make_url
        parsed = make_url(url)
        self.database = parsed.database
        self.conn = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(
            hide_password=False), autocommit=True, connect_timeout=10)

    def cpu_seconds(self) -> float:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database,)).fetchall()
        return pids_cpu_seconds(pid for (pid,) in rows)

    def close(self) -> None:
        self.conn.close()


def machine_busy_seconds() -> float:
    """CPU time spent busy by the whole machine so far (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def prepare_postgres(url: str) -> str:
    """Create the database named in `url` if missing; refuse the test suite's database."""
    try:
        import psycopg
        from psycopg import sql
        from sqlalchemy.engine import make_url
    except ImportError as exc:  # pragma: no cover - the venv has both
        raise SetupError(f"PostgreSQL needs psycopg and SQLAlchemy in this Python: {exc}") from exc
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise SetupError(f"--database-url must be a PostgreSQL URL, got {parsed.drivername}")
    name = parsed.database
    if not name:
        raise SetupError("--database-url names no database")
    if name.lower() in PROTECTED_DATABASES:
        raise SetupError(f"refusing to use the database {name!r}: the test suite owns it")
    admin = parsed.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()
            if exists:
                say(f"database {name!r} exists; reusing it (upgrade and demo are idempotent)")
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                say(f"created database {name!r}")
    except psycopg.Error as exc:
        raise SetupError(f"cannot prepare PostgreSQL database {name!r}: {exc}") from exc
    return parsed.render_as_string(hide_password=True)


def build_env(tmp: Path, args: argparse.Namespace, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    instance = tmp / "instance"
    env.update({
        "LMS_INSTANCE_DIR": str(instance),
        "LMS_DATABASE_URL": args.database_url or f"sqlite:///{instance / 'lms.db'}",
        "LMS_MEDIA_DIR": str(tmp / "media"),
        "LMS_INDEX_DIR": str(tmp / "index"),
        "LMS_IMPORT_DIR": str(tmp / "imports"),
        "LMS_SECRET_KEY": secrets.token_urlsafe(48),
        "LMS_DEMO_PASSWORD": "Bench" + secrets.token_hex(6) + "9",
        "LMS_PORT": str(port),
        "LMS_HOST": HOST,
        "LMS_DEBUG": "0",
    })
    if args.web_workers:
        env["LMS_WEB_WORKERS"] = str(args.web_workers)
    if args.web_threads:
        env["LMS_WEB_THREADS"] = str(args.web_threads)
    return env


def run_lms(bindir: Path, env: dict[str, str], *cmd: str) -> None:
    proc = subprocess.run([str(bindir / "lms"), *cmd], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SetupError(f"`lms {' '.join(cmd)}` failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}")


# ---------------------------------------------------------------- the server

class Server:
    """`lms run` in its own session, so the whole process group can be ended at once."""

    def __init__(self, bindir: Path, env: dict[str, str], log_path: Path, port: int):
        self.bindir, self.env, self.log_path, self.port = bindir, env, log_path, port
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(self.bindir / "lms"), "run"], env=self.env, cwd=ROOT,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"the server exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                status, _, body = request("GET", "/healthz", self.port, timeout=2)
                if status == 200:
                    return
                last = f"{status} {body[:200]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.25)
        raise SetupError(f"/healthz did not answer 200 within {timeout:.0f} s ({last}):\n"
                         f"{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        # gunicorn's workers and the job worker share the group: make sure none is left.
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            pass
        else:
            time.sleep(1)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)
        if self._log:
            self._log.close()
        self.proc = None


# ---------------------------------------------------------------- signing in

def request(method: str, path: str, port: int, *, headers: dict | None = None,
            body: bytes | None = None, timeout: float = 15):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def session_cookie(headers, name: str = "lms_session") -> str | None:
    for value in headers.get_all("Set-Cookie") or []:
        first = value.split(";", 1)[0]
        key, _, val = first.partition("=")
        if key.strip() == name:
            return val.strip()
    return None


def sign_in_page(port: int, login: str, password: str) -> str:
    """The `Cookie` header value of a signed-in browser session."""
    status, headers, body = request("GET", "/login", port)
    if status != 200:
        raise SetupError(f"GET /login answered {status}")
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
        re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
    cookie = session_cookie(headers)
    if not match or not cookie:
        raise SetupError("GET /login gave no csrf_token input or no session cookie")
    form = urllib.parse.urlencode({"login": login, "password": password,
                                   "csrf_token": match.group(1).decode()}).encode()
    status, headers, body = request(
        "POST", "/login", port, body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"lms_session={cookie}"})
    signed_in = session_cookie(headers)
    if status != 302 or not signed_in:
        raise SetupError(f"POST /login answered {status}, expected a redirect with a cookie: "
                         f"{body[:300]!r}")
    cookie_header = f"lms_session={signed_in}"
    check_home(port, cookie_header)
    return cookie_header


def check_home(port: int, cookie_header: str) -> None:
    status, _, body = request("GET", "/", port, headers={"Cookie": cookie_header})
    text = body.decode("utf-8", "replace")
    if status != 200 or "您好" not in text or "退出" not in text:
        raise SetupError(f"GET / with the session cookie is not the signed-in home page "
                         f"({status})")


def api_token(port: int, login: str, password: str) -> str:
    payload = json.dumps({"login": login, "password": password}).encode()
    status, _, body = request("POST", "/api/v1/auth/token", port, body=payload,
                              headers={"Content-Type": "application/json"})
    if status != 200:
        raise SetupError(f"POST /api/v1/auth/token answered {status}: {body[:300]!r}")
    token = json.loads(body)["token"]
    check_me(port, token)
    return token


def check_me(port: int, token: str) -> None:
    status, _, body = request("GET", "/api/v1/me", port,
                              headers={"Authorization": f"Bearer {token}"})
    if status != 200 or json.loads(body).get("username") != LEARNER:
        raise SetupError(f"GET /api/v1/me answered {status}: {body[:300]!r}")


# ---------------------------------------------------------------- load generators

@dataclass
class Result:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    non200: int = 0
    errors: int = 0
    #: CPU seconds used during the run by the server (all its processes), the load generator,
    #: and everything else on the machine (other people's tests, builds...)
    server_cpu: float = math.nan
    db_cpu: float = 0.0  # PostgreSQL backends (0 with SQLite, whose work is in server_cpu)
    load_cpu: float = math.nan
    other_cpu: float = math.nan

    @property
    def server_ms_per_request(self) -> float:
        """CPU of the server and its database per request."""
        return (self.server_cpu + self.db_cpu) / self.requests * 1000 if self.requests else math.nan

    @property
    def other_cores(self) -> float:
        """Average number of cores busy with other work during the run."""
        return self.other_cpu / self.seconds if self.seconds else math.nan


def run_wrk(wrk: str, lua: Path, port: int, path: str, headers: dict[str, str],
            duration: float, connections: int, threads: int) -> Result:
    cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration))}s",
           "--timeout", "10s", "-s", str(lua)]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    cmd.append(f"http://{HOST}:{port}{path}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SetupError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line[len("WRK_RESULT "):])
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return Result(requests=data["requests"], seconds=data["seconds"], rps=data["rps"],
                  p50_ms=data["p50_ms"], p95_ms=data["p95_ms"], p99_ms=data["p99_ms"],
                  max_ms=data["max_ms"], non200=data["non200"], errors=errors)


def _py_connection_loop(port, path, headers, stop_at, out):
    """One keep-alive connection in a closed loop until stop_at; appends latencies (s)."""
    latencies, non200, errors = [], 0, 0
    conn = None
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            break
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            latencies.append(time.perf_counter() - now)
            if resp.status != 200:
                non200 += 1
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            errors += 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()
    out.append((latencies, non200, errors))


def _py_process(port, path, headers, connections, start_at, stop_at, queue):
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    out: list = []
    workers = [threading.Thread(target=_py_connection_loop,
                                args=(port, path, headers, stop_at, out))
               for _ in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lat = [x for latencies, _, _ in out for x in latencies]
    queue.put((lat, sum(o[1] for o in out), sum(o[2] for o in out)))


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def run_python(port: int, path: str, headers: dict[str, str], duration: float,
               connections: int, threads: int) -> Result:
    """The fallback: `threads` processes, each with its share of keep-alive connections."""
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    queue = ctx.Queue()
    procs_n = max(1, min(threads, connections))
    shares = [connections // procs_n + (1 if i < connections % procs_n else 0)
              for i in range(procs_n)]
    # perf_counter is CLOCK_MONOTONIC on Linux, shared by forked children.
    start_at = time.perf_counter() + 0.3
    stop_at = start_at + duration
    procs = [ctx.Process(target=_py_process,
                         args=(port, path, headers, n, start_at, stop_at, queue), daemon=True)
             for n in shares]
    for p in procs:
        p.start()
    parts = [queue.get(timeout=duration + 60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    lat = sorted(x for part in parts for x in part[0])
    ms = [x * 1000 for x in lat]
    return Result(requests=len(lat), seconds=duration, rps=len(lat) / duration,
                  p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95),
                  p99_ms=percentile(ms, 99), max_ms=ms[-1] if ms else math.nan,
                  non200=sum(p[1] for p in parts), errors=sum(p[2] for p in parts))


# ---------------------------------------------------------------- the report

def median_result(results: list[Result]) -> Result:
    """The round with the median throughput (its latencies and CPU figures belong together)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def shares(results: dict[str, list[Result]], base: str) -> dict[str, float]:
    """Each endpoint's req/s as a share of /healthz in the same round; the median over rounds."""
    out = {}
    for name, runs in results.items():
        per_round = [r.rps / b.rps for r, b in zip(runs, results[base]) if b.rps]
        out[name] = statistics.median(per_round) if per_round else math.nan
    return out


def median_cpu(results: dict[str, list[Result]]) -> dict[str, float]:
    return {name: statistics.median(r.server_ms_per_request for r in runs)
            for name, runs in results.items()}


def print_table(rows: list[tuple[str, Result]], share: dict[str, float],
                cpu: dict[str, float]) -> None:
    header = (f"{'endpoint':<30} {'req/s':>8} {'of /healthz':>11} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'p99 ms':>7} {'CPU ms/req':>10} {'non-200':>7} {'errors':>6}")
    say("")
    say(header)
    say("-" * len(header))
    for name, r in rows:
        say(f"{name:<30} {r.rps:>8.1f} {share[name]:>11.0%} {r.p50_ms:>7.1f} {r.p95_ms:>7.1f} "
            f"{r.p99_ms:>7.1f} {cpu[name]:>10.2f} {r.non200:>7} {r.errors:>6}")


def measured(load, server: Server, backends: PostgresBackends | None, path: str, headers: dict,
             seconds: float) -> Result:
    """One load run, with the CPU used meanwhile by the server (and its PostgreSQL backends),
    the load generator, and everything else on the machine."""
    pgid = server.proc.pid
    db0 = backends.cpu_seconds() if backends else 0.0
    srv0, kids0, busy0 = group_cpu_seconds(pgid), children_cpu_seconds(), machine_busy_seconds()
    result = load(path, headers, seconds)
    srv1, kids1, busy1 = group_cpu_seconds(pgid), children_cpu_seconds(), machine_busy_seconds()
    db1 = backends.cpu_seconds() if backends else 0.0
    result.server_cpu = srv1 - srv0
    result.db_cpu = max(0.0, db1 - db0)  # backends that ended meanwhile are not counted
    result.load_cpu = kids1 - kids0
    result.other_cpu = max(0.0, (busy1 - busy0) - result.server_cpu - result.db_cpu
                           - result.load_cpu)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="HTTP benchmark: /healthz, the signed-in home page, GET /api/v1/me.")
    parser.add_argument("--duration", type=float, default=10, help="seconds per endpoint (10)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="load threads/processes (2)")
    parser.add_argument("--warmup", type=float, default=2,
                        help="seconds of unreported load per endpoint before measuring (2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the three endpoints this many times, interleaved, and "
                             "report each one's median round (1); use 3+ on a busy machine")
    parser.add_argument("--database-url", default=None,
                        help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench "
                             "(created if missing; default: SQLite in the temp dir)")
    parser.add_argument("--web-workers", type=int, default=None,
                        help="gunicorn workers (LMS_WEB_WORKERS; default the platform's)")
    parser.add_argument("--web-threads", type=int, default=None,
                        help="threads per worker (LMS_WEB_THREADS; default the platform's)")
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even when wrk is installed")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server log)")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.threads < 1 or args.duration <= 0 or args.rounds < 1:
        parser.error("--connections, --threads, --duration and --rounds must be positive")
    if args.threads > args.connections:
        args.threads = args.connections  # wrk refuses more threads than connections

    # SIGTERM ends the run like Ctrl+C does, so the server is always stopped.
    def _terminate(signum, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _terminate)

    tmp = Path(tempfile.mkdtemp(prefix="lms-bench-"))
    server: Server | None = None
    backends: PostgresBackends | None = None
    try:
        bindir = venv_bin()
        wrk = None if args.python_load else shutil.which("wrk")
        port = free_port()
        db_label = "SQLite (temp dir, WAL)"
        if args.database_url:
            db_label = "PostgreSQL " + prepare_postgres(args.database_url)
        env = build_env(tmp, args, port)
        workers = env.get("LMS_WEB_WORKERS", "2 (default)")
        threads = env.get("LMS_WEB_THREADS", "8 (default)")
        say(f"date:        {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
        say(f"machine:     {platform.node()} · {os.cpu_count()} CPUs · Python "
            f"{platform.python_version()} · load average {os.getloadavg()[0]:.2f}")
        say(f"database:    {db_label}")
        say(f"server:      lms run (gunicorn gthread, workers {workers}, threads {threads}) "
            f"on {HOST}:{port}")
        rounds = f", {args.rounds} interleaved rounds (median)" if args.rounds > 1 else ""
        if wrk:
            say(f"load:        wrk ({wrk}), {args.threads} threads, {args.connections} "
                f"connections, {args.duration:g} s per endpoint after {args.warmup:g} s "
                f"warm-up{rounds}")
        else:
            why = "requested" if args.python_load else "wrk not found on PATH"
            say(f"load:        Python load generator ({why}): {args.threads} processes, "
                f"{args.connections} keep-alive http.client connections, {args.duration:g} s "
                f"per endpoint{rounds}. It costs more CPU than wrk: compare ratios, not req/s.")
        say(f"temp dir:    {tmp}")

        say("migrating the database (lms db upgrade)…")
        run_lms(bindir, env, "db", "upgrade")
        say("loading the demo district (lms demo)…")
        run_lms(bindir, env, "demo")

        say("starting server (lms run)…")
        server = Server(bindir, env, tmp / "server.log", port)
        server.start()
        server.wait_healthy()
        say("server is up; signing in the demo learner…")
        password = env["LMS_DEMO_PASSWORD"]
        cookie = sign_in_page(port, LEARNER, password)
        token = api_token(port, LEARNER, password)

        if args.database_url:
            try:
                backends = PostgresBackends(args.database_url)
            except Exception as exc:  # psycopg.Error and friends: only a figure is lost
                say(f"note: cannot watch the PostgreSQL backends' CPU ({exc}); CPU ms/req "
                    f"leaves the database out")
        lua = tmp / "bench.lua"
        lua.write_text(WRK_LUA)
        endpoints = [
            ("GET /healthz", "/healthz", {}),
            ("GET / (signed-in learner)", "/", {"Cookie": cookie}),
            ("GET /api/v1/me (bearer)", "/api/v1/me", {"Authorization": f"Bearer {token}"}),
        ]

        def load(path, headers, seconds):
            if wrk:
                return run_wrk(wrk, lua, port, path, headers, seconds, args.connections,
                               args.threads)
            return run_python(port, path, headers, seconds, args.connections, args.threads)

        results: dict[str, list[Result]] = {name: [] for name, _, _ in endpoints}
        for rnd in range(1, args.rounds + 1):
            if args.rounds > 1:
                say(f"round {rnd} of {args.rounds}")
            for name, path, headers in endpoints:
                if args.warmup > 0:
                    say(f"warming up {path} for {args.warmup:g} s…")
                    load(path, headers, args.warmup)
                say(f"loading {path} for {args.duration:g} s…")
                result = measured(load, server, backends, path, headers, args.duration)
                say(f"  {result.rps:.0f} req/s, p95 {result.p95_ms:.1f} ms, "
                    f"{result.server_ms_per_request:.2f} CPU ms/req; other work on the machine: "
                    f"{result.other_cores:.2f} cores")
                results[name].append(result)
                if server.proc.poll() is not None:
                    raise SetupError(f"the server died under load:\n{server.log_tail()}")

        # The identities used under load must still be valid: otherwise the figures measured
        # the public page or 401s rather than the signed-in requests.
        check_home(port, cookie)
        check_me(port, token)

        rows = [(name, median_result(results[name])) for name, _, _ in endpoints]
        share = shares(results, endpoints[0][0])
        cpu = median_cpu(results)
        print_table(rows, share, cpu)
        base_name, page_name = endpoints[0][0], endpoints[1][0]
        verdict = "PASS" if share[page_name] >= TARGET_SHARE else "FAIL"
        say("")
        if args.rounds > 1:
            say("req/s and latencies: each endpoint's median round; 'of /healthz': the median "
                "over rounds of the share within each round: "
                + ", ".join(f"{p.rps / h.rps:.0%}" for h, p in
                            zip(results[base_name], results[page_name]) if h.rps)
                + " for the signed-in page")
        cpu_share = cpu[base_name] / cpu[page_name] if cpu[page_name] else math.nan
        db_note = " and PostgreSQL backends" if backends else ""
        over = "; median over rounds" if args.rounds > 1 else ""
        say(f"CPU ms/req: CPU time of the server's processes{db_note} per request (less "
            f"sensitive to other load than req/s{over}). Signed-in page "
            f"{cpu[page_name]:.2f} ms vs /healthz {cpu[base_name]:.2f} ms: with the machine to "
            f"itself the page would run at about {cpu_share:.0%} of /healthz's rate")
        busy = max(r.other_cores for runs in results.values() for r in runs)
        if busy > 0.25:
            say(f"note: other processes kept up to {busy:.2f} of {os.cpu_count()} cores busy "
                f"during the runs; req/s figures are noisy, CPU ms/req much less so "
                f"(use --rounds 3 or a quiet machine)")
        say(f"target: signed-in page ≥ {TARGET_SHARE:.0%} of /healthz throughput in the same run: "
            f"{share[page_name]:.0%}  {verdict}")
        bad = [name for name, r in rows if r.non200 or r.errors]
        if bad:
            say(f"warning: non-200 answers or socket errors on: {', '.join(bad)} "
                f"(the server log is kept with --keep)")
        return 0
    except SetupError as exc:
        say(f"setup failed: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted; stopping the server…")
        return 130
    finally:
        if backends is not None:
            backends.close()
        if server is not None:
            server.stop()
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
