-- Which of my models kept the subject's identity best? Per subject, every personalized model by the
-- instance mAP of its pictures against the identity-labelled gallery (higher: its pictures retrieve the
-- subject itself, not look-alikes), as a share of what the subject's real pictures reach (preservation:
-- 1.0 = as identifiable as a real photo), with the CLIP-I score beside it (which rewards look-alikes too).
-- rank_summary holds each model's latest ranking (tables are sets by key); base models are left out.
WITH per_model AS (
    SELECT s.subject, s.model_id,
           max(s.value) FILTER (WHERE s.granularity = 'instance' AND s.metric = 'mAP') AS instance_map,
           max(s.value) FILTER (WHERE s.granularity = 'instance' AND s.metric = 'preservation') AS preservation,
           max(s.value) FILTER (WHERE s.metric = 'clip_i') AS clip_i
    FROM rank_summary s
    WHERE s.subject IS NOT NULL
      AND s.model_id IN (SELECT model_id FROM generations WHERE method <> 'base')
    GROUP BY s.subject, s.model_id
)
SELECT subject, model_id, round(instance_map, 3) AS instance_map, round(preservation, 3) AS preservation,
       round(clip_i, 3) AS clip_i,
       rank() OVER (PARTITION BY subject ORDER BY instance_map DESC) AS identity_rank
FROM per_model
ORDER BY subject, identity_rank, model_id;
