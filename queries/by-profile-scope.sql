-- Successful invocations by inference profile scope (global, geographic, application, in-region)
SELECT
    CASE WHEN surface IN ('runtime', 'bidirectional-stream', 'async', 'batch', 'mantle')
        THEN coalesce(profile_scope, 'in-region')
        ELSE 'not routed by model id' END AS profile_scope,
    count(*) AS invocations,
    count(*) FILTER (WHERE served_region <> aws_region) AS served_outside_source_region,
    count(*) FILTER (WHERE served_geography <> source_geography) AS served_outside_geography,
    count(*) FILTER (WHERE served_region IS NULL) AS served_region_unknown,
    count(DISTINCT served_region) AS served_regions
FROM invocations
WHERE error_code IS NULL
GROUP BY 1
ORDER BY invocations DESC, profile_scope
