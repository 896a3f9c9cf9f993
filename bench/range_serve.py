"""Benchmark: HTTP range requests on a 100 MB file served by send_media, against the same file
served as a static file, both under gunicorn (gthread, the platform's 2 workers × 8 threads),
loaded by wrk from a separate process with a Lua script asking random ranges.

  media   a small Flask app whose route calls send_media("renditions/big.mp4", ...) (what the
          courses views do after their access check; the check itself is not measured here)
  static  a Flask app serving the same file from its static folder (werkzeug's send_file)
  nginx   also the same file from nginx, when an nginx binary is installed

    .venv/bin/python bench/range_serve.py
    .venv/bin/python bench/range_serve.py --duration 20 --connections 32 --ranges 65536,1048576
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from lms.media.serving import send_media  # noqa: E402

LUA = r"""
local size = tonumber(os.getenv("RANGE_BENCH_SIZE"))
local span = tonumber(os.getenv("RANGE_BENCH_SPAN"))
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads * 7919)
end
function init(args)
  math.randomseed(os.time() + seed)
end
function request()
  local first = math.random(0, size - span)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. first .. "-" .. (first + span - 1) })
end
"""


def media_app() -> Flask:
    """gunicorn 'bench.range_serve:media_app()': send_media of the benchmark file."""
    app = Flask(__name__)
    app.config.update(MEDIA_DIR=Path(os.environ["RANGE_BENCH_MEDIA"]), X_ACCEL_PREFIX=None)

    @app.route("/lessons/<int:lesson_id>/video")
    def video(lesson_id: int):
        return send_media("renditions/big.mp4", content_type="video/mp4")

    return app


def static_app() -> Flask:
    """gunicorn 'bench.range_serve:static_app()': the same file as a static file."""
    return Flask(__name__, static_folder=os.environ["RANGE_BENCH_STATIC"], static_url_path="/static")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def check_ranges(url: str, data: bytes) -> None:
    """A few ranges compared byte for byte before any load."""
    size = len(data)
    for first, last in ((0, 99), (size - 1000, size - 1), (12_345_678, 13_345_677)):
        request = urllib.request.Request(url, headers={"Range": f"bytes={first}-{last}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            assert response.status == 206, response.status
            assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
            assert body == data[first:last + 1], f"wrong bytes for {first}-{last} from {url}"


def run_wrk(url: str, *, span: int, size: int, connections: int, duration: int,
            script: Path) -> dict:
    env = dict(os.environ, RANGE_BENCH_SIZE=str(size), RANGE_BENCH_SPAN=str(span))
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
                           "-s", str(script), url], capture_output=True, text=True, env=env,
                          check=True)
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "mbps": rps * span / 1e6, "p50": p50, "p99": p99,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket": socket_errors.group(1) if socket_errors else ""}


def start_gunicorn(target: str, port: int, env: dict) -> subprocess.Popen:
    bindir = Path(sys.executable).parent
    return subprocess.Popen(
        [str(bindir / "gunicorn"), "--worker-class", "gthread", "--workers", "2", "--threads", "8",
         "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
         "--chdir", str(Path(__file__).resolve().parent.parent), target],
        env=env, start_new_session=True)


def start_nginx(folder: Path, port: int) -> subprocess.Popen | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        return None
    conf = folder / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 2; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; keepalive_requests 100000;
  client_body_temp_path {folder}/nb; proxy_temp_path {folder}/np; fastcgi_temp_path {folder}/nf;
  uwsgi_temp_path {folder}/nu; scgi_temp_path {folder}/ns;
  server {{ listen 127.0.0.1:{port}; location /static/ {{ alias {folder}/static/; }} }}
}}
""")
    return subprocess.Popen([binary, "-c", str(conf), "-p", str(folder)], start_new_session=True)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--ranges", default="65536,1048576", help="range sizes in bytes")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed")

    folder = Path(tempfile.mkdtemp(prefix="lms-bench-ranges-"))
    folder.chmod(0o755)  # nginx's workers run as another user
    (folder / "media" / "renditions").mkdir(parents=True)
    (folder / "static").mkdir()
    big = folder / "media" / "renditions" / "big.mp4"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for number in range(args.size_mb):
            fh.write(number.to_bytes(4, "big") + block[4:])
    os.link(big, folder / "static" / "big.mp4")  # the very same bytes and page cache
    data = big.read_bytes()
    size = len(data)
    script = folder / "ranges.lua"
    script.write_text(LUA)

    env = dict(os.environ, RANGE_BENCH_MEDIA=str(folder / "media"),
               RANGE_BENCH_STATIC=str(folder / "static"))
    ports = {"media": free_port(), "static": free_port(), "nginx": free_port()}
    servers = {
        "media": start_gunicorn("bench.range_serve:media_app()", ports["media"], env),
        "static": start_gunicorn("bench.range_serve:static_app()", ports["static"], env),
        "nginx": start_nginx(folder, ports["nginx"]),
    }
    urls = {"media": f"http://127.0.0.1:{ports['media']}/lessons/1/video",
            "static": f"http://127.0.0.1:{ports['static']}/static/big.mp4",
            "nginx": f"http://127.0.0.1:{ports['nginx']}/static/big.mp4"}
    if servers["nginx"] is None:
        del servers["nginx"], urls["nginx"]
    try:
        for name, url in urls.items():
            wait_for(url)
            check_ranges(url, data)
        print(f"file: {size / 2**20:.0f} MiB; every server answered test ranges byte-exactly; "
              f"wrk -t2 -c{args.connections} -d{args.duration}s, random ranges; {os.cpu_count()} cores")
        results: dict[tuple[str, int], dict] = {}
        spans = [int(x) for x in args.ranges.split(",")]
        for span in spans:
            order = list(urls)
            for round_ in range(2):  # two rounds in swapped order; the better of the two counts
                for name in (order if round_ == 0 else list(reversed(order))):
                    result = run_wrk(urls[name], span=span, size=size, connections=args.connections,
                                     duration=args.duration, script=script)
                    best = results.get((name, span))
                    if best is None or result["rps"] > best["rps"]:
                        results[(name, span)] = result
        print(f"\n{'range':>9} {'server':<8} {'req/s':>9} {'MB/s':>8} {'p50':>9} {'p99':>9}  errors")
        for span in spans:
            for name in urls:
                r = results[(name, span)]
                print(f"{span:>9} {name:<8} {r['rps']:>9.0f} {r['mbps']:>8.0f} {r['p50']:>9} "
                      f"{r['p99']:>9}  {r['non2xx']} {r['socket']}")
            ratio = results[("media", span)]["rps"] / results[("static", span)]["rps"]
            line = f"{span:>9} send_media / Flask static: {ratio:.2f}"
            if "nginx" in urls:
                line += f"; send_media / nginx: {results[('media', span)]['rps'] / results[('nginx', span)]['rps']:.2f}"
            print(line)
    finally:
        for proc in servers.values():
            stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
