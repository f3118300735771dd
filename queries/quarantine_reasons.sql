-- Why items were refused, per stage.
SELECT stage, reason, count(*) AS items, any_value(source) AS example
FROM quarantine
GROUP BY ALL
ORDER BY items DESC;
