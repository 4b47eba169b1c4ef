"""Playbook files: the built-in one is today's playbook, and every bad file gets one clear line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks import card
from playbook.domain import rules, verbs
from playbook.domain.cadence import Reminder, ReminderKind
from playbook.domain.errors import GateError, NotFound, ParseError
from playbook.domain.model import (
    STEPS,
    Actor,
    CadenceChange,
    Checkin,
    CustomerUpdate,
    Incident,
    Policy,
    Promise,
    Step,
)
from playbook.domain.playbook_file import PlaybookFileError, dump_playbook, parse_playbook
from playbook.domain.reminders import fire
from playbook.domain.steps import missing, next_missing
from playbook.services.builtin import builtin_playbook, builtin_text
from tests.playbooks import as_toml, default_policy, edited, with_items

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ALICE = Actor("U0ALICE")

# --- the built-in file reproduces the playbook as it was before playbook files --------------------

# (key, label, how, required) of every step, as the code had them before they became data, with
# what issue 19 added since (the vent/never-wrong prompts, noticed, context and relief items).
BEFORE = {
    "listen": (
        "Let them vent until they have said all of it; never tell them they are wrong to be "
        "upset. Ask if there is anything else, then write down their words, not ours.",
        [("words", "The customer's own words", "`/incident listen &lt;what they said&gt;`", True),
         ("impact", "What it costs their business", "`/incident impact &lt;the impact&gt;`",
          False),
         ("driver", "What is really upsetting them (a blocked goal, looking bad to their people, "
          "safety or security, broken trust)", "`/incident driver &lt;what is behind it&gt;`",
          False),
         ("noticed", "How they noticed (their monitoring, their boss, their own customers)",
          "`/incident noticed &lt;how they found out&gt;`", False),
         ("context", "The context we gave them about our side",
          "`/incident context &lt;what we told them&gt;`", False),
         ("cadence", "How often they want to hear from us", "`/incident cadence 30m`", True)]),
    "restate": (
        "Once they have finished, say the problem back in their exact terms, not ours, without "
        "arguing about fault, and have them agree.",
        [("restatement", "The problem in the customer's terms",
          "`/incident restate &lt;the problem, in their words&gt;`", True),
         ("confirmed", "The customer confirmed it", "`/incident confirm`", True)]),
    "own": (
        "One person answers for the fix; one voice speaks to the customer.",
        [("owner", "One named owner", "`/incident own` (or `/incident own @someone`)", True),
         ("communicator", "One communicator, the single voice to the customer",
          "`/incident comms @someone`", False),
         ("apology", "An apology given", "`/incident apology &lt;what we said&gt;`", False)]),
    "solve": (
        "Stop the pain first, then fix the cause. Offer the options with their risks, "
        "recommend one, let the customer choose.",
        [("options", "Alternatives, each with its risk",
          "`/incident option [relief:] &lt;what we could do&gt; risk: &lt;what could go "
          "wrong&gt;`", False),
         ("recommendation", "Our recommendation and why",
          "`/incident recommend &lt;n&gt; &lt;why&gt;`", False),
         ("relief", "Immediate relief for the customer, before the lasting fix",
          "`/incident relief &lt;what stopped the pain&gt;`", False),
         ("chosen", "The option the customer chose", "`/incident choose &lt;n&gt;`", True),
         ("resolution", "The resolution in place", "`/incident resolve &lt;what fixed it&gt;`",
          True)]),
    "follow-up": (
        "Tell the customer it is fixed, find the cause, and make sure it cannot happen again.",
        [("informed", "The customer told it is resolved",
          "`/incident update &lt;what you told them&gt;` after resolving", True),
         ("rootcause", "The root cause", "`/incident rootcause &lt;why it happened&gt;`", True),
         ("lessons", "What we learned", "`/incident lesson &lt;the lesson&gt;`", False),
         ("actions", "At least one prevention action with an owner",
          "`/incident action &lt;what we will change&gt; @owner`", True)]),
}

LATE = " _(This reminder is 47 min late: the bot could not send it at its time.)_"
ESCALATION = ("🚨 INC-7 (Acme &lt;Corp&gt; &amp; co, sev1): the customer is waiting: 1 h 17 min "
              "since the last customer update (agreed every 30 min). Owner: <@U2>, "
              f"communicator: <@U3>.{LATE}")
CHECKIN = ("🤝 Time to check in with Acme &lt;Corp&gt; &amp; co about INC-7 (check-in 1 of 2): "
           "ask how things are since the fix, then `/incident checkin C1 &lt;how it went&gt;`."
           f"{LATE}")
# What each reminder said before its text moved into the file: (kind, ref, timeline + posts).
REMINDERS_BEFORE = [
    (ReminderKind.NUDGE, "", [
        "⏰ The next customer update for INC-7 is due <!date^1767605700^{date_short_pretty} at "
        "{time}|2026-01-05 09:35 UTC>. <@U3> <@U2>: when you've told them, log it with "
        f"`/incident update &lt;what you said&gt;`.{LATE}"]),
    (ReminderKind.DUE, "", [
        "🔔 The customer update for INC-7 is due now: 1 h 17 min since the last customer update, "
        "agreed every 30 min. <@U3> <@U2>: update the customer, then `/incident update &lt;what "
        f"you said&gt;`.{LATE}"]),
    (ReminderKind.ESCALATE, "", [f"{ESCALATION} Escalated to the owner and the leads.",
                                 ESCALATION, ESCALATION]),
    (ReminderKind.PROMISE_SOON, "P1", [
        "⏳ Promise P1 to Acme &lt;Corp&gt; &amp; co is due <!date^1767610800^{date_short_pretty} "
        "at {time}|2026-01-05 11:00 UTC>: “a &lt;fix&gt; &amp; more”. Keep it (`/incident kept "
        f"P1`) or tell the customer now what you can promise instead.{LATE}"]),
    (ReminderKind.PROMISE_DUE, "P1", [
        "❌ Promise P1 (“a &lt;fix&gt; &amp; more”) reached its due time without being kept: "
        f"marked missed. <@U3> <@U2>: tell the customer where things stand.{LATE}"]),
    (ReminderKind.CHECKIN, "C1", [CHECKIN, CHECKIN]),
]


def reminder_incident() -> Incident:
    inc = Incident("T1", 7, "Acme <Corp> & co", "x", "U1", T0, severity="sev1")
    inc.cadence_changes.append(CadenceChange(T0, timedelta(minutes=30), agreed=True))
    inc.owner, inc.communicator = "U2", "U3"
    inc.updates.append(CustomerUpdate(1, "hi", "U2", T0 + timedelta(minutes=5)))
    inc.promises.append(Promise(1, "a <fix> & more", T0 + timedelta(hours=2), "U2", T0))
    inc.checkins += [Checkin(1, T0 + timedelta(days=1)), Checkin(2, T0 + timedelta(days=7))]
    return inc


def test_builtin_checklists_are_the_playbook_as_it_was() -> None:
    pb = builtin_playbook()
    for step in STEPS:
        aim, items = BEFORE[step.value]
        assert pb.steps[step].aim == aim
        assert [(i.key, i.label, i.how, i.required) for i in pb.steps[step].items] == items
        assert all(i.builtin for i in pb.steps[step].items)


def test_builtin_severities_and_cadences_are_as_they_were() -> None:
    pb = builtin_playbook()
    assert [(s.name, s.description, s.cadence) for s in pb.severities] == [
        ("sev1", "critical customer, business at risk", timedelta(minutes=30)),
        ("sev2", "major: a customer's key workflow is blocked", timedelta(hours=1)),
        ("sev3", "moderate: degraded, a workaround exists", timedelta(hours=4)),
        ("sev4", "minor, single user", timedelta(days=1)),
    ]
    assert pb.default_severity == "sev2"
    assert default_policy().default_cadence("sev3") == timedelta(hours=4)


@pytest.mark.parametrize(("kind", "ref", "texts"), REMINDERS_BEFORE,
                         ids=[k.name for k, _, _ in REMINDERS_BEFORE])
def test_builtin_reminder_texts_are_as_they_were(kind: ReminderKind, ref: str,
                                                 texts: list[str]) -> None:
    due = T0 + timedelta(minutes=35)
    outcome = fire(reminder_incident(), Reminder(kind, due, ref), due + timedelta(minutes=47),
                   default_policy())
    assert outcome is not None
    said = [e.text for e in outcome.timeline]
    said += [e.text for e in outcome.effects if hasattr(e, "text")]
    assert said == texts


def test_dump_reads_back_to_the_same_playbook_and_version() -> None:
    pb = builtin_playbook()
    text = dump_playbook(pb)
    again = parse_playbook(text, "copy.toml")
    assert again.version == pb.version and again.data == pb.data
    assert dump_playbook(again) == text
    # the shipped file and its canonical form say the same thing
    assert parse_playbook(builtin_text(), "x").version == pb.version


def test_a_changed_text_is_a_new_version() -> None:
    changed = edited(lambda d: d["reminders"].update(due="Due now: {key}."))
    assert changed.version != builtin_playbook().version


# --- every kind of bad file: one line, the file, the line (and column), what is wrong -------------


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def _error(text: str) -> PlaybookFileError:
    with pytest.raises(PlaybookFileError) as caught:
        parse_playbook(text, "team.toml")
    err = caught.value
    assert "\n" not in str(err)
    return err


BUILTIN = dump_playbook(builtin_playbook())
RESTATE_PROMPT = "prompt = \"Once they have finished"


@pytest.mark.parametrize(("case", "change", "marker", "expect"), [
    ("bad syntax", lambda t: t.replace('name = "built-in"', 'name = "built-in'),
     'name = "built-in', "bad TOML syntax"),
    ("unknown step", lambda t: t + '\n[steps.triage]\nprompt = "x"\nitems = []\n',
     "[steps.triage]", "unknown step `triage`"),
    ("misspelt step", lambda t: t.replace("[steps.restate]", "[steps.restat]", 1),
     "[steps.restat]", "did you mean `restate`?"),
    ("missing required key", lambda t: "\n".join(
        line for line in t.splitlines() if not line.startswith(RESTATE_PROMPT)),
     "[steps.restate]", "missing required key `prompt` in steps.restate"),
    ("wrong type", lambda t: t.replace('name = "sev3"', "name = 3"),
     "name = 3", "severities[3].name: expected a string, got a number"),
    ("wrong type of flag", lambda t: t.replace("\nrequired = true", '\nrequired = "yes"', 1),
     'required = "yes"', "expected true or false, got a string"),
    ("unknown key", lambda t: t.replace('label = "One named owner"', 'lable = "One named owner"'),
     'lable = "One named owner"', "unknown key `lable` in steps.own.items[1] (did you mean "
     "`label`?)"),
    ("bad cadence", lambda t: t.replace('cadence = "4h"', 'cadence = "soonish"'),
     'cadence = "soonish"', "cadence `soonish` of sev3 is not a duration"),
    ("duplicate severity", lambda t: t.replace('name = "sev4"', 'name = "sev2"'),
     'description = "minor', "duplicate severity `sev2`"),
    ("gate removed", lambda t: t.replace('key = "owner"', 'key = "sponsor"').replace(
        'how = "`/incident own` (or `/incident own @someone`)"\n', ""),
     "[[steps.own.items]]", "must keep its built-in gate `owner`"),
    ("gate made optional", lambda t: t.replace(
        'how = "`/incident confirm`"\nrequired = true', 'how = "`/incident confirm`"'),
     'key = "confirmed"', "`confirmed` is a built-in gate of restate"),
    ("unknown placeholder", lambda t: t.replace("{since}, agreed", "{sinse}, agreed"),
     "due = ", "unknown placeholder `{sinse}`"),
    ("default severity unknown", lambda t: t.replace('default_severity = "sev2"',
                                                      'default_severity = "sev7"'),
     "default_severity", "default_severity `sev7` is not one of the severities"),
    ("built-in item moved", lambda t: t.replace('key = "impact"', 'key = "owner"', 1),
     'key = "owner"', "`owner` is a built-in item of step own; it can't move to listen"),
])
def test_a_bad_file_is_one_line_naming_file_line_and_problem(
        case: str, change: object, marker: str, expect: str) -> None:
    assert callable(change)
    text = change(BUILTIN)
    assert text != BUILTIN, f"{case}: the change did not apply"
    err = _error(text)
    line = _line_of(text, marker)
    if case == "duplicate severity":
        line -= 1  # the name line just above the marker
    assert err.line == line, (case, str(err))
    assert err.column is not None and str(err).startswith(f"team.toml:{line}:{err.column}: ")
    assert expect in str(err), str(err)


def test_errors_point_into_multi_line_strings_correctly() -> None:
    text = BUILTIN.replace(
        'prompt = "Stop the pain first',
        'prompt = """Stop\nkey = "not a key"\nthe pain first').replace(
        'recommend one, let the customer choose."', 'recommend one, let the customer choose."""')
    text = text.replace('how = "`/incident choose &lt;n&gt;`"', 'hw = "x"')
    text = text.replace('how = "`/incident choose <n>`"', 'hw = "x"')
    err = _error(text)
    assert err.line == _line_of(text, 'hw = "x"'), str(err)


# --- items a team adds: ticked with `/incident check`, part of the gate when required -------------

CONTRACT = {"key": "contract", "label": "Their contract tier <gold?>", "required": True,
            "value": True}


def _open(policy: Policy) -> Incident:
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity=None,
                              actor=ALICE, now=T0, policy=policy).incident
    inc.id, inc.number = 1, 7
    return inc


def _run(inc: Incident, policy: Policy, *lines: str) -> Incident:
    for line in lines:
        verb, arg = verbs.split_verb(line)
        inc = rules.run_command(inc, verb, arg, ALICE, now=T0, policy=policy).incident
    return inc


def test_a_required_added_item_holds_the_gate_until_ticked_with_its_value() -> None:
    pb = with_items("listen", CONTRACT)
    policy = Policy(playbook=pb)
    inc = _run(_open(policy), policy, "listen it is all broken", "cadence 30m")
    assert inc.step is Step.LISTEN, "the added item is part of the gate"
    assert [i.key for i in missing(inc, Step.LISTEN, pb)] == ["contract"]
    assert "`/incident check contract &lt;value&gt;`" in next_missing(inc, pb)
    with pytest.raises(ParseError, match="needs a value"):
        _run(inc, policy, "check contract")
    outcome = rules.run_command(inc, "check", "contract Gold &lt;b&gt;", ALICE, now=T0,
                                policy=policy)
    assert outcome.incident.step is Step.RESTATE
    assert outcome.incident.checks == {"contract": "Gold <b>"}
    assert "Ticked *Their contract tier &lt;gold?&gt;* (Listen)" in outcome.reply
    assert any("Listen* is complete" in e.text for e in outcome.timeline)


def test_check_refuses_unknown_and_built_in_items_helpfully() -> None:
    pb = with_items("own", {"key": "legal", "label": "Legal informed"})
    policy = Policy(playbook=pb)
    inc = _open(policy)
    with pytest.raises(NotFound, match="`legal`"):
        _run(inc, policy, "check legl")
    with pytest.raises(ParseError, match="/incident own"):
        _run(inc, policy, "check owner")
    ticked = _run(inc, policy, "check legal")
    assert ticked.checks == {"legal": ""}
    with pytest.raises(NotFound, match="no items to tick"):
        _run(_open(default_policy()), default_policy(), "check legal")


def test_close_lists_a_missing_added_item() -> None:
    pb = with_items("follow-up", {"key": "postmortem", "label": "Post-mortem doc linked",
                                  "required": True, "how": "`/incident check postmortem`"})
    policy = Policy(playbook=pb)
    inc = _open(policy)
    inc = _run(inc, policy, "own", "skip later", "skip later", "skip later")
    assert inc.step is Step.FOLLOW_UP
    with pytest.raises(GateError, match="post-mortem doc linked"):
        _run(inc, policy, "close")


def test_card_shows_the_teams_wording_and_the_typed_value() -> None:
    pb = edited(lambda d: (
        d["steps"]["listen"].update(prompt="Hear them out & write it down."),
        d["steps"]["listen"]["items"][0].update(label="Verbatim quote from the customer"),
        d["steps"]["listen"]["items"].append(CONTRACT),
        d["severities"][1].update(description="big <deal>"),
    ))
    policy = Policy(playbook=pb)
    inc = _run(_open(policy), policy, "check contract platinum")
    text = str(card(inc, T0, pb))
    assert "Hear them out &amp; write it down." in text
    assert "Verbatim quote from the customer" in text
    assert "Their contract tier &lt;gold?&gt; _(required)_: “platinum”" in text
    assert "big &lt;deal&gt;" in text


def test_severities_and_cadences_come_from_the_playbook() -> None:
    pb = edited(lambda d: d["severities"].__setitem__(0, {
        "name": "sev1", "description": "all hands", "cadence": "every 15 minutes"}))
    policy = Policy(playbook=pb)
    inc = rules.open_incident(team_id="T1", customer="Acme", description="down", severity="sev1",
                              actor=ALICE, now=T0, policy=policy).incident
    assert inc.cadence == timedelta(minutes=15)
    assert inc.playbook_version == pb.version


def test_custom_reminder_text_is_used_and_escaped() -> None:
    pb = edited(lambda d: d["reminders"].update(
        due="Ring <them> now about {key}, {who}!"))
    due = T0 + timedelta(minutes=35)
    outcome = fire(reminder_incident(), Reminder(ReminderKind.DUE, due), due, Policy(playbook=pb))
    assert outcome is not None
    assert outcome.timeline[0].text == \
        "Ring &lt;them&gt; now about INC-7, <@U3> <@U2>!"


def test_a_custom_playbook_dumps_and_reads_back() -> None:
    pb = with_items("solve", CONTRACT | {"key": "budget", "how": "ask finance"})
    again = parse_playbook(as_toml(pb), "again.toml")
    _, item = again.item("budget") or (None, None)
    assert item is not None and item.value and item.required and item.how == "ask finance"


def test_the_documented_example_is_a_valid_playbook() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "playbook-example.toml"
    example = parse_playbook(path.read_text(encoding="utf-8"), str(path))
    assert {i.key for i in example.custom_items} == {"contract", "legal", "postmortem"}
    assert example.default_cadence("sev1") == timedelta(minutes=15)


# --- YAML, for teams that prefer it (PyYAML installed) --------------------------------------------


def _yaml() -> str:
    yaml = pytest.importorskip("yaml")
    return str(yaml.safe_dump(dict(builtin_playbook().data), allow_unicode=True,
                              sort_keys=False, width=1000))


def test_yaml_reads_the_same_keys_to_the_same_playbook() -> None:
    assert parse_playbook(_yaml(), "team.yaml", syntax="yaml").version == \
        builtin_playbook().version


@pytest.mark.parametrize(("change", "marker", "expect"), [
    (lambda t: t.replace("  prompt: Once they have", "  promt: Once they have"),
     "promt:", "unknown key `promt` in steps.restate (did you mean `prompt`?)"),
    (lambda t: t.replace("cadence: 4h", "cadence: fortnightly"),
     "cadence: fortnightly", "cadence `fortnightly` of sev3"),
    (lambda t: t.replace("default_severity: sev2", "default_severity: sev2\nname: again"),
     "name: again", "duplicate key `name`"),
    (lambda t: t.replace("- name: sev4", "- name: [sev4"),
     "- name: sev4", "bad YAML syntax"),
])
def test_a_bad_yaml_file_names_the_line(change: object, marker: str, expect: str) -> None:
    assert callable(change)
    text = change(_yaml())
    with pytest.raises(PlaybookFileError) as caught:
        parse_playbook(text, "team.yaml", syntax="yaml")
    err = caught.value
    assert expect in str(err) and "\n" not in str(err)
    if marker != "- name: sev4":  # a syntax error is found where the parser gives up
        assert err.line == _line_of(text, marker), str(err)
    assert err.line is not None and err.column is not None


def test_the_longest_checklist_a_file_allows_fits_on_the_card() -> None:
    from tests.unit.test_blocks import check_message

    long_items = [{"key": f"item{n}", "label": "&" * 150, "how": "<" * 200}
                  for n in range(4)]  # the built-in listen step has 6: 10 in all
    pb = with_items("listen", *long_items)
    policy = Policy(playbook=pb)
    body = card(_open(policy), T0, pb)
    check_message(body)
    shown = "".join(b.get("text", {}).get("text", "") for b in body["blocks"])
    assert shown.count("&amp;" * 150) == 4, "every item is on the card, whole"
