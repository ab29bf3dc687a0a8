-- Successful invocations per day (UTC) and served geography (unknown: served Region not in the logs)
SELECT
    CAST(event_time AS DATE) AS day,
    coalesce(served_geography, 'unknown') AS served_geography,
    count(*) AS invocations
FROM invocations
WHERE error_code IS NULL
GROUP BY CAST(event_time AS DATE), coalesce(served_geography, 'unknown')
ORDER BY day, served_geography
