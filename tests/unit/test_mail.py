"""Email to and from the customer, the pure part: addresses, send's destinations, delivery,
refusal, replies (stripped, matched by tag, recorded once)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from playbook.domain import mail, mail_events, rules, verbs
from playbook.domain.errors import GateError, ParseError, PermissionDenied
from playbook.domain.model import (
    Actor,
    EmailStatus,
    Incident,
    Policy,
    Post,
    Reschedule,
    SendEmail,
    Step,
    Target,
)
from tests.playbooks import default_policy

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
POLICY = replace(default_policy(), email_enabled=True)
ALICE, BOB, CAROL = Actor("U0ALICE"), Actor("U0BOB"), Actor("U0CAROL")
LEAD = Actor("U0LEAD", is_lead=True)


def opened(policy: Policy = POLICY) -> Incident:
    inc = rules.open_incident(team_id="T1", customer="Acme Hotels",
                              description="all lobby screens show a setup error",
                              severity=None, actor=ALICE, now=T0, policy=policy).incident
    inc.id, inc.number, inc.channel_id = 1, 7, "C0INC"
    return inc


def run(inc: Incident, line: str, actor: Actor = ALICE, *, at: datetime = T0,
        policy: Policy = POLICY):  # type: ignore[no-untyped-def]
    verb, arg = verbs.split_verb(line)
    return rules.run_command(inc, verb, arg, actor, now=at, policy=policy)


# --- addresses ------------------------------------------------------------------------------

ACCEPTED = [
    ("it@acme.example", ["it@acme.example"]),
    ("<mailto:it@acme.example|it@acme.example>", ["it@acme.example"]),
    ("IT.Desk+crisis@Acme.Example", ["IT.Desk+crisis@acme.example"]),
    ("a@acme.example, b@acme.example", ["a@acme.example", "b@acme.example"]),
    ("a@acme.example;b@acme.co.uk  c_d@x-y.example", ["a@acme.example", "b@acme.co.uk",
                                                      "c_d@x-y.example"]),
    ("a@acme.example, A@ACME.example", ["a@acme.example"]),  # the same address once
    ("&lt;ops@acme.example&gt;", ["ops@acme.example"]),
    ("o'brien@acme.example", ["o'brien@acme.example"]),
    ("x@xn--bcher-kva.example", ["x@xn--bcher-kva.example"]),
]
REFUSED = [
    ("", "Give the customer's email"),
    ("acme.example", "no `@`"),
    ("a@b@acme.example", "more than one"),
    ("@acme.example", "before the `@`"),
    ("a..b@acme.example", "before the `@`"),
    (".a@acme.example", "before the `@`"),
    ("a@acme", "domain"),
    ("a@-acme.example", "domain"),
    ("a@acme.example.1", "domain"),
    ("a@acme_x.example", "domain"),
    ("<@U0BOB|bob>", "mention"),  # a person is not an address
    (", ".join(f"u{n}@acme.example" for n in range(11)), "at most 10"),
]


@pytest.mark.parametrize(("typed", "expected"), ACCEPTED)
def test_addresses_accepted(typed: str, expected: list[str]) -> None:
    assert mail.parse_addresses(typed) == expected


@pytest.mark.parametrize(("typed", "why"), REFUSED)
def test_addresses_refused_with_what_was_wrong(typed: str, why: str) -> None:
    with pytest.raises(ParseError) as caught:
        mail.parse_addresses(typed)
    assert why in caught.value.message


def test_a_refusal_quotes_the_address_escaped() -> None:
    with pytest.raises(ParseError) as caught:
        mail.parse_addresses("<!channel>@x")
    assert "<!channel>" not in caught.value.message


def test_customer_email_sets_shows_and_removes() -> None:
    inc = run(opened(), "own").incident
    out = run(inc, "customer-email it@acme.example, ops@acme.example")
    assert out.incident.customer_emails == ["it@acme.example", "ops@acme.example"]
    assert "it@acme.example" in out.timeline[0].text
    shown = run(out.incident, "customer-email")
    assert "ops@acme.example" in shown.reply and not shown.timeline
    gone = run(out.incident, "customer-email none")
    assert gone.incident.customer_emails == []


def test_only_owner_communicator_or_lead_sets_addresses() -> None:
    inc = run(run(opened(), "own").incident, "comms <@U0BOB>").incident
    with pytest.raises(PermissionDenied, match="or a lead"):
        run(inc, "customer-email it@acme.example", CAROL)
    assert run(inc, "customer-email it@acme.example", BOB).incident.customer_emails
    assert run(inc, "customer-email it@acme.example", LEAD).incident.customer_emails


def test_setting_addresses_without_smtp_says_what_to_set() -> None:
    off = default_policy()
    inc = run(opened(off), "own", policy=off).incident
    out = run(inc, "customer-email it@acme.example", policy=off)
    assert "CRISISBOT_SMTP_URL" in out.reply


# --- send ------------------------------------------------------------------------------------

def emailing(*more: str) -> Incident:
    inc = run(opened(), "own").incident
    inc = run(inc, "customer-email it@acme.example").incident
    for line in more:
        inc = run(inc, line).incident
    return inc


def test_send_by_email_only_counts_once_delivered() -> None:
    inc = emailing()
    out = run(inc, "send We found the cause; screens back by 3pm.", at=T0 + timedelta(minutes=5))
    assert not out.incident.updates, "not an update until the server accepts it"
    assert [e for e in out.effects if isinstance(e, SendEmail)] == [SendEmail(1)]
    assert not any(isinstance(e, Post) and e.target is Target.CUSTOMER for e in out.effects)
    email = out.incident.emails[0]
    assert (email.status, email.counts, email.recipients) == (
        EmailStatus.PENDING, True, ("it@acme.example",))
    accepted = T0 + timedelta(minutes=6)
    done = mail_events.email_delivered(out.incident, 1, accepted)
    assert done is not None
    assert [u.at for u in done.incident.updates] == [accepted]
    assert done.incident.emails[0].status is EmailStatus.SENT
    assert any(isinstance(e, Reschedule) for e in done.effects)
    assert mail_events.email_delivered(done.incident, 1, accepted) is None, "settled once"


def test_send_to_channel_and_email_counts_at_once_and_email_does_not_count_twice() -> None:
    inc = emailing("customer-channel <#C0CUST|acme-shared>")
    out = run(inc, "send Fix in progress.")
    assert len(out.incident.updates) == 1
    assert any(isinstance(e, Post) and e.target is Target.CUSTOMER for e in out.effects)
    assert out.incident.emails[0].counts is False
    done = mail_events.email_delivered(out.incident, 1, T0 + timedelta(minutes=1))
    assert done is not None and len(done.incident.updates) == 1


def test_send_with_addresses_but_no_smtp_is_refused_with_what_to_set() -> None:
    off = default_policy()
    inc = run(run(opened(off), "own", policy=off).incident, "customer-email it@acme.example",
              policy=off).incident
    with pytest.raises(GateError, match="CRISISBOT_SMTP_URL"):
        run(inc, "send hello", policy=off)


def test_send_with_no_destination_names_both() -> None:
    inc = run(opened(), "own").incident
    with pytest.raises(GateError, match="customer-email"):
        run(inc, "send hello")


def test_update_and_notes_never_email() -> None:
    inc = emailing()
    for line in ("update told them on the phone", "note internal: blame the vendor"):
        out = run(inc, line)
        assert not any(isinstance(e, SendEmail) for e in out.effects)
        assert out.incident.emails == []


def test_refused_email_is_not_counted_and_the_sender_hears_the_server() -> None:
    out = run(emailing(), "send hello")
    failed = mail_events.email_failed(out.incident, 1, T0, "550 5.1.1 <it@acme.example>: no "
                                      "such user")
    assert failed is not None
    assert failed.incident.updates == []
    assert failed.incident.emails[0].status is EmailStatus.FAILED
    told = [e for e in failed.effects if isinstance(e, Post) and e.target is Target.USER]
    assert told and told[0].user == "U0ALICE" and "550 5.1.1" in told[0].text
    assert "&lt;it@acme.example&gt;" in told[0].text, "the server's words are escaped"


def test_later_emails_thread_under_the_earlier_ones() -> None:
    inc = run(emailing(), "send one").incident
    inc.emails[0].message_id = "<a@x>"
    inc = run(inc, "send two").incident
    inc.emails[1].message_id = "<b@x>"
    inc = run(inc, "send three").incident
    assert mail.thread_ids(inc, inc.emails[2]) == ["<a@x>", "<b@x>"]
    assert mail.subject(inc) == "[INC-7] Acme Hotels: all lobby screens show a setup error"


# --- replies ---------------------------------------------------------------------------------

STRIPPED = [
    ("Thanks, screens are back.\n\nOn Tue, 3 Mar 2026 at 10:00, Acme Support "
     "<support@acme.example> wrote:\n> We found the cause\n> more", "Thanks, screens are back."),
    ("Still broken!\n\nOn Tue, 3 Mar 2026 at 10:00, Acme Support\n<support@acme.example> "
     "wrote:\n\n> quoted", "Still broken!"),
    ("Yes.\n-- \nJohn Smith\nIT manager", "Yes."),
    ("Fine\n\nSent from my iPhone", "Fine"),
    ("Ok\n\n-----Original Message-----\nFrom: support", "Ok"),
    ("Noted.\n________________________________\nFrom: Acme Support\nSent: Tuesday\n"
     "To: it\nSubject: [INC-7]", "Noted."),
    ("> only quoted\nmy answer inline\n> more quoted\nand more", "my answer inline\nand more"),
    ("a\n\n\n\n\nb", "a\n\nb"),
]


@pytest.mark.parametrize(("body", "expected"), STRIPPED)
def test_strip_reply(body: str, expected: str) -> None:
    assert mail.strip_reply(body) == expected


def test_strip_reply_is_bounded() -> None:
    assert len(mail.strip_reply("x" * 10_000)) == mail.REPLY_MAX


@pytest.mark.parametrize(("subject", "number"), [
    ("Re: [INC-7] Acme Hotels: screens", 7), ("AW: Fwd: [inc-12] x", 12), ("no tag", None),
    ("[INC-] x", None)])
def test_incident_tag(subject: str, number: int | None) -> None:
    assert mail.incident_tag(subject) == number


def reply(text: str = "Still broken <!channel> @here", message_id: str = "<r1@acme>"):  # type: ignore[no-untyped-def]
    return mail_events.InboundReply("it@acme.example", "Jo <IT>", "Re: [INC-7] x", text,
                                    message_id, T0, (("screen.png", 2048),))


def test_a_reply_is_the_customers_words_escaped_once() -> None:
    inc = opened()
    out = mail_events.record_reply(inc, reply(), T0 + timedelta(minutes=3), POLICY)
    assert out is not None
    assert out.incident.customer_words == ["Still broken <!channel> @here"]
    line = out.timeline[0].text
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line
    assert "Jo &lt;IT&gt;" in line and "screen.png (2 KB)" in line
    assert out.incident.email_replies[0].attachments == (("screen.png", 2048),)
    assert mail_events.record_reply(out.incident, reply(), T0, POLICY) is None, "once"


def test_a_reply_can_complete_listen() -> None:
    inc = run(opened(), "cadence 30m").incident
    out = mail_events.record_reply(inc, reply("They can't open tonight"), T0, POLICY)
    assert out is not None and out.incident.step is not Step.LISTEN
