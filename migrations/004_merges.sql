-- Merges of persons (package linkage). A merge moves nothing: it points the
-- absorbed person at the survivor (merged_into), and every lookup follows
-- the pointers to the root. Undoing it clears the pointer, so every person,
-- token and match key is exactly as before; the merges table keeps the
-- history, undone merges included.

ALTER TABLE linkage.persons ADD COLUMN merged_into uuid NULL REFERENCES linkage.persons (id),
    ADD CONSTRAINT persons_not_merged_into_self CHECK (merged_into <> id);

-- Upward (absorbed → survivor) lookups touch only merged persons: a tiny
-- index, so following merges costs resolution next to nothing.
CREATE INDEX persons_absorbed_idx ON linkage.persons (id) INCLUDE (merged_into) WHERE merged_into IS NOT NULL;
-- Downward (survivor → the persons it absorbed), for a merged person's keys
-- and tokens.
CREATE INDEX persons_merged_into_idx ON linkage.persons (merged_into) WHERE merged_into IS NOT NULL;

-- current_person follows merged_into to the root: the person p now is.
-- Merges only ever absorb a root into another root, so there is no cycle;
-- the bound is a guard, not a limit in practice.
CREATE FUNCTION linkage.current_person(p uuid) RETURNS uuid
LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    next uuid;
BEGIN
    FOR i IN 1..1000 LOOP
        SELECT merged_into INTO next FROM linkage.persons WHERE id = p;
        IF next IS NULL THEN
            RETURN p;
        END IF;
        p := next;
    END LOOP;
    RAISE EXCEPTION 'linkage.current_person: merge chain longer than 1000';
END $$;

CREATE TABLE linkage.merges (
    id         bigserial   PRIMARY KEY,
    survivor   uuid        NOT NULL REFERENCES linkage.persons (id),
    absorbed   uuid        NOT NULL REFERENCES linkage.persons (id),
    review_id  bigint      NULL REFERENCES linkage.reviews (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    undone_at  timestamptz,
    undone_by  text,
    CHECK (survivor <> absorbed),
    CHECK ((undone_at IS NULL) = (undone_by IS NULL))
);
-- A person is absorbed by at most one merge in force.
CREATE UNIQUE INDEX merges_absorbed_active_idx ON linkage.merges (absorbed) WHERE undone_at IS NULL;
CREATE INDEX merges_survivor_idx ON linkage.merges (survivor);

---- create above / drop below ----

DROP TABLE linkage.merges;
DROP FUNCTION linkage.current_person(uuid);
ALTER TABLE linkage.persons DROP COLUMN merged_into;
