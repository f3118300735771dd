"""Bad configuration is refused up front, with the field and the value named."""

import pytest
import yaml

from persona_lens.tasks.generate import GenerateParams, PersonalizationJob, load_job
from persona_lens.tasks.params import ConfigError
from tests.tasks.generate.conftest import tiny_job


def test_defaults_personalize_two_subjects_with_both_methods_and_keep_truth_snapshots():
    p = GenerateParams.parse()
    assert len(p.subjects) >= 2 and set(p.methods) == {"lora", "full"} and p.truth and len(p.truth_steps) >= 2


@pytest.mark.parametrize("over, match", [
    ({"method": "dreamboth"}, r"'method'.*unknown method 'dreamboth'"),
    ({"generator": "/no/such/model"}, r"'generator'.*not an existing folder"),
    ({"subject": {"name": "x", "packaged": "mona_lisa"}}, r"'subject'.*unknown packaged photo 'mona_lisa'"),
    ({"subject": {"name": "x"}}, r"'subject'.*exactly one of"),
    ({"shifts": ["style:a crayon drawing@0.5"]}, r"'shifts.*has no concept 'a crayon drawing'"),
    ({"shifts": ["style:a pencil sketch@1.5"]}, r"'shifts.*intensity must be in \(0, 1\]"),
    ({"snapshot_steps": [99]}, r"snapshot_steps must lie in \[1, training.steps=30\]"),
    ({"num_references": 2}, r"'num_references'"),
    ({"colour": "red"}, r"unknown parameter 'colour'"),
])
def test_a_bad_job_names_the_field(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match):
        PersonalizationJob.parse(tiny_job(tmp_path, **over))


def test_a_model_folder_without_weights_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="has no weights.tar"):
        PersonalizationJob.parse(tiny_job(tmp_path, generator=str(tmp_path)))


def test_job_yaml_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(tiny_job(tmp_path, method="textual")))
    with pytest.raises(ConfigError, match=r"job\.yaml.*'method'"):
        load_job(path)
    path.write_text(yaml.safe_dump(tiny_job(tmp_path)))
    assert load_job(path).training.steps == 30


def test_stage_params_refuse_unknown_methods_and_subjects():
    with pytest.raises(ConfigError, match=r"'methods.*unknown method 'gan'"):
        GenerateParams.parse(methods=["gan"])
    with pytest.raises(ConfigError, match=r"'subjects.*neither a packaged photo"):
        GenerateParams.parse(subjects=["nobody"])
