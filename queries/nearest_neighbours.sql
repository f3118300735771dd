-- The $k images nearest to one image under one encoder, by cosine similarity.
-- Parameters: $encoder; $image, an image_id or an instance name; $k.
-- One pass over that encoder's vectors with a top-k (ORDER BY … LIMIT): linear in the data, never an
-- n × n join. The vectors are L2-normalised (schemas: embeddings), so the inner product is the cosine.
WITH target AS (
  SELECT e.image_id, e.vector
  FROM embeddings e JOIN images i USING (image_id)
  WHERE e.encoder = $encoder AND (e.image_id = $image OR i.instance = $image)
  ORDER BY e.image_id
  LIMIT 1
)
SELECT i.instance AS image, e.image_id, round(list_inner_product(e.vector, t.vector), 4) AS cosine
FROM embeddings e CROSS JOIN target t
JOIN images i ON i.image_id = e.image_id
WHERE e.encoder = $encoder AND e.image_id <> t.image_id
ORDER BY cosine DESC, e.image_id
LIMIT $k;
