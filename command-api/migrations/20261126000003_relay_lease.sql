-- The relay leader's lease (see the relay's `lease` module): one row, renewed by the leader on its
-- advisory lock's connection. A new leader waits until `valid_until` (plus a grace) has passed in
-- this database's clock before it publishes; a clean stop sets it to the epoch.
CREATE TABLE es.relay_lease (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    holder      uuid        NOT NULL,
    valid_until timestamptz NOT NULL
);
