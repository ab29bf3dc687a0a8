-- Successful invocations by inference surface (runtime, mantle, knowledge-base, claude-platform, ...) and served geography (unknown: not in the logs; claude-platform may run outside AWS)
SELECT
    surface,
    coalesce(served_geography, 'unknown') AS served_geography,
    count(*) AS invocations
FROM invocations
WHERE error_code IS NULL
GROUP BY surface, coalesce(served_geography, 'unknown')
ORDER BY surface, invocations DESC, served_geography
