"""Checkpoints: a killed training resumes to the same weights; another base model's checkpoint is refused."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from persona_lens.models.gan import from_pil
from persona_lens.tasks.generate import CheckpointError, PersonalizationJob, TrainConfig, personalize, run_job
from persona_lens.tasks.generate.checkpoints import list_checkpoints, read_adapter
from persona_lens.tasks.generate.subjects import packaged_subject
from tests.tasks.generate.conftest import tiny_job

FAST = dict(steps=6, checkpoint_every=2, inversion_steps=2, inversion_candidates=8, locality_batch=2)


@pytest.fixture(scope="module")
def refs():
    return from_pil(packaged_subject("astronaut", 3).references)


def test_the_same_seed_gives_the_same_weights_and_checkpoints_are_periodic(tmp_path, refs, base):
    a = personalize(refs, TrainConfig("lora", **FAST), base=base, checkpoint_dir=str(tmp_path / "a"))
    b = personalize(refs, TrainConfig("lora", **FAST), base=base)
    c = personalize(refs, TrainConfig("lora", **{**FAST, "seed": 1}), base=base)
    assert all(torch.equal(a.adapter[k], b.adapter[k]) for k in a.adapter)
    assert not all(torch.equal(a.adapter[k], c.adapter[k]) for k in a.adapter)
    assert [s for s, _ in list_checkpoints(str(tmp_path / "a"))] == [2, 4, 6]


def test_a_checkpoint_of_another_base_model_is_refused(tmp_path, refs, base):
    personalize(refs, TrainConfig("full", **FAST), base=base, checkpoint_dir=str(tmp_path))
    other = type(base)()
    other.load_state_dict(base.state_dict())
    with torch.no_grad():
        other.main[0].weight.add_(0.01)
    with pytest.raises(CheckpointError, match="trained from another base model"):
        personalize(refs, TrainConfig("full", **FAST), base=other, checkpoint_dir=str(tmp_path))
    with pytest.raises(CheckpointError, match="belongs to another job"):
        personalize(refs, TrainConfig("full", **{**FAST, "locality_weight": 2.0}), base=base,
                    checkpoint_dir=str(tmp_path))


def test_a_training_killed_mid_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    job = tiny_job(tmp_path)
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    ckpts = killed / "checkpoints" / "dcgan-face-64-lora-eileen"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-m", "persona_lens.tasks.generate.job", str(tmp_path / "job.yaml"),
                             str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list_checkpoints(str(ckpts)) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps = [s for s, _ in list_checkpoints(str(ckpts))]
    assert steps and max(steps) < 30, f"the process must die mid-training, checkpoints at {steps}"
    parsed = PersonalizationJob.parse(job)
    run_job(parsed, str(killed))      # resumes from the last checkpoint
    run_job(parsed, str(clean))       # uninterrupted, same seed
    a, _ = read_adapter(str(killed / "dcgan-face-64-lora-eileen.safetensors"))
    b, _ = read_adapter(str(clean / "dcgan-face-64-lora-eileen.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [s for s, _ in list_checkpoints(str(ckpts))][-1] == 30
