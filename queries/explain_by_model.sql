-- FineXL per model (latest explain run): the aspects it found shifted, most intense first, and, where
-- the model has a known truth (world profiles, known-truth snapshots), the aspects that truly shifted.
WITH e AS (SELECT * FROM explanations WHERE method = 'finexl' AND aspect <> 'summary'
           AND run_id = (SELECT max(run_id) FROM explanations)),
truth AS (
    SELECT model_id, aspect, intensity FROM world_profiles
    UNION ALL BY NAME
    SELECT model_id, aspect, intensity FROM generate_truth
)
SELECT e.model_id,
       coalesce(string_agg(e.aspect || ' ' || e.level || ' ' || printf('%.2f', e.intensity), ', '
                           ORDER BY e.intensity DESC) FILTER (WHERE e.level <> 'none'), 'none') AS explained,
       (SELECT string_agg(t.aspect || ' ' || printf('%.2f', t.intensity), ', ' ORDER BY t.intensity DESC)
        FROM truth t WHERE t.model_id = e.model_id AND t.intensity > 0) AS truth
FROM e GROUP BY e.model_id ORDER BY e.model_id;
