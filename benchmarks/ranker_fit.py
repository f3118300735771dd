"""The identity ranker's fit at gallery scale: the stage's one-pass shrinkage LDA against scikit-learn's.

    .venv/bin/python benchmarks/ranker_fit.py [--identities 100 500 2000] [--per-identity 10] [--dim 2912]
                                              [--sklearn-up-to 500]

Both fit the same projection (tests/tasks/rank/test_ranker.py checks they agree): scikit-learn's
`LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.3)` builds a d × d shrunk covariance per
identity and solves for all d eigenvectors; the stage (`tasks.rank.ranker.shrinkage_lda_scalings`)
pools them in one pass and solves for the top n_classes − 1 only. Also timed in the same run: the
scatter matrices alone (`lda_scatter`: the pass over the data any exact fit makes, the floor) and
scatter + the full generalized eigh (what the stage would cost solving for every eigenpair).
Prints seconds, `ratio vs scatter floor` (stage / floor) and the speed-up over scikit-learn where it was
run (too slow beyond `--sklearn-up-to` identities).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import scipy.linalg

SHRINKAGE = 0.3


def gallery(identities: int, per_identity: int, dim: int, rng: np.random.Generator):
    labels = np.repeat(np.arange(identities), per_identity)
    x = rng.standard_normal((identities, dim), dtype=np.float32)[labels]
    x += 2.0 * rng.standard_normal(x.shape, dtype=np.float32)
    return x, labels.astype(str)


def seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--identities", type=int, nargs="+", default=[100, 500, 2000])
    ap.add_argument("--per-identity", type=int, default=10)
    ap.add_argument("--dim", type=int, default=2912)
    ap.add_argument("--sklearn-up-to", type=int, default=500)
    args = ap.parse_args()

    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from persona_lens.tasks.rank.ranker import lda_scatter, shrinkage_lda_scalings

    rng = np.random.default_rng(0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, numpy {np.__version__}; "
          f"{args.per_identity} pictures per identity, {args.dim}-d, shrinkage {SHRINKAGE}")
    for n in args.identities:
        x, labels = gallery(n, args.per_identity, args.dim, rng)
        t = time.perf_counter()
        between, within = lda_scatter(x, labels, SHRINKAGE)
        scatter = time.perf_counter() - t
        full_eigh = seconds(lambda: scipy.linalg.eigh(between, within))
        stage = seconds(lambda: shrinkage_lda_scalings(x, labels, SHRINKAGE))
        line = (f"identities {n:5d}: stage {stage:7.2f} s  scatter floor {scatter:6.2f} s  ratio vs scatter floor: "
                f"{stage / scatter:.2f}  (scatter + full eigh {scatter + full_eigh:6.2f} s)")
        if n <= args.sklearn_up_to:
            sk = seconds(lambda: LinearDiscriminantAnalysis(solver="eigen", shrinkage=SHRINKAGE).fit(x, labels))
            line += f"  scikit-learn {sk:7.2f} s  speed-up vs scikit-learn: {sk / stage:.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
