-- The known personalization of every simulated model of the world: its shifted aspects, strongest first.
SELECT model_id, subject, aspect, concept, round(intensity, 2) AS intensity
FROM world_profiles
WHERE intensity > 0
ORDER BY model_id, intensity DESC;
