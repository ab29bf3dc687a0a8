-- Invocations by person, model and served geography (person_source: which field named the person; a null person is unknown)
SELECT
    person,
    person_source,
    coalesce(model, model_id) AS model,
    served_geography,
    count(*) AS invocations,
    count(*) FILTER (WHERE error_code IS NOT NULL) AS failed
FROM invocations
GROUP BY person, person_source, coalesce(model, model_id), served_geography
ORDER BY invocations DESC, person, model, served_geography
