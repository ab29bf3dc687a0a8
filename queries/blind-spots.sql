-- Inference surfaces the trail may not record in full (not recorded, partly recorded, unknown), per trail and period: calls on them may be missing from the archive
SELECT
    surface,
    event_names,
    status,
    trail,
    period_start,
    period_end,
    reason,
    basis
FROM trail_coverage
WHERE status <> 'recorded'
ORDER BY surface, trail, period_start, event_names
