-- (cycle, pass) cells held by more than one granule: a combine would refuse them.
-- cycle and pass are captured from SWOT file names: run with --pattern swot.
SELECT CAST(cycle AS INT) AS cycle, CAST(pass AS INT) AS pass, count(*) AS granules
FROM granules
GROUP BY CAST(cycle AS INT), CAST(pass AS INT)
HAVING count(*) > 1
ORDER BY cycle, pass;
