-- Successful Bedrock invocations by the Region that served them (unknown: not in the logs), with share of the total
SELECT
    coalesce(served_region, 'unknown') AS served_region,
    coalesce(served_geography, 'unknown') AS served_geography,
    count(*) AS invocations,
    round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM invocations
WHERE error_code IS NULL
GROUP BY coalesce(served_region, 'unknown'), coalesce(served_geography, 'unknown')
ORDER BY invocations DESC, served_region
