-- Daily (L3-like) granules combined along time: a TIMESTAMP column becomes a CF time
-- coordinate that xarray decodes to datetime64 (docs/combine.md, "Time"). Here the time comes
-- from the global attribute time_coverage_start; any TIMESTAMP or DATE expression works.
-- Granules that already have a `time` dimension (hourly files with time of length 1 or more)
-- are concatenated along it instead, ordered by this column; their `time` values are read,
-- checked to increase without overlap, and written inline (docs/combine.md).
SELECT url,
       CAST(attrs['time_coverage_start'] AS TIMESTAMP) AS time
FROM granules
ORDER BY time;
