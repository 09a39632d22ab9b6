"""Threads alongside: brisk thread switches while in use, the process's interval back after the
last overlapping user, queued work dropped on an error."""

import sys
import threading
import time

import pytest

from aiplatform.process import BRISK_SWITCHES, thread_alongside


def test_switches_are_brisk_while_in_use_and_back_after_the_last_user():
    before = sys.getswitchinterval()
    entered, leave = threading.Event(), threading.Event()

    def other_user():
        with thread_alongside("other"):
            entered.set()
            leave.wait(10)

    other = threading.Thread(target=other_user)
    with thread_alongside("first") as pool:
        assert pool.submit(sys.getswitchinterval).result() == pytest.approx(BRISK_SWITCHES)
        other.start()
        assert entered.wait(10)
    assert sys.getswitchinterval() == pytest.approx(BRISK_SWITCHES)  # the other one is still in
    leave.set()
    other.join(10)
    assert sys.getswitchinterval() == before


def test_an_error_drops_work_not_started_and_restores_the_interval():
    before, ran = sys.getswitchinterval(), []
    with pytest.raises(RuntimeError), thread_alongside("failing") as pool:
        pool.submit(time.sleep, 0.2)
        pool.submit(ran.append, "queued")
        raise RuntimeError("the writer failed")
    assert ran == []
    assert sys.getswitchinterval() == before


@pytest.mark.django_db
def test_the_helper_thread_has_no_database_and_the_callers_connection_stays():
    from aiplatform.models import Account
    from aiplatform.process import DatabaseInHelperThread
    from tests.factories import AccountFactory

    AccountFactory()
    with thread_alongside("reader") as pool:
        with pytest.raises(DatabaseInHelperThread, match="the helper thread 'reader.*' used the database 'default'"):
            pool.submit(Account.objects.count).result()
        assert pool.submit(sum, [1, 2]).result() == 3  # plain work still runs there
        assert Account.objects.count() == 1  # the caller's connection and transaction are its own
