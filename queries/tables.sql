-- Rows per table of the dataset (the main job's summary).
SELECT 'images' AS "table", count(*) AS "rows" FROM images
UNION ALL SELECT 'quarantine', count(*) FROM quarantine
UNION ALL SELECT 'generations', count(*) FROM generations
UNION ALL SELECT 'attention', count(*) FROM attention
UNION ALL SELECT 'captions', count(*) FROM captions
UNION ALL SELECT 'embeddings', count(*) FROM embeddings
UNION ALL SELECT 'text_embeddings', count(*) FROM text_embeddings
UNION ALL SELECT 'world_identities', count(*) FROM world_identities
UNION ALL SELECT 'world_profiles', count(*) FROM world_profiles
UNION ALL SELECT 'world_viewers', count(*) FROM world_viewers
UNION ALL SELECT 'eval_aligner', count(*) FROM eval_aligner
UNION ALL SELECT 'runs', count(*) FROM runs;
