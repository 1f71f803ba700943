-- Which shapes exist, and how many granules have each.
SELECT dims['num_lines'] AS num_lines, dims['num_pixels'] AS num_pixels, count(*) AS granules
FROM granules
GROUP BY dims['num_lines'], dims['num_pixels']
ORDER BY granules DESC, num_lines DESC;
