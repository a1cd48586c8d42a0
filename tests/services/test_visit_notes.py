"""Visit notes as pages and the report show them: short ones whole, long ones by their opening words."""

from __future__ import annotations

from rehab.services.visits import NOTE_SHOWN_WHOLE, note_text


def test_a_short_note_is_shown_whole() -> None:
    text = note_text("  Knee felt stable on the ramp.  ")
    assert (text.whole, text.opening, text.is_long) == ("Knee felt stable on the ramp.",) * 2 + (False,)


def test_a_long_note_opens_with_whole_words_and_keeps_all_of_it() -> None:
    note = " ".join(["Patient reports stiffness after gardening"] * 30)
    text = note_text(note)
    assert text.is_long and text.whole == note
    assert len(text.opening) < NOTE_SHOWN_WHOLE and text.opening.endswith("…")
    assert note.startswith(text.opening[:-1])  # the opening is the note's own first words
    assert text.opening[:-1].split()[-1] in {"Patient", "reports", "stiffness", "after", "gardening"}


def test_a_long_note_without_spaces_is_cut_by_length() -> None:
    text = note_text("x" * 500)
    assert text.is_long and text.opening == "x" * (NOTE_SHOWN_WHOLE - 40) + "…"
