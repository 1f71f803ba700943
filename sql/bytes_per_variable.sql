-- Stored (compressed) bytes and chunks per variable over the collection.
SELECT name AS variable, count(*) AS granules, sum(stored_bytes) AS stored_bytes, sum(n_chunks) AS chunks
FROM variables
GROUP BY name
ORDER BY stored_bytes DESC, variable;
