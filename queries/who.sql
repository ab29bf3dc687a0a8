-- Who made the invocations: the top 10 people per served geography and their share of it (a null person is one no field of the record names)
WITH by_person AS (
    SELECT served_geography, person, person_source, count(*) AS invocations
    FROM invocations
    GROUP BY served_geography, person, person_source
),
ranked AS (
    SELECT
        served_geography,
        person,
        person_source,
        invocations,
        row_number() OVER (PARTITION BY served_geography ORDER BY invocations DESC, person, person_source) AS rank,
        sum(invocations) OVER (PARTITION BY served_geography) AS geography_invocations
    FROM by_person
)
SELECT
    served_geography,
    rank,
    person,
    person_source,
    invocations,
    round(100.0 * invocations / geography_invocations, 1) AS share_pct
FROM ranked
WHERE rank <= 10
ORDER BY served_geography NULLS LAST, rank
