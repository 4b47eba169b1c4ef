"""`/incident link` and the open modal's URL field: every documented input form, accepted and
refused (README "Using it": Slack sends links as <url> or <url|label>)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from playbook.domain import rules
from playbook.domain.errors import ParseError, PlaybookError
from playbook.domain.links import LABEL_MAX, guess_kind, link_markup, parse_link, parse_url
from playbook.domain.model import Actor, AddBookmark
from tests.playbooks import default_policy

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)

ACCEPTED: list[tuple[str, str, str | None]] = [
    # (text as Slack sends it, url, label)
    ("<https://acme.zendesk.com/agent/tickets/42>", "https://acme.zendesk.com/agent/tickets/42",
     None),
    ("<https://acme.zendesk.com/agent/tickets/42|ticket 42>",
     "https://acme.zendesk.com/agent/tickets/42", "ticket 42"),
    ("<https://acme.zendesk.com/t/42|ticket 42> escalated ticket",
     "https://acme.zendesk.com/t/42", "escalated ticket"),  # typed text wins over Slack's
    ("<http://intranet.example.com/runbook>", "http://intranet.example.com/runbook", None),
    ("<https://docs.google.com/d/x?a=1&amp;b=2> postmortem draft",
     "https://docs.google.com/d/x?a=1&b=2", "postmortem draft"),  # entities unescaped
    ("https://crm.example.com/accounts/7 account", "https://crm.example.com/accounts/7",
     "account"),  # not auto-linked by Slack: a bare address
    ("  <HTTPS://Example.COM/Path>  ", "HTTPS://Example.COM/Path", None),
    ("<https://example.com:8443/x>", "https://example.com:8443/x", None),
    ("<https://example.com/x> a &lt;b&gt; &amp; c", "https://example.com/x", "a <b> & c"),
    ("<https://example.com/x> <@U0BOB|bob> owns it", "https://example.com/x", "@bob owns it"),
]

REFUSED: list[tuple[str, str]] = [
    ("", "Add the address"),
    ("   ", "Add the address"),
    ("ftp://files.example.com/log.txt", "Only web links"),
    ("<mailto:help@example.com|help@example.com>", "Only web links"),
    ("javascript:alert(1)", "Only web links"),
    ("<#C0CUST|acme>", "not a web link"),
    ("<@U0BOB|bob>", "not a web link"),
    ("<!here>", "not a web link"),
    ("www.example.com/ticket", "Only web links"),
    ("https://", "no host"),
    ("https://localhost_/x", "no host"),
    ("https://example.com:99999/x", "not valid"),
    ("https://" + "a" * 2000 + ".com", "at most 2000"),
]


@pytest.mark.parametrize(("text", "url", "label"), ACCEPTED)
def test_link_forms_accepted(text: str, url: str, label: str | None) -> None:
    assert parse_link(text) == (url, label)


@pytest.mark.parametrize(("text", "says"), REFUSED)
def test_link_forms_refused(text: str, says: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_link(text)
    assert says in caught.value.message
    assert "`/incident link" in caught.value.message or "at most" in caught.value.message


@pytest.mark.parametrize("typed", ["https://a.example/x y", 'https://a.example/"x"',
                                   "https://a.example/x|y", "https://a.example/<x>"])
def test_modal_urls_with_markup_characters_are_refused(typed: str) -> None:
    with pytest.raises(ParseError, match="paste just the link"):
        parse_url(typed)


def test_long_labels_are_cut() -> None:
    _, label = parse_link("<https://example.com> " + "word " * 40)
    assert label is not None and len(label) == LABEL_MAX and label.endswith("…")


@pytest.mark.parametrize(("url", "kind"), [
    ("https://acme.zendesk.com/t/1", "ticket"), ("https://acme.atlassian.net/browse/X-1", "ticket"),
    ("https://eu1.salesforce.com/001", "crm"), ("https://app.hubspot.com/c/1", "crm"),
    ("https://docs.google.com/d/1", "doc"), ("https://www.notion.so/page", "doc"),
    ("https://status.example.com", "link"),
])
def test_kind_from_host(url: str, kind: str) -> None:
    assert guess_kind(url) == kind


def test_link_verb_records_bookmarks_and_refuses_duplicates() -> None:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity=None,
                              actor=Actor("U1"), now=T0, policy=default_policy()).incident
    inc.id = 1
    out = rules.run_command(inc, "link", "<https://acme.zendesk.com/t/1|ticket &lt;1&gt;>",
                            Actor("U1"), now=T0, policy=default_policy())
    [link] = out.incident.links
    assert (link.number, link.label, link.kind) == (1, "ticket <1>", "ticket")
    assert AddBookmark(1) in out.effects
    assert link_markup(link) == "<https://acme.zendesk.com/t/1|ticket &lt;1&gt;>"
    assert "<https://acme.zendesk.com/t/1|ticket &lt;1&gt;>" in out.timeline[0].text
    with pytest.raises(PlaybookError, match="already linked as L1"):
        rules.run_command(out.incident, "link", "<https://acme.zendesk.com/t/1>", Actor("U2"),
                          now=T0, policy=default_policy())
    unlabelled = rules.run_command(out.incident, "link", "<https://x.example.com/a/b/>",
                                   Actor("U2"), now=T0, policy=default_policy()).incident.links[1]
    assert unlabelled.label == "x.example.com/a/b"
