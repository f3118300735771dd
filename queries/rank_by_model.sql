-- Finer-Personalization Rank per model (latest rank run) beside the semantic scores and, for the
-- synthetic world, its known identity drift and number of shifted aspects: does each model's output still retrieve its own subject?
WITH s AS (SELECT * FROM rank_summary WHERE run_id = (SELECT max(run_id) FROM rank_summary)),
truth AS (
    SELECT model_id, max(intensity) FILTER (WHERE aspect = 'identity') AS identity_drift,
           count(*) FILTER (WHERE intensity > 0) AS shifted_aspects
    FROM world_profiles GROUP BY model_id
)
SELECT s.model_id,
       round(max(value) FILTER (WHERE granularity = 'instance' AND metric = 'mAP'), 3) AS inst_map,
       round(max(value) FILTER (WHERE granularity = 'subclass' AND metric = 'mAP'), 3) AS sub_map,
       round(max(value) FILTER (WHERE granularity = 'instance' AND metric = 'cmc' AND k = 1), 3) AS inst_top1,
       round(max(value) FILTER (WHERE metric = 'clip_i'), 3) AS clip_i,
       round(max(value) FILTER (WHERE metric = 'dino'), 3) AS dino,
       round(max(value) FILTER (WHERE metric = 'clip_i_map'), 3) AS clip_i_map,
       round(max(value) FILTER (WHERE metric = 'dino_map'), 3) AS dino_map,
       round(any_value(t.identity_drift)::DOUBLE, 2) AS id_drift, any_value(t.shifted_aspects) AS shifts
FROM s LEFT JOIN truth t ON t.model_id = s.model_id
GROUP BY s.model_id
ORDER BY s.model_id;
