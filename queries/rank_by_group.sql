-- Finer-Personalization Rank per look-alike group (the paper's protocol): each model's pictures ranked
-- only among the gallery images of its subject's group (the subject's subclass: a breed, a CUB genus,
-- a car make), so in_group_map says whether the model kept *this* individual against its nearest
-- look-alikes, whatever else the gallery holds. One row per group and personalized model, with the
-- group's size in the gallery, its mean over models, and the whole-gallery instance mAP beside it.
WITH groups AS (
    SELECT instance, any_value(subclass) AS look_alike_group
    FROM images WHERE role = 'gallery' AND instance IS NOT NULL GROUP BY instance
), sizes AS (
    SELECT look_alike_group, count(*) AS individuals FROM groups GROUP BY look_alike_group
), per_model AS (
    SELECT g.look_alike_group, s.model_id, s.subject,
           max(s.value) FILTER (WHERE s.granularity = 'instance_in_group' AND s.metric = 'mAP') AS in_group_map,
           max(s.value) FILTER (WHERE s.granularity = 'instance_in_group' AND s.metric = 'cmc' AND s.k = 1)
               AS in_group_cmc1,
           max(s.value) FILTER (WHERE s.granularity = 'instance' AND s.metric = 'mAP') AS instance_map
    FROM rank_summary s JOIN groups g ON g.instance = s.subject
    WHERE s.model_id IN (SELECT model_id FROM generations WHERE method <> 'base')
    GROUP BY g.look_alike_group, s.model_id, s.subject
)
SELECT p.look_alike_group, z.individuals, p.model_id, p.subject,
       round(p.in_group_map, 3) AS in_group_map, round(p.in_group_cmc1, 3) AS in_group_cmc1,
       round(p.instance_map, 3) AS instance_map,
       round(avg(p.in_group_map) OVER (PARTITION BY p.look_alike_group), 3) AS group_mean_map
FROM per_model p JOIN sizes z USING (look_alike_group)
ORDER BY p.look_alike_group, p.in_group_map DESC, p.model_id;
