-- Granules CMR lists that the inventory lacks (not scanned yet, or failed: see `errors`), for a
-- pipeline with a CMR source: `granary sql STATE/inventory -f sql/cmr_not_inventoried.sql`
-- (docs/cmr.md). `why` is the error of a granule that failed, NULL if it was never scanned.
SELECT c.native_id, c.url, c.revision_date, e.stage, e.message AS why
FROM cmr_granules c
LEFT JOIN granules g ON g.url = c.url
LEFT JOIN errors e ON e.url = c.url AND e.array IS NULL
WHERE g.url IS NULL
ORDER BY c.native_id;
