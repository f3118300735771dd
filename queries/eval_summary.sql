-- Headline scores of each evaluated stage's latest run beside chance (`eval` holds every eval_<stage> table;
-- explain's chance is its random-concepts baseline).
WITH latest AS (
    SELECT * FROM eval WHERE run_id = (SELECT max(run_id) FROM eval e WHERE e.stage = eval.stage)
), headline AS (
    SELECT * FROM latest
    WHERE (stage = 'aligner' AND (detail = 'all_edits' OR metric IN ('recall@1', 'recall@5')))
       OR (stage = 'rank' AND metric = 'pair_accuracy' AND split IN ('control', 'faithful'))
       OR (stage = 'rank' AND split = 'reference' AND detail = 'instance' AND metric = 'mAP')
       OR (stage = 'rank' AND split = 'drift_sweep' AND metric = 'within_subject_spearman'
           AND detail LIKE 'mode=all, other=none%')
       OR (stage = 'explain' AND split = 'root' AND detail IS NULL
           AND metric IN ('explanation_accuracy', 'detection_f1'))
)
SELECT e.stage, e.split, e.metric, e.method, round(e.value, 3) AS score, round(c.value, 3) AS chance
FROM headline e
JOIN headline c ON c.stage = e.stage AND c.split = e.split AND c.metric = e.metric
                AND c.detail IS NOT DISTINCT FROM e.detail
                AND c.method = CASE e.stage WHEN 'explain' THEN 'random' ELSE 'chance' END
WHERE e.method NOT IN ('chance', 'data', 'random')
ORDER BY e.stage, e.split, e.metric, e.method;
