-- The access log (package audit). Events form a SHA-256 hash chain; audit.head
-- records the last event so that removing events at the end is detected too.
-- Both tables refuse changes in the database itself, whoever the client is;
-- only the table owner can get round that (by disabling the triggers), and
-- then the hash chain tells.

CREATE SCHEMA audit;

CREATE TABLE audit.events (
    seq         bigint      PRIMARY KEY CHECK (seq > 0),
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    role        text        NOT NULL,
    org         text        NOT NULL,
    action      text        NOT NULL,
    object_type text        NOT NULL,
    object_id   text        NOT NULL,
    person_ref  text        NOT NULL,
    purpose     text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    status      int         NOT NULL,
    request_id  text        NOT NULL,
    prev_hash   bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash        bytea       NOT NULL CHECK (octet_length(hash) = 32)
);

-- List filters on one of these and pages newest first by seq.
CREATE INDEX events_actor_seq_idx  ON audit.events (actor, seq DESC);
CREATE INDEX events_org_seq_idx    ON audit.events (org, seq DESC);
CREATE INDEX events_action_seq_idx ON audit.events (action, seq DESC);
CREATE INDEX events_at_seq_idx     ON audit.events (at, seq DESC);
-- Auditors look up every access to one minor.
CREATE INDEX events_person_seq_idx ON audit.events (person_ref, seq DESC) WHERE person_ref <> '';

-- The one row holding the seq and hash of the last event; Append locks it,
-- which is what serialises concurrent appends.
CREATE TABLE audit.head (
    id   int    PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL CHECK (seq >= 0),
    hash bytea  NOT NULL CHECK (octet_length(hash) = 32)
);

INSERT INTO audit.head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit.reject_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.events is append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.reject_event_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_event_change();

-- The head may only move forward, onto an event that exists with that hash,
-- as Append and AppendBatch move it.
CREATE FUNCTION audit.check_head_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq > OLD.seq
       AND EXISTS (SELECT 1 FROM audit.events e WHERE e.seq = NEW.seq AND e.hash = NEW.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit.head only advances to the last appended event (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER head_advance_only
    BEFORE UPDATE OR DELETE ON audit.head
    FOR EACH ROW EXECUTE FUNCTION audit.check_head_change();

CREATE TRIGGER head_no_truncate
    BEFORE TRUNCATE ON audit.head
    FOR EACH STATEMENT EXECUTE FUNCTION audit.check_head_change();

---- create above / drop below ----

DROP SCHEMA audit CASCADE;
