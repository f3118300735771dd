-- For each image, its nearest other image by cosine similarity under one encoder (parameter $encoder).
WITH pairs AS (
  SELECT x.image_id AS a_id, y.image_id AS b_id,
         list_cosine_similarity(x.vector, y.vector) AS sim
  FROM embeddings x JOIN embeddings y
    ON x.encoder = y.encoder AND x.image_id <> y.image_id
  WHERE x.encoder = $encoder
)
SELECT a.instance AS image, b.instance AS nearest, round(p.sim, 3) AS cosine
FROM pairs p
JOIN images a ON a.image_id = p.a_id
JOIN images b ON b.image_id = p.b_id
QUALIFY row_number() OVER (PARTITION BY p.a_id ORDER BY p.sim DESC) = 1
ORDER BY cosine DESC;
