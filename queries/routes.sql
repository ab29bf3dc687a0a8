-- Source Region -> served Region routes of successful invocations (unknown: not in the logs), with counts and share
SELECT
    aws_region AS source_region,
    coalesce(served_region, 'unknown') AS served_region,
    count(*) AS invocations,
    round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct,
    round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY aws_region), 2) AS share_of_source_pct
FROM invocations
WHERE error_code IS NULL
GROUP BY aws_region, coalesce(served_region, 'unknown')
ORDER BY invocations DESC, source_region, served_region
