-- Images per role and category, with the number of distinct instances.
SELECT role, category, count(*) AS images, count(DISTINCT instance) AS instances
FROM images
GROUP BY ALL
ORDER BY role, category;
