-- Successful invocations by inference profile scope (global, geographic, application, in-region)
SELECT
    coalesce(profile_scope, 'in-region') AS profile_scope,
    count(*) AS invocations,
    count(*) FILTER (WHERE served_region <> aws_region) AS served_outside_source_region,
    count(*) FILTER (WHERE served_geography <> source_geography) AS served_outside_geography,
    count(*) FILTER (WHERE served_region IS NULL) AS served_region_unknown,
    count(DISTINCT served_region) AS served_regions
FROM invocations
WHERE error_code IS NULL
GROUP BY coalesce(profile_scope, 'in-region')
ORDER BY invocations DESC, profile_scope
