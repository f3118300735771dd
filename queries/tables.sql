-- Rows per table of the dataset (the main job's summary).
SELECT 'images' AS "table", count(*) AS "rows" FROM images
UNION ALL SELECT 'quarantine', count(*) FROM quarantine
UNION ALL SELECT 'embeddings', count(*) FROM embeddings
UNION ALL SELECT 'text_embeddings', count(*) FROM text_embeddings
UNION ALL SELECT 'runs', count(*) FROM runs;
