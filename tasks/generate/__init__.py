"""The generate stage: personalize a real generator on a subject, draw base/personalized twins, score them.

Entry points: `run_generate(GenerateParams, out_dir)` (the main job's default work), `run_job(job, out_dir)`
for one YAML personalization job (`load_job(path)`), and `python -m persona_lens.tasks.generate.job JOB OUT`
to run one job in its own process (resumable from its checkpoints).
"""

from persona_lens.tasks.generate.checkpoints import CheckpointError
from persona_lens.tasks.generate.params import GenerateParams, PersonalizationJob, load_job
from persona_lens.tasks.generate.personalize import TrainConfig, personalize
from persona_lens.tasks.generate.stage import GenerateResult, run_generate, run_job
from persona_lens.tasks.generate.subjects import SubjectError

__all__ = ["CheckpointError", "GenerateParams", "GenerateResult", "PersonalizationJob", "SubjectError",
           "TrainConfig", "load_job", "personalize", "run_generate", "run_job"]
