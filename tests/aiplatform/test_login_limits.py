"""Session logins (the admin's login page) are locked out after repeated failures (django-axes)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", password="right-pass-word-1", is_staff=True)


def log_in(password, address="192.0.2.10", username="operator"):
    client = Client(REMOTE_ADDR=address)
    return client, client.post(LOGIN, {"username": username, "password": password})


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_failures_lock_the_user_out_from_that_address(operator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client, response = log_in("wrong")
        assert response.status_code == 200  # the form again, with its error
    _, locked = log_in("wrong")
    assert locked.status_code == 429
    assert b"too many login attempts" in locked.content

    # Now even the right password is refused from that address, while the same user elsewhere,
    # and another user from that address, are not locked out.
    client, response = log_in("right-pass-word-1")
    assert response.status_code == 429 and not logged_in(client)
    client, response = log_in("right-pass-word-1", address="198.51.100.20")
    assert response.status_code == 302 and logged_in(client)
    _, response = log_in("wrong", username="someone-else")
    assert response.status_code == 200


def test_the_lockout_ends_after_the_cool_off(operator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("wrong")
    assert log_in("right-pass-word-1")[1].status_code == 429
    # As if LOGIN_COOLOFF_MINUTES had passed since the last failure.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
                                 - timedelta(seconds=1))
    client, response = log_in("right-pass-word-1")
    assert response.status_code == 302 and logged_in(client)


def test_a_success_clears_earlier_failures(operator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("wrong")
    assert log_in("right-pass-word-1")[1].status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in("wrong")[1].status_code == 200
