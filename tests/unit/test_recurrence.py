"""Repeat crises: same customer (however the name is written) or the same problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playbook.domain import recurrence, rules, verbs
from playbook.domain.model import Actor, Incident
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def inc(number: int, customer: str, what: str, *lines: str) -> Incident:
    i = rules.open_incident(team_id="T1", customer=customer, description=what, severity=None,
                            actor=Actor("U1"), now=T0 + timedelta(days=number),
                            policy=default_policy()).incident
    i.id, i.number, i.channel_id = number, number, f"C{number}"
    for line in lines:
        verb, arg = verbs.split_verb(line)
        i = rules.run_command(i, verb, arg, Actor("U1"), now=i.opened_at,
                              policy=default_policy()).incident
    return i


def test_same_customer_however_written_and_similar_problem() -> None:
    earlier = [
        inc(1, "ACME, Inc.", "lobby screens show a setup error", "rootcause stale state",
            "action add recovery mode"),
        inc(2, "Globex", "all lobby screens show a setup error!"),
        inc(3, "Initech", "invoices are wrong"),
    ]
    new = inc(9, "acme inc", "checkout is slow")
    matches = recurrence.related(new, earlier)
    assert [(m.incident.key, m.same_customer) for m in matches] == [("INC-1", True)]
    text = recurrence.note(matches, "acme inc", 90)
    assert text is not None
    assert "second crisis for acme inc in 90 days" in text
    assert "<#C1>" in text and "stale state" in text and "A1 add recovery mode" in text

    similar = recurrence.related(inc(10, "Umbrella", "All lobby screens show a setup error"),
                                 earlier)
    assert {m.incident.key for m in similar} == {"INC-1", "INC-2"}
    assert "very similar problem" in (recurrence.note(similar, "Umbrella", 90) or "")


def test_nothing_related_says_nothing() -> None:
    assert recurrence.note(recurrence.related(inc(1, "A", "x"), [inc(2, "B", "y")]), "A", 90) \
        is None


def test_user_text_in_the_note_is_escaped() -> None:
    earlier = [inc(1, "Acme", "down", "rootcause <!channel> broke it")]
    text = recurrence.note(recurrence.related(inc(2, "Acme", "down"), earlier), "Acme <b>", 90)
    assert text is not None and "<!channel>" not in text and "Acme &lt;b&gt;" in text
