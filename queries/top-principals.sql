-- The 20 principals with the most invocations, with failures and calls served outside the source Region
SELECT
    principal_arn,
    account_id,
    user_type,
    count(*) AS invocations,
    count(*) FILTER (WHERE error_code IS NOT NULL) AS failed,
    count(*) FILTER (WHERE error_code IS NULL AND served_region <> aws_region) AS served_outside_source_region
FROM invocations
GROUP BY principal_arn, account_id, user_type
ORDER BY invocations DESC, principal_arn
LIMIT 20
