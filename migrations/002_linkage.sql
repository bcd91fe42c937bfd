-- Persons, match keys and tokens (package linkage). Nothing here identifies
-- a minor: match keys are keyed PRF digests, persons carry only coarse
-- attributes, tokens are keyed pseudonyms.

CREATE SCHEMA linkage;

-- The PRF backend and key fingerprint this deployment was set up with; a
-- server refuses to start with another, since every link would break.
CREATE TABLE linkage.deployment (
    id          int         PRIMARY KEY CHECK (id = 1),
    backend     text        NOT NULL,
    fingerprint text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE linkage.persons (
    id                uuid        PRIMARY KEY,
    sex               text        NOT NULL CHECK (sex IN ('M', 'F', 'X')),
    birth_year        int         NOT NULL,
    birth_month       int         NOT NULL CHECK (birth_month BETWEEN 1 AND 12),
    citizenship_group text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Strong keys (CF, PROV, NDS): one person per key, so a key resolves.
CREATE TABLE linkage.match_keys (
    kind       text        NOT NULL,
    digest     bytea       NOT NULL CHECK (octet_length(digest) = 32),
    person_id  uuid        NOT NULL REFERENCES linkage.persons (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, digest)
);
CREATE INDEX match_keys_person_idx ON linkage.match_keys (person_id);

-- Weak keys (name swaps, phonetic, date variants…): blocking keys for
-- candidate search. Unlike strong keys, two different persons may share one
-- (two minors with the same phonetic name and birth date), so a weak key is
-- unique per (kind, digest, person), not per (kind, digest).
CREATE TABLE linkage.blocking_keys (
    kind      text  NOT NULL,
    digest    bytea NOT NULL CHECK (octet_length(digest) = 32),
    person_id uuid  NOT NULL REFERENCES linkage.persons (id),
    PRIMARY KEY (kind, digest, person_id)
);
CREATE INDEX blocking_keys_person_idx ON linkage.blocking_keys (person_id);

-- Versions of each domain's token key. The newest version issues tokens;
-- older ones resolve until retired. The key itself is derived from the
-- token master secret of master_version, never stored.
CREATE TABLE linkage.token_keys (
    domain         text        NOT NULL,
    version        int         NOT NULL CHECK (version > 0),
    master_version int         NOT NULL CHECK (master_version > 0),
    retired        boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    retired_at     timestamptz,
    PRIMARY KEY (domain, version)
);

CREATE TABLE linkage.tokens (
    domain      text        NOT NULL,
    token       text        NOT NULL CHECK (length(token) <= 20),
    person_id   uuid        NOT NULL REFERENCES linkage.persons (id),
    key_version int         NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, token),
    FOREIGN KEY (domain, key_version) REFERENCES linkage.token_keys (domain, version)
);
CREATE UNIQUE INDEX tokens_person_idx ON linkage.tokens (person_id, domain, key_version);

---- create above / drop below ----

DROP SCHEMA linkage CASCADE;
