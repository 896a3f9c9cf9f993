#!/usr/bin/env python3
"""Catalogue benchmark: the signed-in course catalogue with 200 courses and 2,000 lessons.

It builds a throw-away data folder (SQLite, or --database-url), migrates it, loads the demo
district's units and accounts, generates the courses (4 modules, several topics, teaching forms
and instructors, 10 lessons each, some required for the demo learner) straight into the
database with their search index, starts the platform as in production (`lms run`: gunicorn
gthread workers plus the job worker), signs in the demo learner and loads, in turn, /healthz
(the baseline) and the catalogue pages: the first page, a module with the 必修/选修 filter, and
a keyword search. It reuses bench/http_load.py for the server, the sign-in and wrk, and prints
requests/s, latency percentiles and each figure as a share of /healthz in the same run.

    .venv/bin/python bench/catalogue.py --duration 10
    .venv/bin/python bench/catalogue.py --courses 200 --lessons-per-course 10 --rounds 3

Exit status: 0 when the measurement ran, 2 when the setup failed, 130 when interrupted.
This is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http_load as hl  # noqa: E402  (the foundation's HTTP benchmark: server, sign-in, wrk)

ROOT = hl.ROOT
LEARNER = hl.LEARNER

TOPICS = {
    "theory": ["工会法", "工会章程", "劳动法律法规", "工会基本理论"],
    "party": ["党的二十大精神", "党史学习教育", "理想信念", "党风廉政建设"],
    "capability": ["集体协商", "劳动争议调解", "职工代表大会", "会员发展", "经费管理"],
    "update": ["新就业形态", "安全生产", "数字工会", "政策解读"],
}
WORDS = ["工会", "职工", "权益", "协商", "调解", "安全", "法治", "民主管理", "劳动关系", "技能",
         "服务", "维权", "基层", "会员", "经费", "竞赛", "帮扶", "女职工", "新业态", "党建"]
INSTRUCTORS = ["刘芳", "赵立新", "孙海燕", "周建国", "马晓琳", "王明远", "陈思", "李卫东"]
FORMS = ["lecture", "case", "seminar", "experiential", "simulation"]


# ---------------------------------------------------------------- data (runs in a subprocess)

def populate(courses: int, lessons_per_course: int, password: str) -> None:
    """Units, accounts, and `courses` published courses of `lessons_per_course` lessons each,
    with their search documents indexed. Runs with LMS_* pointing at the bench's data folder,
    in the --populate subprocess: only that process imports the platform."""
    from decimal import Decimal

    from lms import create_app, search
    from lms.accounts.demo import load_accounts
    from lms.accounts.models import User
    from lms.courses.models import (Chapter, Course, CourseAudience, CourseModule, CourseStatus,
                                    Lesson, LessonKind, TeachingForm)
    from lms.db import write_intent
    from lms.extensions import db
    from lms.org.demo import load_units

    rng = random.Random(20261126)
    now = datetime.now(timezone.utc)
    app = create_app()
    with app.app_context(), write_intent(True):
        units = load_units()
        load_accounts(units, password=password, now=now)
        owner = db.session.query(User).filter_by(username="instructor").one()
        modules = list(CourseModule)
        year = now.astimezone(timezone(timedelta(hours=8))).year
        for i in range(courses):
            module = modules[i % len(modules)]
            topic = rng.choice(TOPICS[module.value])
            words = rng.sample(WORDS, 3)
            title = f"{topic}：{words[0]}与{words[1]}实务（第{i + 1}讲）"
            durations = [rng.randint(300, 1500) for _ in range(lessons_per_course)]
            course = Course(
                title=title, module=module, topic=topic,
                teaching_form=TeachingForm(FORMS[i % len(FORMS)]),
                instructor_name=INSTRUCTORS[i % len(INSTRUCTORS)], owner_id=owner.id,
                status=CourseStatus.PUBLISHED, published_at=now - timedelta(minutes=i),
                nominal_hours=Decimal(rng.choice(["1", "1.5", "2", "3"])),
                duration_seconds=sum(durations),
                summary_source=f"{words[2]}：本课程讲解{topic}的要点。",
                summary_html=f"<p>{words[2]}：本课程讲解{topic}的要点。</p>")
            per_chapter = max(1, lessons_per_course // 5)
            for c in range(0, lessons_per_course, per_chapter):
                chapter = Chapter(title=f"第{c // per_chapter + 1}章", position=c // per_chapter)
                course.chapters.append(chapter)
                for j in range(c, min(c + per_chapter, lessons_per_course)):
                    chapter.lessons.append(Lesson(
                        course=course, title=f"{rng.choice(WORDS)}专题 {j + 1}",
                        kind=LessonKind.DOCUMENT, position=j - c, published=True,
                        body_source="正文", body_html=f"<p>{rng.choice(WORDS)}的正文。</p>",
                        duration_seconds=durations[j]))
            if i % 10 == 0:
                course.audiences.append(CourseAudience(year=year))
            db.session.add(course)
            db.session.flush()
            search.record_change("course", course.id, now=now)
        db.session.commit()
        indexed = search.tail(now)
        db.session.commit()
        total_lessons = db.session.query(Lesson).count()
        print(f"generated {courses} courses, {total_lessons} lessons; indexed {indexed} documents")


# ---------------------------------------------------------------- the benchmark

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Catalogue page benchmark (200 courses, 2,000 lessons).")
    parser.add_argument("--duration", type=float, default=10, help="seconds per endpoint (10)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=float, default=2, help="unreported seconds per endpoint (2)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds, median reported (1)")
    parser.add_argument("--courses", type=int, default=200)
    parser.add_argument("--lessons-per-course", type=int, default=10)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL (created if missing; default SQLite in the temp dir)")
    parser.add_argument("--web-workers", type=int, default=None)
    parser.add_argument("--web-threads", type=int, default=None)
    parser.add_argument("--python-load", action="store_true", help="Python load generator, not wrk")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--populate", nargs=3, metavar=("COURSES", "LESSONS", "PASSWORD"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.populate:
        populate(int(args.populate[0]), int(args.populate[1]), args.populate[2])
        return 0
    args.threads = min(args.threads, args.connections)

    def _terminate(signum, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _terminate)

    tmp = Path(tempfile.mkdtemp(prefix="lms-bench-catalogue-"))
    server = None
    try:
        bindir = hl.venv_bin()
        wrk = None if args.python_load else shutil.which("wrk")
        port = hl.free_port()
        db_label = "SQLite (temp dir, WAL)"
        if args.database_url:
            db_label = "PostgreSQL " + hl.prepare_postgres(args.database_url)
        env = hl.build_env(tmp, args, port)
        hl.say(f"date:        {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
        hl.say(f"machine:     {platform.node()} · {os.cpu_count()} CPUs · Python "
               f"{platform.python_version()} · load average {os.getloadavg()[0]:.2f}")
        hl.say(f"database:    {db_label}")
        hl.say(f"server:      lms run (gunicorn gthread, workers {env.get('LMS_WEB_WORKERS', '2 (default)')}, "
               f"threads {env.get('LMS_WEB_THREADS', '8 (default)')}) on {hl.HOST}:{port}")
        hl.say(f"load:        {'wrk ' + wrk if wrk else 'Python load generator'}, {args.threads} threads, "
               f"{args.connections} connections, {args.duration:g} s per endpoint after "
               f"{args.warmup:g} s warm-up" + (f", {args.rounds} rounds (median)" if args.rounds > 1 else ""))
        hl.say(f"temp dir:    {tmp}")
        hl.say("migrating the database (lms db upgrade)…")
        hl.run_lms(bindir, env, "db", "upgrade")
        hl.say(f"generating {args.courses} courses × {args.lessons_per_course} lessons…")
        started = time.monotonic()
        proc = subprocess.run([str(bindir / "python"), str(Path(__file__).resolve()), "--populate",
                               str(args.courses), str(args.lessons_per_course),
                               env["LMS_DEMO_PASSWORD"]],
                              env=env, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise hl.SetupError(f"generating the courses failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
        hl.say(f"  {proc.stdout.strip().splitlines()[-1]} ({time.monotonic() - started:.1f} s)")

        hl.say("starting server (lms run)…")
        server = hl.Server(bindir, env, tmp / "server.log", port)
        server.start()
        server.wait_healthy()
        cookie = hl.sign_in_page(port, LEARNER, env["LMS_DEMO_PASSWORD"])
        headers = {"Cookie": cookie}
        keyword = "协商"
        endpoints = [
            ("GET /healthz", "/healthz", {}),
            ("GET /courses/ (page 1)", "/courses/", headers),
            ("GET /courses/?module&required", "/courses/?module=capability&required=elective", headers),
            (f"GET /courses/?q={keyword}", "/courses/?q=" + quote(keyword), headers),
        ]
        for name, path, hdrs in endpoints[1:]:
            status, _, body = hl.request("GET", path, port, headers=hdrs)
            text = body.decode("utf-8", "replace")
            if status != 200 or "course-card" not in text:
                raise hl.SetupError(f"{path} is not a catalogue page with courses ({status})")
        lua = tmp / "bench.lua"
        lua.write_text(hl.WRK_LUA)

        def load(path, hdrs, seconds):
            if wrk:
                return hl.run_wrk(wrk, lua, port, path, hdrs, seconds, args.connections, args.threads)
            return hl.run_python(port, path, hdrs, seconds, args.connections, args.threads)

        results = {name: [] for name, _, _ in endpoints}
        for rnd in range(1, args.rounds + 1):
            if args.rounds > 1:
                hl.say(f"round {rnd} of {args.rounds}")
            for name, path, hdrs in endpoints:
                if args.warmup > 0:
                    load(path, hdrs, args.warmup)
                hl.say(f"loading {path} for {args.duration:g} s…")
                result = hl.measured(load, server, None, path, hdrs, args.duration)
                hl.say(f"  {result.rps:.0f} req/s, p95 {result.p95_ms:.1f} ms")
                results[name].append(result)
                if server.proc.poll() is not None:
                    raise hl.SetupError(f"the server died under load:\n{server.log_tail()}")
        hl.check_home(port, cookie)  # the session held: the figures are signed-in pages
        rows = [(name, hl.median_result(results[name])) for name, _, _ in endpoints]
        hl.print_table(rows, hl.shares(results, endpoints[0][0]), hl.median_cpu(results))
        return 0
    except hl.SetupError as exc:
        hl.say(f"setup failed: {exc}")
        return 2
    except KeyboardInterrupt:
        hl.say("interrupted")
        return 130
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            hl.say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
