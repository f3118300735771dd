"""The training progress bar: drawn on a terminal, silent elsewhere; a resumed run starts part-way."""

import io

import pytest

from persona_lens.models.gan import from_pil
from persona_lens.tasks.generate import TrainConfig, personalize
from persona_lens.tasks.generate.progress import training_bar
from persona_lens.tasks.generate.subjects import packaged_subject


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_drawn_on_a_terminal_and_counts_from_the_resumed_step():
    out = Terminal()
    with training_bar("lora", total=10, start=4, file=out) as bar:
        bar.update(6)
        bar.refresh()
    text = out.getvalue()
    assert "lora training" in text and "10/10" in text and "4/10" in text


def test_the_bar_stays_silent_when_the_stream_is_not_a_terminal():
    out = io.StringIO()
    with training_bar("full", total=5, file=out) as bar:
        bar.update(5)
    assert out.getvalue() == ""


@pytest.mark.parametrize("method", ["lora", "full"])
def test_personalization_shows_its_steps_and_loss_on_a_terminal(base, method):
    refs = from_pil(packaged_subject("astronaut", 3).references)
    out = Terminal()
    personalize(refs, TrainConfig(method, steps=3, inversion_steps=1, inversion_candidates=4, locality_batch=2),
                base=base, progress=out)
    assert f"{method} training" in out.getvalue() and "/3 [" in out.getvalue()
