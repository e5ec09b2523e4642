"""`make prod` (scripts/prod.sh) refuses what cannot work before starting anything, keeps its
generated secrets private and stable, and the shipped nginx template renders to a valid config.

Nothing here starts the stack: the integration tier (inbox/tests/integration/test_stack_websocket.py)
runs the ASGI server and nginx for real.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD = ROOT / "scripts" / "prod.sh"
RENDER = ROOT / "deploy" / "nginx" / "render-local"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
SECRETS = ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FACEBOOK_APP_SECRET", "FACEBOOK_VERIFY_TOKEN", "METRICS_TOKEN")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "FACEBOOK_APP_ID", "PROD_SANDBOX", *SECRETS}}
    return {**env, "PROD_VAR": str(tmp_path / "var"), **extra}


def _run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROD)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("extra", "message"), [
    ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "DATABASE_URL is not set"),
    ({"DATABASE_URL": "sqlite:///db.sqlite3", "REDIS_URL": "redis://127.0.0.1:6379/0"},
     "DATABASE_URL must point at PostgreSQL"),
    ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"}, "REDIS_URL is not set"),
])
def test_refuses_without_postgresql_and_redis(tmp_path, extra, message):
    result = _run(_env(tmp_path, **extra))
    assert result.returncode == 1
    assert message in result.stderr


def test_refuses_a_real_meta_app_without_its_secret(tmp_path):
    # A generated secret would sign nothing Meta sends: say so instead of starting a deaf stack.
    result = _run(_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
                       REDIS_URL="redis://127.0.0.1:6379/0", FACEBOOK_APP_ID="1234"))
    assert result.returncode == 1
    assert "FACEBOOK_APP_SECRET is not" in result.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_generated_secrets_are_private_and_reused_and_a_taken_port_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = _env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
                   REDIS_URL="redis://127.0.0.1:6379/0", PROD_PORT=port)
        first = _run(env)
        env_file = tmp_path / "var" / "prod.env"
        saved = env_file.read_text()
        second = _run(env)
    for result in (first, second):
        assert result.returncode == 1
        assert f"port {port} is already in use" in result.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert sorted(line.split("=", 1)[0] for line in saved.splitlines()) == sorted(SECRETS)
    assert env_file.read_text() == saved  # the second run reused them
    secret = dict(line.split("=", 1) for line in saved.splitlines())["DJANGO_SECRET_KEY"]
    assert secret not in first.stdout + first.stderr


def _render_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SERVER_NAME": "inbox.example.com", "HTTPS_LISTEN": "127.0.0.1:18443", "HTTP_LISTEN": "127.0.0.1:18480",
        "HTTPS_REDIRECT_SUFFIX": ":18443", "TLS_CERT": str(tmp_path / "tls.crt"), "TLS_KEY": str(tmp_path / "tls.key"),
        "STATIC_ROOT": "/srv/social-inbox/staticfiles", "WEB_UPSTREAM": "127.0.0.1:8001",
        "ASGI_UPSTREAM": "127.0.0.1:8002",
    }


def test_the_nginx_template_routes_by_path(tmp_path):
    out = tmp_path / "nginx"
    out.mkdir()
    subprocess.run([str(RENDER), str(out)], env=_render_env(tmp_path), check=True, timeout=30)
    conf = (out / "social-inbox.conf").read_text()
    assert "${" not in conf.replace("${NAME}", "")  # every placeholder filled
    # nginx's own variables are left for nginx.
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "return 301 https://$host:18443$request_uri;" in conf
    assert "server 127.0.0.1:8002;" in conf and "server 127.0.0.1:8001;" in conf
    assert "alias /srv/social-inbox/staticfiles/;" in conf
    assert "client_max_body_size 10m;" in conf
    media = conf.split("location /media/", 1)[1].split("}", 1)[0]
    assert "return 404;" in media


def test_render_refuses_a_missing_variable(tmp_path):
    env = _render_env(tmp_path)
    del env["ASGI_UPSTREAM"]
    result = subprocess.run([str(RENDER), str(tmp_path)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "ASGI_UPSTREAM is not set" in result.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_the_rendered_config_passes_nginx_t(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(tmp_path / "tls.key"), "-out", str(tmp_path / "tls.crt")],
        check=True, capture_output=True, timeout=60,
    )
    out = tmp_path / "nginx"
    out.mkdir()
    subprocess.run([str(RENDER), str(out)], env=_render_env(tmp_path), check=True, timeout=30)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(out), "-c", str(out / "nginx.conf"), "-e", str(out / "error.log")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
