-- Successful invocations proven (by inferenceRegion) to be served outside the caller's geography, by account, principal, route and model
SELECT
    account_id,
    principal_arn,
    aws_region AS source_region,
    source_geography,
    served_region,
    served_geography,
    model_id,
    count(*) AS invocations,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM invocations
WHERE error_code IS NULL
  AND served_geography <> source_geography
GROUP BY account_id, principal_arn, aws_region, source_geography, served_region, served_geography, model_id
ORDER BY invocations DESC, account_id, principal_arn, source_region, served_region, model_id
