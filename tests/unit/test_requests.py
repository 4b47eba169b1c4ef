"""Forms pass typed values (`playbook.domain.verbs.Request`): each records and refuses exactly as
the same verb typed after `/incident` does, message for message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from playbook.domain import rules, verbs
from playbook.domain.errors import PlaybookError
from playbook.domain.model import Incident
from playbook.domain.verbs import Request, Said, Written
from playbook.domain.verbs.followup import AddAction
from playbook.domain.verbs.handover import HandOver
from playbook.domain.verbs.listen import AgreeCadence
from playbook.domain.verbs.own import Comms, Own
from playbook.domain.verbs.promises import MakePromise
from playbook.domain.verbs.snooze import SnoozeFor
from playbook.domain.verbs.solve import AddOption, Choose, Recommend
from tests.unit.test_rules import ALICE, POLICY, T0, at_state

NOW = T0 + timedelta(hours=1)
LATER = NOW + timedelta(hours=2)  # 2026-11-23 16:00 UTC
EARLIER = NOW - timedelta(minutes=30)

# (state, the request a form sends, the same verb as typed text)
SAME: list[tuple[Callable[[], Incident], Request, str]] = [
    (at_state(), Written("listen", "screens say <Setup> & more"),
     "listen screens say &lt;Setup&gt; &amp; more"),
    (at_state(), Written("listen", "   "), "listen"),
    (at_state(), Written("impact", "the hotel opens tonight"), "impact the hotel opens tonight"),
    (at_state(), Written("driver", "their brand"), "driver their brand"),
    (at_state(), AgreeCadence("45m"), "cadence 45m"),
    (at_state(), AgreeCadence("1h", "weekdays 9-18 Europe/Paris"),
     "cadence 1h weekdays 9-18 Europe/Paris"),
    (at_state(), AgreeCadence("soonish"), "cadence soonish"),
    (at_state(), AgreeCadence("", "9-18"), "cadence"),
    (at_state(), AgreeCadence("1h", "25-26"), "cadence 1h 25-26"),
    (at_state(), Written("restate", "all screens"), "restate all screens"),
    (at_state("restate all screens"), Said("confirm"), "confirm"),
    (at_state(), Own("U0BOB"), "own <@U0BOB>"),
    (at_state("own"), Own("U0ALICE"), "own <@U0ALICE>"),
    (at_state(), Comms("U0BOB"), "comms <@U0BOB>"),
    (at_state(), Written("apology", "sorry"), "apology sorry"),
    (at_state(), AddOption("power down", "blank screens"),
     "option power down risk: blank screens"),
    (at_state(), AddOption("power down"), "option power down"),
    (at_state(), AddOption("  ", "blank screens"), "option risk: blank screens"),
    (at_state(), AddOption("", None), "option"),
    (at_state("option reboot"), Recommend(1, "fastest relief"), "recommend 1 fastest relief"),
    (at_state("option reboot"), Recommend(1, "  "), "recommend 1"),
    (at_state("option reboot"), Recommend(9, "nope"), "recommend 9 nope"),
    (at_state("option reboot"), Choose(1), "choose 1"),
    (at_state("option reboot"), Choose(4), "choose 4"),
    (at_state(), MakePromise("a status call", LATER), "promise a status call by 2026-11-23T16:00Z"),
    (at_state(), MakePromise("call in 2h", LATER), "promise call in 2h by 2026-11-23T16:00Z"),
    (at_state(), MakePromise("a status call", EARLIER),
     "promise a status call by 2026-11-23T13:30Z"),
    (at_state(), MakePromise("   ", LATER), "promise  by 2026-11-23T16:00Z"),
    (at_state(), Written("update", "we are on it"), "update we are on it"),
    (at_state("own", "customer-channel <#C0CUST|acme>"), Written("send", "Fix in progress."),
     "send Fix in progress."),
    (at_state(), Written("send", "Fix in progress."), "send Fix in progress."),
    (at_state(), Written("resolve", "devices recovered"), "resolve devices recovered"),
    (at_state(), Written("rootcause", "a firmware bug"), "rootcause a firmware bug"),
    (at_state(), Written("lesson", "test recovery"), "lesson test recovery"),
    (at_state(), AddAction("add a recovery mode", "U0BOB"),
     "action add a recovery mode <@U0BOB>"),
    (at_state(), AddAction("add monitoring"), "action add monitoring"),
    (at_state(), AddAction(" ", "U0BOB"), "action <@U0BOB>"),
    (at_state("own"), Written("skip", "customer unreachable"), "skip customer unreachable"),
    (at_state(), SnoozeFor(timedelta(minutes=30), "on a call  with\nthem"),
     "snooze 30m on a call  with\nthem"),
    (at_state(), SnoozeFor(timedelta(minutes=30), "  "), "snooze 30m"),
    (at_state("own"), HandOver("U0BOB", "call their CTO at 3pm"),
     "handover <@U0BOB> call their CTO at 3pm"),
    (at_state("own"), HandOver("U0BOB"), "handover <@U0BOB>"),
    (at_state("own"), HandOver("U0BOB", "x" * 2001), "handover <@U0BOB> " + "x" * 2001),
    (at_state(), HandOver("U0BOB", "notes"), "handover <@U0BOB> notes"),
]


@pytest.mark.parametrize(("state", "request_", "typed"), SAME,
                         ids=[f"{i}-{typed.split()[0]}" for i, (_, _, typed) in enumerate(SAME)])
def test_a_form_does_what_typing_does(state: Callable[[], Incident], request_: Request,
                                      typed: str) -> None:
    verb, arg = verbs.split_verb(typed)
    assert request_.verb == verb

    def run(how: Callable[[], object]) -> object:
        try:
            return how()
        except PlaybookError as err:
            return type(err), err.message

    by_form = run(lambda: rules.run_request(state(), request_, ALICE, now=NOW, policy=POLICY))
    by_text = run(lambda: rules.run_command(state(), verb, arg, ALICE, now=NOW,
                                            policy=POLICY))
    assert by_form == by_text


def test_written_is_only_for_free_text_verbs() -> None:
    with pytest.raises(ValueError, match="own request"):
        Written("promise", "a call").apply(at_state()(), ALICE, None)  # type: ignore[arg-type]
