-- Headline held-out scores of the evaluated stages beside chance (the full tables: eval_<stage>).
SELECT stage, split, metric, method, round(value, 3) AS score, round(chance, 3) AS chance
FROM (
    SELECT e.*, c.value AS chance
    FROM eval_aligner e
    JOIN eval_aligner c USING (stage, split, metric, detail)
    WHERE c.method = 'chance' AND e.method NOT IN ('chance', 'data')
      AND (e.detail = 'all_edits' OR e.metric IN ('recall@1', 'recall@5'))
)
ORDER BY stage, split, metric, method;
