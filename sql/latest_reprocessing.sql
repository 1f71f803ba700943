-- The latest processing of every (cycle, pass) of a SWOT collection that holds several (a
-- forward-processed PIC0 granule and its PGC0 reprocessing, or product counters 01 and 02 of one
-- CRID), with the `swot` file-name preset (`--pattern swot`: columns crid and counter). The
-- precedence of CRIDs is the collection's: list them in the CASE from oldest to newest.
SELECT url, cycle, pass, crid, counter
FROM (
    SELECT url, cycle, pass, crid, counter,
           row_number() OVER (
               PARTITION BY cycle, pass
               ORDER BY CASE crid WHEN 'PIC0' THEN 1 WHEN 'PGC0' THEN 2 ELSE 0 END DESC,
                        crid DESC, counter DESC) AS newest
    FROM granules
) AS ranked
WHERE newest = 1
ORDER BY cycle, pass;
