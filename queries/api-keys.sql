-- Calls made with Bedrock API keys (bearer tokens), by key owner and model: long-term keys belong to an IAM user (person_source api-key)
SELECT
    person AS key_owner,
    person_source,
    principal_arn,
    account_id,
    coalesce(model, model_id) AS model,
    count(*) AS calls,
    count(*) FILTER (WHERE error_code IS NOT NULL) AS failed,
    min(event_time) AS first_call,
    max(event_time) AS last_call
FROM events
WHERE auth = 'bearer-token'
GROUP BY person, person_source, principal_arn, account_id, coalesce(model, model_id)
ORDER BY calls DESC, key_owner, model
