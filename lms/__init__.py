"""滨海新区工会干部教育培训在线学习平台."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from lms import courses, media, search, web  # noqa: F401  (models)
from lms.accounts import admin_views
from lms.accounts import api as account_api
from lms.accounts import import_views
from lms.accounts import imports as account_imports  # noqa: F401  (registers its jobs)
from lms.accounts import jobs as account_jobs  # noqa: F401  (registers its jobs)
from lms.media import jobs as media_jobs  # noqa: F401
from lms.search import jobs as search_jobs  # noqa: F401
from lms.accounts import views as account_views
from lms.api import init_api, register_api_blueprint
from lms.config import ROOT, Config
from lms.db import configure_sqlite
from lms import extensions as ext
from lms.courses import api as course_api
from lms.courses import teach_views
from lms.courses import views as course_views
from lms.media import views as media_views
from lms.org import views as org_views


def create_app(config: Config | None = None) -> Flask:
    """Build the application. No side effects beyond the instance folders it needs."""
    config = config or Config()
    app = Flask(__name__, static_folder=str(ROOT / "static"), static_url_path="/static",
                instance_path=str(config.INSTANCE_DIR), template_folder="web/templates")
    app.config.from_object(config)
    for folder in (config.INSTANCE_DIR, config.MEDIA_DIR, config.INDEX_DIR, config.IMPORT_DIR):
        Path(folder).mkdir(parents=True, exist_ok=True)
    proxies = config.PROXY_COUNT
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    ext.db.init_app(app)
    with app.app_context():
        if ext.db.engine.dialect.name == "sqlite":
            configure_sqlite(ext.db.engine)
    ext.migrate.init_app(app, ext.db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    ext.login_manager.init_app(app)
    ext.csrf.init_app(app)
    ext.api.init_app(app)

    web.init_app(app)
    init_api(app)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(import_views.bp)
    app.register_blueprint(org_views.bp)
    app.register_blueprint(media_views.bp)
    app.register_blueprint(course_views.bp)
    app.register_blueprint(teach_views.bp)
    register_api_blueprint(account_api.blp)
    register_api_blueprint(course_api.blp)
    return app
