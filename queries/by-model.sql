-- Successful invocations by foundation model, with how many ran outside the source Region and how many the logs cannot place (calls through application profiles no event or --profiles resolves: one row)
WITH keyed AS (
    SELECT
        model IS NULL AND profile_scope = 'application' AS unresolved,
        CASE WHEN model IS NULL AND profile_scope = 'application' THEN NULL ELSE coalesce(model, model_id) END AS model_key,
        model_id,
        served_region,
        aws_region
    FROM invocations
    WHERE error_code IS NULL
),
grouped AS (
    SELECT
        unresolved,
        model_key,
        count(*) AS invocations,
        count(DISTINCT model_id) AS profiles,
        count(*) FILTER (WHERE served_region <> aws_region) AS served_outside_source_region,
        count(*) FILTER (WHERE served_region IS NULL) AS served_region_unknown,
        count(DISTINCT served_region) AS served_regions
    FROM keyed
    GROUP BY unresolved, model_key
)
SELECT
    CASE WHEN unresolved
        THEN 'application profiles not resolved (' || CAST(profiles AS VARCHAR) || ' profiles)'
        ELSE model_key END AS model,
    invocations,
    served_outside_source_region,
    served_region_unknown,
    served_regions
FROM grouped
ORDER BY invocations DESC, model
