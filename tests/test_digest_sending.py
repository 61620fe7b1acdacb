"""Sending the day's digests through failures: retries, later cycles, the cut-off, and a
manager who hears about what did not go out (issue 3, SPEC §5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

from sheets_sync.backends.memory import MemoryBackend
from sheets_sync.config import Config
from sheets_sync.engine import DigestRun, send_digests, sync
from sheets_sync.mail.deliver import (
    DeliveryFailed,
    PermanentFailure,
    SetupFailure,
    TemporaryFailure,
)
from sheets_sync.state import State
from tests import test_engine
from tests.test_engine import NOW, STAFF, TODAY, log_rows

ANNA, BEN, MANAGER = "owner-anna", "owner-ben", "manager"


class ScriptedDelivery:
    """A delivery whose failures are scripted per recipient: a list of exceptions to raise
    on the next attempts (None: deliver)."""

    def __init__(self, script: dict[str, list[DeliveryFailed | None]] | None = None) -> None:
        self.script = script or {}
        self.delivered: list[EmailMessage] = []
        self.attempts: list[str] = []
        self.closed = 0

    def send(self, message: EmailMessage, key: str) -> None:
        recipient = key.split("-", 3)[3]
        self.attempts.append(recipient)
        plan = self.script.get(recipient, [])
        outcome = plan.pop(0) if plan else None
        if outcome is not None:
            raise outcome
        self.delivered.append(message)

    def close(self) -> None:
        self.closed += 1


config = test_engine.config
state = test_engine.state


def send(
    config: Config,
    state: State,
    delivery: ScriptedDelivery,
    now: datetime = NOW,
    sleeps: list[float] | None = None,
) -> DigestRun:
    report = sync(MemoryBackend(log_rows(), STAFF), config, state, today=TODAY, dry_run=True)
    pauses = sleeps if sleeps is not None else []
    return send_digests(report, config, state, delivery, today=TODAY, now=now, sleep=pauses.append)


def recipients(delivery: ScriptedDelivery) -> list[str]:
    return sorted(str(message["To"]) for message in delivery.delivered)


def test_a_temporary_failure_is_tried_again_with_backoff(config: Config, state: State) -> None:
    delivery = ScriptedDelivery({ANNA: [TemporaryFailure("451 try later")] * 2})
    sleeps: list[float] = []

    run = send(config, state, delivery, sleeps=sleeps)

    assert sorted(run.sent) == [MANAGER, ANNA, BEN]
    assert delivery.attempts.count(ANNA) == 3
    assert sleeps == [1.0, 2.0]
    assert delivery.closed == 1  # one connection for the round, closed at its end


def test_still_failing_waits_for_a_later_cycle_with_the_same_message_id(
    config: Config, state: State
) -> None:
    delivery = ScriptedDelivery({ANNA: [TemporaryFailure("421 going down")] * 3})
    first = send(config, state, delivery)
    assert ANNA in first.waiting
    assert "421 going down" in first.waiting[ANNA]
    record = state.digest(TODAY, ANNA)
    assert record is not None
    assert record.status == "pending"
    assert record.attempts == 1
    # The manager hears that Anna's digest has not gone out yet.
    summary = next(m for m in delivery.delivered if "manager" in str(m["To"]))
    assert "421 going down" in summary.get_body(("plain",)).get_content()

    later = ScriptedDelivery()
    second = send(config, state, later, now=NOW + timedelta(minutes=15))

    assert second.sent == [ANNA]  # only the one still pending
    assert later.delivered[0]["Message-ID"] == record.message_id


def test_after_the_cut_off_a_pending_digest_is_given_up_and_said_so(
    config: Config, state: State
) -> None:
    send(config, state, ScriptedDelivery({ANNA: [TemporaryFailure("timed out")] * 3}))
    late = NOW.replace(hour=config.mail.digest_cutoff.hour, minute=config.mail.digest_cutoff.minute)

    delivery = ScriptedDelivery()
    run = send(config, state, delivery, now=late)

    assert delivery.attempts == []
    assert "cut-off" in run.failed[ANNA]
    record = state.digest(TODAY, ANNA)
    assert record is not None
    assert record.status == "failed"


def test_a_permanent_failure_for_one_owner_does_not_stop_the_others(
    config: Config, state: State
) -> None:
    refused = PermanentFailure("550 5.1.1 <anna@clinic.example>: no such user")
    delivery = ScriptedDelivery({ANNA: [refused]})

    run = send(config, state, delivery)

    assert run.failed == {ANNA: str(refused)}
    assert delivery.attempts.count(ANNA) == 1  # no retries of a refusal
    assert sorted(run.sent) == [MANAGER, BEN]
    summary = next(m for m in delivery.delivered if "manager" in str(m["To"]))
    assert "no such user" in summary.get_body(("plain",)).get_content()
    # Given up for the day: a later cycle does not try again.
    again = ScriptedDelivery()
    assert send(config, state, again).sent == []
    assert again.attempts == []


def test_a_broken_setup_stops_the_round_and_everything_waits(config: Config, state: State) -> None:
    delivery = ScriptedDelivery({ANNA: [SetupFailure("535 login refused for followups")]})

    run = send(config, state, delivery)

    assert run.sent == []
    assert list(run.waiting) == [ANNA, BEN, MANAGER]  # all wait for the same fix
    assert set(run.waiting.values()) == {"535 login refused for followups"}
    assert delivery.attempts == [ANNA]  # nobody else is tried with the same broken login
    fixed = ScriptedDelivery()
    assert sorted(send(config, state, fixed).sent) == [MANAGER, ANNA, BEN]


def test_a_server_down_costs_one_wait_not_one_per_owner(config: Config, state: State) -> None:
    down = TemporaryFailure("connection refused")
    delivery = ScriptedDelivery({ANNA: [down] * 3, BEN: [down] * 3, MANAGER: [down] * 3})
    sleeps: list[float] = []

    run = send(config, state, delivery, sleeps=sleeps)

    assert set(run.waiting) == {ANNA, BEN, MANAGER}
    assert sleeps == [1.0, 2.0]  # backoff for the first; the rest get one try each
    assert delivery.attempts == [ANNA, ANNA, ANNA, BEN, MANAGER]
