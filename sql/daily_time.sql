-- Daily (L3-like) granules combined along time: a TIMESTAMP column becomes a CF time
-- coordinate that xarray decodes to datetime64 (docs/combine.md, "Time"). Here the time comes
-- from the global attribute time_coverage_start; any TIMESTAMP or DATE expression works.
SELECT url,
       CAST(attrs['time_coverage_start'] AS TIMESTAMP) AS time
FROM granules
ORDER BY time;
