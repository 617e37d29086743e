from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import IdempotencyKey
from tests.api import testapi
from tests.api.conftest import access_for, assert_error

pytestmark = [pytest.mark.urls("tests.api.testapi")]

ORDER = {"symbol": "BTCUSDT", "qty": 1}


@pytest.fixture(autouse=True)
def _fresh_executions():
    testapi.executions.clear()


def place(api, headers, key=None, body=ORDER):
    extra = {"Idempotency-Key": key} if key else {}
    return api.post("/t/orders", body, content_type="application/json", headers={**headers, **extra})


@pytest.mark.django_db
def test_the_same_key_and_body_returns_the_first_response_and_acts_once(api, owner):
    headers = access_for(owner)
    first = place(api, headers, "k-1")
    second = place(api, headers, "k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"seq": 1, "symbol": "BTCUSDT", "qty": 1}
    assert second["Idempotent-Replayed"] == "true"
    assert len(testapi.executions) == 1
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_refused(api, owner):
    headers = access_for(owner)
    place(api, headers, "k-1")
    error = assert_error(place(api, headers, "k-1", {**ORDER, "qty": 2}), 422, "idempotency_key_reused")
    assert "Idempotency-Key" in error["message"]
    assert len(testapi.executions) == 1


@pytest.mark.django_db
def test_without_a_key_every_request_acts(api, owner):
    headers = access_for(owner)
    place(api, headers)
    place(api, headers)
    assert len(testapi.executions) == 2
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
def test_keys_belong_to_one_user(api, owner, other):
    place(api, access_for(owner), "shared")
    response = place(api, access_for(other), "shared", {**ORDER, "qty": 5})
    assert response.status_code == 201
    assert len(testapi.executions) == 2


@pytest.mark.django_db
def test_a_failed_request_releases_its_key(api, owner):
    headers = access_for(owner)
    assert_error(place(api, headers, "k-1", {**ORDER, "fail": True}), 409, "conflict")
    assert IdempotencyKey.objects.count() == 0
    assert place(api, headers, "k-1").status_code == 201


@pytest.mark.django_db
def test_a_forbidden_request_does_not_claim_the_key(api, viewer):
    assert_error(place(api, access_for(viewer), "k-1"), 403, "forbidden")
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
def test_an_expired_key_can_be_used_again(api, owner):
    headers = access_for(owner)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        place(api, headers, "k-1")
        clock.shift(timedelta(days=1, minutes=1))
        headers = access_for(owner)
        response = place(api, headers, "k-1", {**ORDER, "qty": 3})
    assert response.status_code == 201
    assert response.json()["seq"] == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_execute_once(owner):
    headers = access_for(owner)
    barrier = threading.Barrier(3)
    statuses: list[int] = []

    def send() -> None:
        try:
            barrier.wait()
            response = place(Client(), headers, "race", {**ORDER, "slow": True})
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201, 409, 409]
    assert len(testapi.executions) == 1
    # Once the first has finished, a retry replays it.
    assert place(Client(), headers, "race", {**ORDER, "slow": True}).json()["seq"] == 1


def test_expired_keys_are_pruned_and_fresh_ones_kept(owner):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import IdempotencyKey
    from config.tasks import idempotency_keys_prune

    old = IdempotencyKey.objects.create(user=owner, key="old", fingerprint="f")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    IdempotencyKey.objects.create(user=owner, key="new", fingerprint="f")
    assert idempotency_keys_prune() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
