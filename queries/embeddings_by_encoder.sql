-- Embeddings per encoder, with their size and how many images they cover.
SELECT e.encoder, any_value(e.dim) AS dim, count(*) AS vectors,
       round(100.0 * count(*) / (SELECT count(*) FROM images), 1) AS pct_of_images
FROM embeddings e
GROUP BY ALL
ORDER BY e.encoder;
