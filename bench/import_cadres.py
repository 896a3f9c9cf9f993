"""Benchmark and sample generator: a workbook of N cadres, previewed and imported as the worker
does it (the "accounts.import_preview" and "accounts.import_commit" jobs through run_pending).

    .venv/bin/python bench/import_cadres.py                  # 10,000 rows on a throwaway SQLite
    .venv/bin/python bench/import_cadres.py --rows 2000 --database-url postgresql+psycopg://...
    .venv/bin/python bench/import_cadres.py --write sample.xlsx --rows 50   # only write a sample

A --database-url must name an empty database: the migrations create the tables there.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from lms import create_app  # noqa: E402
from lms.accounts import imports  # noqa: E402
from lms.accounts.audit import Origin  # noqa: E402
from lms.accounts.models import CadreImport, ImportStatus, Role, RoleGrant, User  # noqa: E402
from lms.accounts.services import UserFilter, hash_password  # noqa: E402
from lms.db import utcnow  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.jobs import run_pending  # noqa: E402
from lms.org.models import UnitKind  # noqa: E402
from lms.org.services import create_unit  # noqa: E402

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"]
POSITIONS = ["工会主席", "工会副主席", "工会委员", "经审委员", "女职工委员", "工会干事"]
UNITS = [f"滨海第{i}制造有限公司工会" for i in range(1, 21)]


def sample_workbook(rows: int, units: list[str] = UNITS, *, seed: int = 2026) -> bytes:
    """A filled-in import workbook of `rows` distinct cadres (phones 150xxxxxxxx)."""
    rng = random.Random(seed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(imports.DATA_SHEET)
    ws.append([c.header for c in imports.COLUMNS])
    for i in range(rows):
        ws.append([rng.choice(SURNAMES) + rng.choice(GIVEN), f"150{i:08d}", units[i % len(units)],
                   rng.choice(POSITIONS), "专职" if rng.random() < 0.2 else "兼职",
                   rng.choice(["非公", "非公", "非公", "国有", "机关事业", "其他"]),
                   rng.choice(["男", "女"]), None, None, "汉族", "本科", "群众"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=imports.MAX_ROWS)
    parser.add_argument("--database-url")
    parser.add_argument("--write", help="only write a sample workbook to this path")
    args = parser.parse_args()

    started = time.perf_counter()
    data = sample_workbook(args.rows)
    generated = time.perf_counter() - started
    if args.write:
        Path(args.write).write_bytes(data)
        print(f"wrote {args.write}: {args.rows} rows, {len(data) / 1024:.0f} KiB")
        return

    workdir = Path(tempfile.mkdtemp(prefix="lms-bench-import-"))
    os.environ["LMS_INSTANCE_DIR"] = str(workdir)
    os.environ.setdefault("LMS_SECRET_KEY", "bench")
    os.environ["LMS_DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'bench.db'}"

    app = create_app()
    with app.app_context():
        upgrade()
        district = create_unit(name="滨海新区总工会", kind=UnitKind.DISTRICT, parent_id=None)
        zone = create_unit(name="开发区总工会", kind=UnitKind.ZONE, parent_id=district.id)
        for name in UNITS:
            create_unit(name=name, kind=UnitKind.GRASSROOTS, parent_id=zone.id)
        admin = User(name="基准管理员", username="benchadmin", unit=district,
                     password_hash=hash_password("Bench2026x"))
        admin.role_grants.append(RoleGrant(role=Role.PLATFORM_ADMIN))
        db.session.add(admin)
        db.session.commit()

        origin = Origin(actor=admin, ip=None, now=utcnow())
        imp = imports.start_import(origin, io.BytesIO(data), "bench.xlsx",
                                   import_dir=app.config["IMPORT_DIR"])
        db.session.commit()
        import_id = imp.id
        started = time.perf_counter()
        run_pending(utcnow)
        preview = time.perf_counter() - started
        imp = db.session.get(CadreImport, import_id)
        assert imp.status is ImportStatus.PREVIEW and imp.error_rows == 0, imp.file_error

        started = time.perf_counter()
        imports.confirm_import(Origin(actor=db.session.get(User, admin.id), ip=None, now=utcnow()),
                               imp, "Chushi2026x")
        db.session.commit()
        confirm = time.perf_counter() - started
        started = time.perf_counter()
        run_pending(utcnow)
        commit = time.perf_counter() - started
        imp = db.session.get(CadreImport, import_id)
        assert imp.status is ImportStatus.DONE, imp.file_error
        imported = imp.imported_count
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))

        started = time.perf_counter()
        out = io.BytesIO()
        count = imports.export_cadres(Origin(actor=db.session.get(User, admin.id), ip=None,
                                             now=utcnow()), UserFilter(), out)
        db.session.commit()
        export = time.perf_counter() - started

    print(f"\ndatabase: {app.config['SQLALCHEMY_DATABASE_URI'].split('://')[0]}; rows: {args.rows}")
    print(f"generate workbook:   {generated:6.2f} s ({len(data) / 1024:.0f} KiB)")
    print(f"preview job:         {preview:6.2f} s (read, check, store the rows)")
    print(f"confirm (1 hash):    {confirm:6.2f} s")
    print(f"commit job:          {commit:6.2f} s ({imported} accounts; {users} users now)")
    print(f"export:              {export:6.2f} s ({count} rows, {len(out.getvalue()) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
