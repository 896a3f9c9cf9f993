"""Search benchmark: indexing rate and query latency of the Whoosh indexes (jieba words plus
character n-grams) against a plain SQL LIKE over the same texts in SQLite, in the same run.

    .venv/bin/python bench/search.py [--docs 5000] [--queries 300] [--seed 7]

Generates Chinese documents on union work (title, a body of a few sentences, knowledge-point
tags, a module facet), then measures:
  * rebuild (full index build from the loader) and tail (change log → index) in documents/s;
  * query latency p50/p95 for 1-, 2-, 4-character and two-word queries, with and without
    highlighting, and the same queries as SQL LIKE (every term in title, body or tags) with
    the number of results of each.
Everything lives in a temporary folder removed at the end.
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jieba  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from lms import create_app  # noqa: E402
from lms.config import TestConfig  # noqa: E402
from lms.db import write_intent  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.search import services as search  # noqa: E402

SUBJECTS = ["工会", "职工", "用人单位", "基层工会", "工会委员会", "劳动者", "企业", "职工代表大会",
            "工会会员", "劳动争议调解委员会", "上级工会", "女职工委员会", "工会经费审查委员会"]
VERBS = ["依法维护", "组织开展", "协商签订", "监督检查", "及时调解", "听取意见", "民主选举",
         "如实报告", "审查审计", "参与制定", "定期公开", "宣传教育"]
OBJECTS = ["劳动合同", "集体合同", "工资专项集体合同", "劳动安全卫生", "职工合法权益", "工会经费",
           "劳动争议", "女职工特殊保护", "社会保险", "工作时间和休息休假", "职业技能培训",
           "厂务公开", "民主管理", "困难职工帮扶", "农民工工资支付", "新就业形态劳动者权益",
           "死锁问题", "工会法有关规定", "集体协商要约", "劳动定额标准"]
TAILS = ["，应当符合法律规定。", "，不得损害职工利益。", "，由双方协商确定。", "，并向职工公布。",
         "，接受会员监督。", "，应当提前三十日书面通知。", "，报上级工会备案。", "。"]
TOPICS = ["工会法", "工会章程", "劳动法", "劳动合同法", "工会财务", "经费审计", "集体协商",
          "劳动争议调解", "工运史", "职工权益", "女职工保护", "安全生产"]
MODULES = ["theory", "party", "ability", "update"]
TITLE_TAILS = ["工作", "制度", "实务", "要点", "问题研究", "若干思考", "案例"]
HAN = re.compile(r"^[\u4e00-\u9fff]+$")


class Vocabulary:
    """Words with jieba's dictionary frequencies (Chinese only, 2–4 characters), so that the
    texts and queries have the term statistics of real Chinese rather than of a short list."""

    def __init__(self) -> None:
        jieba.dt.initialize()
        pairs = [(w, f) for w, f in jieba.dt.FREQ.items() if f > 0 and 2 <= len(w) <= 4
                 and HAN.match(w)]
        self.words = [w for w, _ in pairs]
        self.cum = list(itertools.accumulate(f for _, f in pairs))
        self.by_len = {n: [(w, f) for w, f in pairs if len(w) == n and f >= 50] for n in (2, 4)}

    def sample(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)

    def common(self, rng: random.Random, length: int) -> str:
        words = self.by_len[length]
        return rng.choices([w for w, _ in words], weights=[f for _, f in words])[0]


def sentence(rng: random.Random, vocab: Vocabulary) -> str:
    """Half union prose, half dictionary words strung together."""
    if rng.random() < 0.5:
        return rng.choice(SUBJECTS) + rng.choice(VERBS) + rng.choice(OBJECTS) + rng.choice(TAILS)
    return "".join(vocab.sample(rng, rng.randint(5, 9))) + rng.choice("，。；")


def make_docs(n: int, rng: random.Random, vocab: Vocabulary) -> dict[int, search.Document]:
    docs = {}
    for i in range(1, n + 1):
        title = rng.choice(OBJECTS) + "".join(vocab.sample(rng, rng.randint(1, 2))) + rng.choice(TITLE_TAILS)
        body = "".join(sentence(rng, vocab) for _ in range(rng.randint(4, 8)))
        tags = rng.sample(TOPICS, rng.randint(1, 3))
        docs[i] = search.Document(title=title, body=body, tags=tags,
                                  filters={"module": rng.choice(MODULES),
                                           "difficulty": rng.randint(1, 5)})
    return docs


def make_queries(n: int, rng: random.Random, vocab: Vocabulary) -> list[tuple[str, str]]:
    """(kind, text): 1-, 2-, 4-character and two-word queries in equal shares, half from the
    union vocabulary and half common dictionary words."""
    union = OBJECTS + SUBJECTS + TOPICS
    chars = sorted({c for w in union for c in w})
    union2 = sorted({w[i:i + 2] for w in union for i in range(len(w) - 1)})
    union4 = sorted({w[:4] for w in union if len(w) >= 4})
    out = []
    for i in range(n):
        kind = ("1-char", "2-char", "4-char", "2 words")[i % 4]
        mine = rng.random() < 0.5
        if kind == "1-char":
            text = rng.choice(chars) if mine else vocab.common(rng, 2)[0]
        elif kind == "2-char":
            text = rng.choice(union2) if mine else vocab.common(rng, 2)
        elif kind == "4-char":
            text = rng.choice(union4) if mine else vocab.common(rng, 4)
        else:
            text = f"{rng.choice(union2) if mine else vocab.common(rng, 2)} {vocab.common(rng, 2)}"
        out.append((kind, text))
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="lms-bench-search-"))
    try:
        run(args, rng, tmp)
    finally:
        search.close_readers()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, rng: random.Random, tmp: Path) -> None:
    app = create_app(TestConfig(f"sqlite:///{tmp / 'bench.db'}", tmp / "instance"))
    vocab = Vocabulary()
    docs = make_docs(args.docs, rng, vocab)
    search.register_doc_type(search.DocType(
        name="benchdoc", filter_fields=("module", "difficulty"),
        load=lambda ids: {i: docs.get(i) for i in ids}, all_ids=lambda: list(docs)))
    queries = make_queries(args.queries, rng, vocab)
    chars = sum(len(d.title) + len(d.body) for d in docs.values())
    print(f"{len(docs)} documents, {chars / len(docs):.0f} characters each on average; "
          f"{len(queries)} queries; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    # baseline store: the same texts in an SQLite table, searched with LIKE
    like_db = sqlite3.connect(tmp / "like.db")
    like_db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT, tags TEXT)")
    like_db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)",
                        [(i, d.title, d.body, " ".join(d.tags)) for i, d in docs.items()])
    like_db.commit()

    with app.app_context(), write_intent(True):
        upgrade()
        # warm jieba's dictionary outside the timings
        search.query("benchdoc", "工会")

        started = time.perf_counter()
        search.rebuild("benchdoc")
        rebuild_s = time.perf_counter() - started

        # incremental: 1,000 changes through the change log, applied by tail
        changed = list(docs)[: min(1000, len(docs))]
        now = datetime.now(timezone.utc)
        for doc_id in changed:
            search.record_change("benchdoc", doc_id, now=now)
        db.session.commit()
        started = time.perf_counter()
        applied = search.tail(now)
        tail_s = time.perf_counter() - started

        print("\n== indexing")
        print(f"rebuild : {len(docs) / rebuild_s:8.0f} documents/s  ({rebuild_s:.1f} s)")
        print(f"tail    : {applied / tail_s:8.0f} documents/s  ({applied} changes, {tail_s:.1f} s)")

        def timed(fn):
            t0 = time.perf_counter()
            out = fn()
            return (time.perf_counter() - t0) * 1000, out

        rows = {}
        for label, fn in (
            ("whoosh", lambda q: search.query("benchdoc", q, highlight=False).total),
            ("whoosh+highlight", lambda q: search.query("benchdoc", q, highlight=True).total),
            ("sql like", lambda q: like_query(like_db, q)),
        ):
            for kind, text in queries:
                ms, total = timed(lambda: fn(text))
                rows.setdefault((label, kind), []).append((ms, total))
                rows.setdefault((label, "all"), []).append((ms, total))

    print("\n== queries (ms; results = mean number of matching documents)")
    print(f"{'engine':18} {'kind':8} {'p50':>7} {'p95':>7} {'results':>8}")
    kinds = ["1-char", "2-char", "4-char", "2 words", "all"]
    for label in ("whoosh", "whoosh+highlight", "sql like"):
        for kind in kinds:
            data = rows[(label, kind)]
            ms = [m for m, _ in data]
            print(f"{label:18} {kind:8} {pct(ms, 50):7.2f} {pct(ms, 95):7.2f} "
                  f"{statistics.mean(t for _, t in data):8.0f}")
    w = [m for m, _ in rows[("whoosh+highlight", "all")]]
    s = [m for m, _ in rows[("sql like", "all")]]
    print(f"\np95 ratio whoosh+highlight / sql like: {pct(w, 95) / pct(s, 95):.2f}")
    same = sum(1 for (a, b) in zip(rows[("whoosh", "all")], rows[("sql like", "all")])
               if a[1] >= b[1])
    print(f"queries where whoosh finds at least as many documents as LIKE: {same}/{len(queries)}"
          " (a term's bigrams must all occur, not necessarily next to each other)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def like_query(conn: sqlite3.Connection, text: str) -> int:
    """Every term in title, body or tags; count plus the first page, as a list page would."""
    terms = text.split()
    where = " AND ".join("(title LIKE ? OR body LIKE ? OR tags LIKE ?)" for _ in terms)
    params = [f"%{t}%" for t in terms for _ in range(3)]
    total = conn.execute(f"SELECT count(*) FROM docs WHERE {where}", params).fetchone()[0]
    conn.execute(f"SELECT id, title FROM docs WHERE {where} ORDER BY id LIMIT 20", params).fetchall()
    return total


if __name__ == "__main__":
    main()
