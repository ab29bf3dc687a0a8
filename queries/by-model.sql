-- Successful invocations by foundation model, with how many ran outside the source Region and how many the logs cannot place
SELECT
    coalesce(model, model_id) AS model,
    count(*) AS invocations,
    count(*) FILTER (WHERE served_region <> aws_region) AS served_outside_source_region,
    count(*) FILTER (WHERE served_region IS NULL) AS served_region_unknown,
    count(DISTINCT served_region) AS served_regions
FROM invocations
WHERE error_code IS NULL
GROUP BY coalesce(model, model_id)
ORDER BY invocations DESC, model
