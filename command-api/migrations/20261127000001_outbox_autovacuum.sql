-- The outbox is a queue: every row is inserted, then updated once published, then deleted after
-- its retention. Vacuum it after 1,000 dead rows rather than after a fifth of the table, or the
-- relay's claims step over ever more dead entries of `outbox_claimable` between vacuums.
ALTER TABLE es.outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02
);
