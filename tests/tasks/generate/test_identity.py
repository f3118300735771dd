"""A short default LoRA personalization measurably moves the faces to the subject (dlib distances)."""

import numpy as np

from persona_lens.models.face import SAME_PERSON_DISTANCE, load_face_encoder
from persona_lens.models.gan import from_pil, generate, to_pil
from persona_lens.tasks.generate import TrainConfig, personalize
from persona_lens.tasks.generate.evaluate import bootstrap_ci, eval_rows, identity_gain
from persona_lens.tasks.generate.inversion import subject_latents
from persona_lens.tasks.generate.subjects import packaged_subject
from persona_lens.tasks.generate.tables import eval_table_of


def test_lora_personalized_twins_are_much_closer_to_the_subject_than_base_twins(base):
    subject = packaged_subject("astronaut", 6)
    p = personalize(from_pil(subject.references), TrainConfig("lora", steps=60), base=base)
    z = subject_latents(p.pivots, seed=7, n=12)
    g = identity_gain(load_face_encoder(), subject.references, to_pil(generate(base, z)), to_pil(generate(p.model, z)))
    lo, hi = bootstrap_ci(g.gain)
    assert lo > 0.05, f"gain {g.gain.mean():.3f}, CI [{lo:.3f}, {hi:.3f}]"
    assert (g.personalized_distance < SAME_PERSON_DISTANCE).mean() >= (g.base_distance < SAME_PERSON_DISTANCE).mean() + 0.25
    rows = eval_rows("m", "lora", g)
    assert eval_table_of(rows).num_rows == len(rows)


def test_bootstrap_ci_brackets_the_mean_and_is_nan_for_one_value():
    v = np.array([0.1, 0.2, 0.3, 0.4])
    lo, hi = bootstrap_ci(v)
    assert lo <= v.mean() <= hi
    assert np.isnan(bootstrap_ci(np.array([1.0]))[0])
