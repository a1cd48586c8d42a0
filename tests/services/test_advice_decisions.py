"""What a decision form states about the advice it showed, and why a decision on it is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rehab.services.advice.decisions import AdviceShown, what_changed

SHOWN = AdviceShown("advance", "minutes 5 → 7", protocol_version=3, phase=1, newest_visit=12, newest_home_log=None)
HEADLINE = "Advance: minutes 5 → 7"


def test_the_form_states_plain_fields_and_reads_them_back():
    fields = SHOWN.fields()
    assert fields == {"advice": "advance", "change": "minutes 5 → 7", "protocol_version": "3", "phase": "1",
                      "newest_visit": "12", "newest_home_log": ""}
    assert AdviceShown.from_form(fields) == SHOWN


@pytest.mark.parametrize("form", [{}, {**SHOWN.fields(), "phase": "one"}, {**SHOWN.fields(), "newest_visit": "x"},
                                  {"advice": "advance", "change": "minutes 5 → 7"}])
def test_a_form_that_states_nothing_usable_reads_as_nothing(form):
    assert AdviceShown.from_form(form) is None
    refusal = what_changed(None, SHOWN, headline=HEADLINE)
    assert refusal == "The advice changed since you opened the page. Review it again."


@pytest.mark.parametrize(("now", "says"), [
    (SHOWN, None),
    (replace(SHOWN, kind="repeat", change=""), "it now says “Repeat this level”"),
    (replace(SHOWN, change="speed 1.2 km/h → 1.4 km/h"), "it now says “Repeat this level”"),
    (replace(SHOWN, protocol_version=4), "the protocol is now at version 4, phase 1"),
    (replace(SHOWN, phase=2), "the protocol is now at version 3, phase 2"),
    (replace(SHOWN, newest_visit=13), "a visit was recorded or removed"),
    (replace(SHOWN, newest_visit=None), "a visit was recorded or removed"),
    (replace(SHOWN, newest_home_log=4), "the patient logged a home session"),
])
def test_the_refusal_says_what_changed(now, says):
    changed = what_changed(SHOWN, now, headline="Repeat this level")
    if says is None:
        assert changed is None
    else:
        assert changed == f"The advice changed since you opened the page: {says}. Review it again."
