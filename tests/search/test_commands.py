"""`lms search rebuild` and `lms search status`."""
from __future__ import annotations

import pytest

from lms import search
from lms.cli import main
from lms.search import services

DOCS = {i: search.Document(title=f"工会法第{i}条", body="内容") for i in range(1, 31)}


@pytest.fixture(autouse=True)
def clidoc(app, tmp_path):
    search.register_doc_type(search.DocType(
        name="clidoc", filter_fields=(), load=lambda ids: {i: DOCS.get(i) for i in ids},
        all_ids=lambda: list(DOCS)))
    saved = app.config["INDEX_DIR"]
    app.config["INDEX_DIR"] = tmp_path / "index"
    yield
    services.close_readers()
    app.config["INDEX_DIR"] = saved
    services._DOC_TYPES.pop("clidoc", None)


def test_rebuild_with_progress_then_status(app, db):
    runner = app.test_cli_runner()
    status = runner.invoke(main, ["search", "status"])
    assert status.exit_code == 0, status.output
    assert "clidoc：尚未建立索引" in status.output

    result = runner.invoke(main, ["search", "rebuild", "--type", "clidoc"])
    assert result.exit_code == 0, result.output
    assert "重建索引" in result.output and "30/30" in result.output  # the progress bar
    assert "已重建 clidoc 的索引：30 篇文档" in result.output
    assert search.query("clidoc", "工会法").total == 30

    status = runner.invoke(main, ["search", "status"])
    assert "clidoc：索引中 30 篇文档，待处理变更 0 条。" in status.output
    assert services.cursor_name() in status.output


def test_rebuild_of_an_unknown_type_is_refused(app, db):
    result = app.test_cli_runner().invoke(main, ["search", "rebuild", "--type", "nope"])
    assert result.exit_code == 2 and "没有名为“nope”的索引类型" in result.output
