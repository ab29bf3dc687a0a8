-- Failed invocations (throttling, access denied, ...) by error code and source Region
SELECT
    error_code,
    aws_region AS source_region,
    count(*) AS invocations,
    min(error_message) AS example_message
FROM invocations
WHERE error_code IS NOT NULL
GROUP BY error_code, aws_region
ORDER BY invocations DESC, error_code, source_region
