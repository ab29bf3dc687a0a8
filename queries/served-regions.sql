-- Successful Bedrock invocations by the Region that served them (unknown: not in the logs), with share of the total
-- Grouped by the stored columns first (cheap to hash), then by their labels: a Region
-- literally named 'unknown' in the logs is still counted once with the unplaced ones.
SELECT
    coalesce(served_region, 'unknown') AS served_region,
    coalesce(served_geography, 'unknown') AS served_geography,
    sum(n) AS invocations,
    round(100.0 * sum(n) / sum(sum(n)) OVER (), 2) AS share_pct
FROM (
    SELECT served_region, served_geography, count(*) AS n
    FROM invocations
    WHERE error_code IS NULL
    GROUP BY served_region, served_geography
)
GROUP BY coalesce(served_region, 'unknown'), coalesce(served_geography, 'unknown')
ORDER BY invocations DESC, served_region
