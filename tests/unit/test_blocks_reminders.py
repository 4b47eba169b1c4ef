"""The card, the forms and the summary for cadence windows and snoozes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.blocks import card, listen_modal, snooze_modal, summary_markdown, summary_messages
from playbook.domain.model import CadenceChange, Snooze
from playbook.domain.summary import summarize
from playbook.domain.text import date_token
from playbook.domain.windows import Window
from tests.unit.test_blocks import (
    NASTY,
    PB,
    assert_escaped,
    check_message,
    check_view,
    inputs,
    new_incident,
    rendered,
)

OFFICE = Window(frozenset(range(5)), 9 * 60, 18 * 60, "Europe/Paris")
SATURDAY = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)
MONDAY_0900_PARIS = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


def windowed():
    inc = new_incident()
    inc.cadence_changes.append(CadenceChange(datetime(2026, 3, 6, 16, 0, tzinfo=UTC),
                                             timedelta(hours=1), agreed=True, by="U1",
                                             window=OFFICE))
    return inc


def test_card_says_when_the_customers_window_opens_again() -> None:
    body = card(windowed(), SATURDAY, PB)
    check_message(body)
    text = rendered(body)
    assert "weekdays 09:00-18:00 Europe/Paris" in text
    assert f"reminders resume when their window opens {date_token(MONDAY_0900_PARIS)}" in text
    inside = rendered(card(windowed(), MONDAY_0900_PARIS + timedelta(hours=1), PB))
    assert "reminders resume" not in inside


def test_card_shows_an_active_snooze_with_its_reason_escaped() -> None:
    inc = new_incident()
    now = inc.opened_at + timedelta(hours=2)
    inc.snoozes = [Snooze(1, now - timedelta(minutes=5), now + timedelta(minutes=25), "U2",
                          f"on a call {NASTY}")]
    body = card(inc, now, PB)
    check_message(body)
    assert_escaped(body)
    assert f"Reminders snoozed until {date_token(now + timedelta(minutes=25))} by <@U2>" in \
        rendered(body)
    assert "snoozed" not in rendered(card(inc, now + timedelta(minutes=30), PB))


def test_snooze_form_and_window_fields() -> None:
    inc = windowed()
    view = snooze_modal(inc, 60)
    check_view(view)
    fields = inputs(view)
    assert fields["minutes"]["element"]["initial_option"]["value"] == "60"
    assert [o["value"] for o in fields["minutes"]["element"]["options"]] == ["15", "30", "60"]
    assert not fields["reason"].get("optional")
    listen = inputs(listen_modal(inc))
    assert listen["window_hours"]["element"]["initial_value"] == "09:00-18:00"
    assert listen["window_days"]["element"]["initial_option"]["value"] == "weekdays"
    assert listen["window_zone"]["element"]["initial_value"] == "Europe/Paris"


def test_summary_lists_snoozes_and_the_window_in_both_renderings() -> None:
    inc = windowed()
    at = datetime(2026, 3, 6, 16, 40, tzinfo=UTC)
    inc.snoozes = [Snooze(1, at, at + timedelta(minutes=30), "U2", f"their CTO asked {NASTY}")]
    s = summarize(inc, at + timedelta(hours=1))
    assert s.snoozes == tuple(inc.snoozes) and s.cadence_window == OFFICE.spec
    slack = "\n".join(rendered(m) for m in summary_messages(s))
    for m in summary_messages(s):
        check_message(m)
        assert_escaped(m)
    assert "<@U2> snoozed the reminders" in slack and "30 min" in slack
    assert "their CTO asked" in slack and "counted only in those hours" in slack
    md = summary_markdown(s)
    assert "snoozed the reminders 2026-03-06T16:40:00Z for 30 min" in md
    assert "their CTO asked" in md and "weekdays 09:00-18:00 Europe/Paris" in md
