-- Successful Bedrock invocations by the Region that served them, with share of the total
SELECT
    served_region,
    served_geography,
    count(*) AS invocations,
    round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM invocations
WHERE error_code IS NULL
GROUP BY served_region, served_geography
ORDER BY invocations DESC, served_region
