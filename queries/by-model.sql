-- Successful invocations by foundation model, with how many ran outside the source Region
SELECT
    coalesce(model, model_id) AS model,
    count(*) AS invocations,
    count(*) FILTER (WHERE served_region <> aws_region) AS served_outside_source_region,
    count(DISTINCT served_region) AS served_regions
FROM invocations
WHERE error_code IS NULL
GROUP BY coalesce(model, model_id)
ORDER BY invocations DESC, model
