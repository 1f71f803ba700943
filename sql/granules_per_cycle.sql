-- Granules per cycle, from the global attribute.
SELECT CAST(attrs['cycle_number'] AS INT) AS cycle, count(*) AS granules
FROM granules
GROUP BY CAST(attrs['cycle_number'] AS INT)
ORDER BY cycle;
