-- DEPER on held-out viewers (latest eval-describe run): each method's caption scores at each K beside
-- the frozen captioner and the style-only persona, and DEPER's relative gain over style-only.
WITH d AS (SELECT * FROM eval WHERE stage = 'describe')
SELECT method, metric, CAST(json_extract(detail, '$.k') AS INTEGER) AS k, round(value, 3) AS score,
       CAST(json_extract(detail, '$.n') AS INTEGER) AS queries
FROM d
WHERE run_id = (SELECT max(run_id) FROM d)
  AND metric IN ('cider', 'rouge_l', 'sss', 'object_f1', 'subject_discrimination', 'cider_gain', 'object_f1_gain')
ORDER BY k, metric, method;
