-- Successful invocations per day (UTC) and served geography
SELECT
    CAST(event_time AS DATE) AS day,
    served_geography,
    count(*) AS invocations
FROM invocations
WHERE error_code IS NULL
GROUP BY CAST(event_time AS DATE), served_geography
ORDER BY day, served_geography
