"""Patient text and drawings that face the right way, and evidence labels that say what each source is."""

from __future__ import annotations

import re

import pytest

from rehab.services.catalogue import evidence_label, exercises, illustration_svg, references, templates

TREADMILLS = ("treadmill_rails", "incline_treadmill", "deadmill_push")


@pytest.mark.parametrize("key", TREADMILLS)
@pytest.mark.parametrize(("language", "away", "wrong"), [
    ("en", "away from the screen", ("facing the front", "facing the console", "Lean forward")),
    ("es", "de espaldas a la pantalla", ("mirando hacia el frente", "mirando al frente", "hacia adelante y doble")),
])
def test_treadmill_steps_face_away_from_the_console(key, language, away, wrong):
    """On an ordinary treadmill the belt runs toward the back: someone walking backward while facing the
    console is carried off the back. Facing away is right, for the dead-mill too (its belt then moves its
    usual way)."""
    steps = " ".join(exercises()[key].text(language).steps)
    assert away in steps
    assert not any(phrase in steps for phrase in wrong)


@pytest.mark.parametrize(("language", "feet_off", "start"), [
    ("en", "one foot on each side of the belt", "Start the belt"),
    ("es", "un pie a cada lado de la banda", "Ponga la banda a la velocidad más lenta")])
@pytest.mark.parametrize("key", ["treadmill_rails", "incline_treadmill"])
def test_the_patient_is_off_the_belt_when_it_starts(key, language, feet_off, start):
    steps = list(exercises()[key].text(language).steps)
    off = next(n for n, step in enumerate(steps) if feet_off in step)
    starts = next(n for n, step in enumerate(steps) if start in step)
    assert off < starts  # feet on the side frames first, then the belt starts


def test_the_incline_text_walks_backward_uphill():
    assert "up the slope" in " ".join(exercises()["incline_treadmill"].text("en").steps)
    assert "cuesta arriba" in " ".join(exercises()["incline_treadmill"].text("es").steps)


def _arrow(svg: str) -> tuple[float, float]:
    """The direction-of-travel arrow: where its shaft starts and where its head points (x)."""
    shaft = re.search(r'<path d="M(\d+) 28 H(\d+)" stroke-width="6"/>', svg)
    head = re.search(r'<path d="M(\d+) 28 L', svg)
    assert shaft and head
    return float(shaft[1]), float(head[1])


@pytest.mark.parametrize("key", TREADMILLS)
def test_treadmill_drawings_face_away_and_step_toward_the_console(key):
    """The console stands at the right (x about 200); the person is drawn facing right and mirrored, so they
    face away from it; the arrow (the way they step) points right, toward the console."""
    svg = illustration_svg(key)
    assert "facing away from the console" in svg.split("</title>")[0]
    person = svg.split("<!-- person", 1)[1]
    assert re.search(r'<g stroke-width="4" transform="matrix\(-1 ', person)  # mirrored: faces left, away
    tail, tip = _arrow(svg)
    assert tip > tail > 120  # behind the person, pointing at the console


def test_the_incline_drawing_is_uphill_toward_the_raised_console():
    """Cipriani 1995 studied backward walking uphill: the console end is raised (the deck is turned
    counter-clockwise) and the person steps back toward it."""
    svg = illustration_svg("incline_treadmill")
    assert 'rotate(-5.7 44 151)' in svg  # negative angle: the right (console) end is higher
    assert "uphill" in svg.split("</title>")[0]
    tail, tip = _arrow(svg)
    assert tip > tail


@pytest.mark.parametrize(("key", "level", "label"), [
    ("lbpp2023", "protocol", "Trial protocol, no results yet"),
    ("silbernagel2007", "extrapolated", "Trial in another condition (extrapolated)"),
    ("perturbation_trial", "expert", "Expert opinion"),
    ("alghadir2019", "rct", "Randomised trials"),
])
def test_each_source_is_labelled_for_what_it_is(key, level, label):
    assert references()[key].level == level
    assert evidence_label(level) == label
    assert evidence_label(level, "es") != label  # translated


def test_the_pain_model_says_it_comes_from_achilles_tendinopathy():
    assert "Achilles tendinopathy" in references()["silbernagel2007"].citation
    assert "extrapolated" in references()["silbernagel2007"].citation


def test_an_exclusion_criterion_is_not_cited_as_evidence():
    citation = references()["perturbation_trial"].citation
    assert "exclusion criterion, not a finding" in citation and references()["perturbation_trial"].level == "expert"


def test_partner_walking_at_home_is_expert_opinion_not_trial_evidence():
    """The knee-OA trials supervised every session in the clinic."""
    partner = exercises()["overground_partner"]
    assert partner.evidence == "expert"
    assert "supervised" in partner.text().clinician_note and "expert opinion" in partner.text().clinician_note
    assert "expert opinion" in templates()["knee_oa"].text("summary")


def test_every_level_used_has_a_label_in_both_languages():
    levels = {ref.level for ref in references().values()} | {ex.evidence for ex in exercises().values()} | {
        template.evidence for template in templates().values()}
    for level in levels:
        assert evidence_label(level) != level and evidence_label(level, "es") != level
