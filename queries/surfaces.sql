-- Successful invocations by inference surface (runtime, mantle, knowledge-base, claude-platform, ...) and served geography (unknown: not in the logs)
SELECT
    surface,
    coalesce(served_geography, 'unknown') AS served_geography,
    count(*) AS invocations,
    count(*) FILTER (WHERE served_outside_aws) AS to_platforms_outside_aws
FROM invocations
WHERE error_code IS NULL
GROUP BY surface, coalesce(served_geography, 'unknown')
ORDER BY surface, invocations DESC, served_geography
