-- Which of my models kept the subject's identity best? Per subject, every personalized model of the
-- latest rank run by instance mAP of its pictures against the identity-labelled gallery (higher: its
-- pictures retrieve the subject itself, not look-alikes), with the CLIP-I score beside it (which
-- rewards look-alikes too).
WITH s AS (SELECT * FROM rank_summary WHERE run_id = (SELECT max(run_id) FROM rank_summary)),
subjects AS (SELECT DISTINCT model_id, subject FROM generations WHERE method <> 'base' AND subject IS NOT NULL),
per_model AS (
    SELECT m.subject, s.model_id,
           max(s.value) FILTER (WHERE s.granularity = 'instance' AND s.metric = 'mAP') AS instance_map,
           max(s.value) FILTER (WHERE s.metric = 'clip_i') AS clip_i
    FROM s JOIN subjects m ON m.model_id = s.model_id
    GROUP BY m.subject, s.model_id
)
SELECT subject, model_id, round(instance_map, 3) AS instance_map, round(clip_i, 3) AS clip_i,
       rank() OVER (PARTITION BY subject ORDER BY instance_map DESC) AS identity_rank
FROM per_model
ORDER BY subject, identity_rank, model_id;
