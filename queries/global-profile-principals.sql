-- Accounts and principals calling global. inference profiles, with where those calls ran
SELECT
    account_id,
    principal_arn,
    count(*) AS invocations,
    count(*) FILTER (WHERE error_code IS NULL AND served_geography <> source_geography) AS served_outside_geography,
    count(*) FILTER (WHERE error_code IS NULL AND served_region IS NULL) AS served_region_unknown,
    count(DISTINCT served_region) AS served_regions,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM invocations
WHERE profile_scope = 'global'
GROUP BY account_id, principal_arn
ORDER BY invocations DESC, account_id, principal_arn
