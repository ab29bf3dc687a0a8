-- Hours in which one principal called one model more than 50 times, with the first model it ever called and whether this model was new to it that hour (the LLMjacking shape detection rules look for)
WITH calls AS (
    SELECT
        coalesce(principal_arn, person, access_key_id) AS principal,
        account_id,
        coalesce(model, model_id) AS model,
        event_time
    FROM invocations
    WHERE event_time IS NOT NULL
),
first_use AS (
    SELECT principal, account_id, model, min(event_time) AS first_seen
    FROM calls
    GROUP BY principal, account_id, model
),
first_model AS (
    SELECT principal, account_id, first_value(model ORDER BY first_seen, model) AS first_model
    FROM first_use
    GROUP BY principal, account_id
),
hourly AS (
    SELECT principal, account_id, model, date_trunc('hour', event_time) AS hour, count(*) AS calls
    FROM calls
    GROUP BY principal, account_id, model, date_trunc('hour', event_time)
)
SELECT
    h.hour,
    h.principal,
    h.account_id,
    h.model,
    h.calls,
    m.first_model,
    date_trunc('hour', u.first_seen) = h.hour AS new_model
FROM hourly h
JOIN first_use u
    ON (h.principal IS NOT DISTINCT FROM u.principal)
    AND (h.account_id IS NOT DISTINCT FROM u.account_id)
    AND (h.model IS NOT DISTINCT FROM u.model)
JOIN first_model m
    ON (h.principal IS NOT DISTINCT FROM m.principal)
    AND (h.account_id IS NOT DISTINCT FROM m.account_id)
WHERE h.calls > 50
ORDER BY h.calls DESC, h.hour, h.principal, h.model
