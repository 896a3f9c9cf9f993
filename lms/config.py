"""Settings, read only from LMS_* environment variables, with safe defaults."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _secret_key(instance_dir: Path) -> str:
    """LMS_SECRET_KEY, else a key generated on first run and kept in the instance folder."""
    given = _env("LMS_SECRET_KEY")
    if given:
        return given
    key_file = instance_dir / "secret_key"
    if not key_file.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


class Config:
    """Built from the environment at app creation, so tests and processes can differ."""

    def __init__(self) -> None:
        self.INSTANCE_DIR = Path(_env("LMS_INSTANCE_DIR", str(ROOT / "instance")))
        self.SQLALCHEMY_DATABASE_URI = _env(
            "LMS_DATABASE_URL", f"sqlite:///{self.INSTANCE_DIR / 'lms.db'}")
        self.SECRET_KEY = _secret_key(self.INSTANCE_DIR)
        self.MEDIA_DIR = Path(_env("LMS_MEDIA_DIR", str(self.INSTANCE_DIR / "media")))
        self.INDEX_DIR = Path(_env("LMS_INDEX_DIR", str(self.INSTANCE_DIR / "index")))
        self.IMPORT_DIR = Path(_env("LMS_IMPORT_DIR", str(self.INSTANCE_DIR / "imports")))
        self.PORT = _int("LMS_PORT", 5000)
        #: how many reverse proxies (nginx) stand in front, for the client address
        self.PROXY_COUNT = _int("LMS_PROXY_COUNT", 0)
        self.DEBUG_SERVER = _env("LMS_DEBUG", "0") == "1"
        self.WEB_WORKERS = _int("LMS_WEB_WORKERS", 2)
        self.WEB_THREADS = _int("LMS_WEB_THREADS", 8)
        self.DEMO_PASSWORD = _env("LMS_DEMO_PASSWORD", "Binhai@2026")
        #: idle time after which a browser session ends
        self.PERMANENT_SESSION_LIFETIME = timedelta(minutes=_int("LMS_SESSION_IDLE_MINUTES", 30))
        self.SESSION_REFRESH_EACH_REQUEST = True
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _env("LMS_SECURE_COOKIES", "0") == "1"
        self.SESSION_COOKIE_NAME = "lms_session"
        self.TOKEN_TTL = timedelta(days=_int("LMS_TOKEN_TTL_DAYS", 30))
        self.MAX_CONTENT_LENGTH = _int("LMS_MAX_UPLOAD_MB", 20) * 1024 * 1024
        # media pipeline
        #: ffmpeg binary: LMS_FFMPEG, else ffmpeg on PATH, else imageio-ffmpeg's
        self.FFMPEG = _env("LMS_FFMPEG")
        self.MEDIA_MAX_BYTES = _int("LMS_MEDIA_MAX_MB", 4096) * 1024 * 1024
        self.MEDIA_MAX_SECONDS = _int("LMS_MEDIA_MAX_SECONDS", 4 * 3600)
        self.MEDIA_MAX_PIXELS = _int("LMS_MEDIA_MAX_PIXELS", 8192 * 8192)
        #: wall-time limit of one ffmpeg run, in seconds
        self.TRANSCODE_TIMEOUT = _int("LMS_TRANSCODE_TIMEOUT", 6 * 3600)
        #: behind nginx: internal location that maps to LMS_MEDIA_DIR (X-Accel-Redirect)
        self.X_ACCEL_PREFIX = _env("LMS_X_ACCEL_PREFIX")
        #: hours an unfinished upload is kept
        self.UPLOAD_EXPIRY_HOURS = _int("LMS_UPLOAD_EXPIRY_HOURS", 48)
        self.WTF_CSRF_TIME_LIMIT = None  # the session's own idle expiry bounds the token
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        if not self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            # one pooled connection per web thread, so that load never opens new backends
            self.SQLALCHEMY_ENGINE_OPTIONS.update(pool_size=self.WEB_THREADS, max_overflow=4)
        self.TESTING = False
        # flask-smorest / OpenAPI
        self.API_TITLE = "滨海新区工会干部教育培训在线学习平台 API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"


class TestConfig(Config):
    def __init__(self, database_url: str, instance_dir: Path) -> None:
        os.environ.setdefault("LMS_SECRET_KEY", "test-secret-key")
        os.environ["LMS_INSTANCE_DIR"] = str(instance_dir)
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = database_url
        self.MEDIA_DIR = instance_dir / "media"
        self.INDEX_DIR = instance_dir / "index"
        self.IMPORT_DIR = instance_dir / "imports"
        self.TESTING = True
        self.DEMO_PASSWORD = "Test@2026pass"
