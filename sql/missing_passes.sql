-- (cycle, pass) cells with no granule, over the cycles and passes seen in the collection
-- (cycle and pass are captured from SWOT file names: run with --pattern swot).
WITH present AS (SELECT DISTINCT CAST(cycle AS INT) AS cycle, CAST(pass AS INT) AS pass FROM granules),
     cycles AS (SELECT DISTINCT cycle FROM present),
     passes AS (SELECT DISTINCT pass FROM present)
SELECT c.cycle, p.pass
FROM cycles c CROSS JOIN passes p
LEFT JOIN present x ON x.cycle = c.cycle AND x.pass = p.pass
WHERE x.cycle IS NULL
ORDER BY c.cycle, p.pass;
