"""The production profile (AIP_ENV=production) and the signing key, each checked in a fresh process
started with the environment a deployment would give it."""

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from aiplatform.credentials import PUBLISHED_KEYS

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(50)
PUBLISHED_KEY = next(iter(PUBLISHED_KEYS))
# What a process of this suite has that a deployment sets for itself.
PROFILE_VARIABLES = {"AIP_ENV", "DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "CACHE_URL", "SECURE_PROXY_SSL_HEADER",
                     "SECURE_SSL_REDIRECT", "SECURE_HSTS_PRELOAD", "READYZ_DETAILS"}


@pytest.fixture
def production(tmp_path, settings):
    """The environment of a production deployment: a strong key, Redis for the counters, its host."""
    return {
        "AIP_VAR_DIR": str(tmp_path),
        "AIP_ENV": "production",
        "SECRET_KEY": STRONG_KEY,
        "CACHE_URL": settings.CELERY_BROKER_URL,
        "ALLOWED_HOSTS": "api.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://api.example.com",
    }


def run(args, env):
    base = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**base, "DJANGO_SETTINGS_MODULE": "aiplatform.settings", **env})


def manage(*args, env):
    return run([sys.executable, "manage.py", *args], env)


def python(script, env):
    """Runs `script` after django.setup() and returns the JSON it printed last."""
    result = run([sys.executable, "-c", "import django, json; django.setup()\n" + script], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_with_the_production_profile(production):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_without_it(tmp_path):
    """The same check fails the development profile: the test above is not passing by accident."""
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    env={"AIP_VAR_DIR": str(tmp_path), "SECRET_KEY": STRONG_KEY})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


@pytest.mark.parametrize(("change", "message"), [
    ({"DEBUG": "true"}, "refuses DEBUG=true"),
    ({"SECRET_KEY": ""}, "No signing key: set SECRET_KEY"),
    ({"SECRET_KEY": PUBLISHED_KEY}, "is the development key published in this project's source"),
    ({"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "Django's generated development keys"),
    ({"SECRET_KEY": "short-but-secret"}, "is too short"),
    ({"CACHE_URL": ""}, "needs CACHE_URL"),
    ({"AIP_ENV": "prod"}, "set it to 'development' (the default) or 'production'"),
])
def test_production_refuses_to_start(production, change, message):
    result = manage("check", env={**production, **change})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_takes_its_key_from_a_file_and_never_makes_one(production, tmp_path):
    key_file = tmp_path / "mounted" / "secret-key"
    key_file.parent.mkdir()
    key_file.write_text(STRONG_KEY + "\n")
    env = {**production, "SECRET_KEY": "", "SECRET_KEY_FILE": str(key_file)}
    assert python("from django.conf import settings; print(json.dumps(settings.SECRET_KEY))", env) == STRONG_KEY
    # Without SECRET_KEY or SECRET_KEY_FILE it refuses, and writes no key of its own.
    assert manage("check", env={**production, "SECRET_KEY": ""}).returncode != 0
    assert not (tmp_path / "secret-key").exists()


def test_development_makes_a_private_key_once_and_every_process_shares_it(tmp_path):
    env = {"AIP_VAR_DIR": str(tmp_path)}
    first = python("from django.conf import settings; print(json.dumps(settings.SECRET_KEY))", env)
    key_file = tmp_path / "secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == first and len(first) >= 50 and first not in PUBLISHED_KEYS
    key_file.chmod(0o644)
    assert python("from django.conf import settings; print(json.dumps(settings.SECRET_KEY))", env) == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # narrowed again


def test_development_refuses_a_published_key_unless_debugging(tmp_path):
    env = {"AIP_VAR_DIR": str(tmp_path), "SECRET_KEY": PUBLISHED_KEY}
    refused = manage("check", env=env)
    assert refused.returncode != 0 and "published in this project's source" in refused.stderr
    assert manage("check", env={**env, "DEBUG": "true"}).returncode == 0


@pytest.mark.django_db(transaction=True)
def test_production_serves_https_only(production, django_user_model):
    """Plain HTTP is redirected (probes excepted), HTTPS answers carry HSTS and the content security
    policy, and the session and CSRF cookies are Secure and HttpOnly."""
    django_user_model.objects.create_user("operator", password="right-pass-word-1", is_staff=True)
    database = connection.settings_dict
    env = {**production, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"}
    answer = python(
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='api.example.com')\n"
        "plain = c.get('/api/v1/me/')\n"
        "probe = c.get('/healthz')\n"
        "proxied = c.get('/api/v1/me/', HTTP_X_FORWARDED_PROTO='https')\n"
        "docs = c.get('/api/docs/', secure=True)\n"
        "form = c.get('/admin/login/', secure=True)\n"
        "login = c.post('/admin/login/', {'username': 'operator', 'password': 'right-pass-word-1',\n"
        "               'csrfmiddlewaretoken': form.cookies['csrftoken'].value}, secure=True)\n"
        "cookie = lambda r, name: {'secure': r.cookies[name]['secure'], 'httponly': r.cookies[name]['httponly']}\n"
        "print(json.dumps({'plain': [plain.status_code, plain.get('Location')], 'probe': probe.status_code,\n"
        "  'proxied': proxied.status_code, 'hsts': docs.get('Strict-Transport-Security'),\n"
        "  'csp': docs.get('Content-Security-Policy'), 'login': login.status_code,\n"
        "  'csrf_cookie': cookie(form, 'csrftoken'), 'session_cookie': cookie(login, 'sessionid')}))\n",
        env,
    )
    assert answer["plain"] == [301, "https://api.example.com/api/v1/me/"]
    assert answer["probe"] == 200
    assert answer["proxied"] == 401  # through the TLS proxy: no redirect, the API answers
    assert answer["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in answer["csp"] and "frame-ancestors 'none'" in answer["csp"]
    assert answer["login"] == 302
    assert answer["csrf_cookie"] == {"secure": True, "httponly": True}
    assert answer["session_cookie"] == {"secure": True, "httponly": True}
