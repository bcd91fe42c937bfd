-- The merges and their undos, in the order they were made: a durable feed
-- for the packages keyed by person (activity) on every API node, read by
-- sequence number (linkage.Service.MergeEventsAfter). Merges and undos are
-- serialised by an advisory lock held to commit, so sequence order is
-- commit order and a reader polling "after seq N" never skips an event.
-- (Migration 006 is the registry, 008 the activity schema.)
CREATE TABLE linkage.merge_events (
    seq      bigserial   PRIMARY KEY,
    kind     text        NOT NULL CHECK (kind IN ('merge', 'undo')),
    merge_id bigint      NOT NULL REFERENCES linkage.merges (id),
    survivor uuid        NOT NULL REFERENCES linkage.persons (id),
    absorbed uuid        NOT NULL REFERENCES linkage.persons (id),
    at       timestamptz NOT NULL DEFAULT now()
);

INSERT INTO linkage.merge_events (kind, merge_id, survivor, absorbed, at)
SELECT kind, id, survivor, absorbed, at FROM (
    SELECT 'merge' AS kind, id, survivor, absorbed, created_at AS at FROM linkage.merges
    UNION ALL
    SELECT 'undo', id, survivor, absorbed, undone_at FROM linkage.merges WHERE undone_at IS NOT NULL
) e ORDER BY at, id, kind;

---- create above / drop below ----

DROP TABLE linkage.merge_events;
