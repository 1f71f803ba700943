-- Granules of the most common shape, with their concat coordinates: the selection of a
-- reference set (combining needs one shape; docs/python-baseline.md "mixed shapes").
SELECT url,
       CAST(attrs['cycle_number'] AS INT) AS cycle_num,
       CAST(attrs['pass_number'] AS INT) AS pass_num
FROM granules
WHERE dims['num_lines'] = (
        SELECT dims['num_lines'] FROM granules
        GROUP BY dims['num_lines']
        ORDER BY count(*) DESC, dims['num_lines'] DESC
        LIMIT 1)
  AND dims['num_pixels'] = 71
ORDER BY cycle_num, pass_num;
