-- Successful Bedrock invocations by the Region that served them (unknown: not in the logs), with share of the total
-- Counted by served_region alone, its geography looked up once per Region afterwards
-- (served_geography is geography(served_region)): one column read and hashed, not two. The
-- outer grouping by label counts a Region literally named 'unknown' with the unplaced ones.
SELECT
    coalesce(served_region, 'unknown') AS served_region,
    coalesce(geography(served_region), 'unknown') AS served_geography,
    sum(n) AS invocations,
    round(100.0 * sum(n) / sum(sum(n)) OVER (), 2) AS share_pct
FROM (
    SELECT served_region, count(*) AS n
    FROM invocations
    WHERE error_code IS NULL
    GROUP BY served_region
)
GROUP BY coalesce(served_region, 'unknown'), coalesce(geography(served_region), 'unknown')
ORDER BY invocations DESC, served_region
