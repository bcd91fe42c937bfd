-- Fuzzy matching (package linkage): Bloom-filter encodings of each
-- variant of a person, and the possible matches awaiting a data steward.
-- Nothing here identifies a minor: a filter is a keyed encoding of a
-- field's q-grams, a review holds similarities and key kinds only.

-- One row per distinct variant (spelling, date, place, residence) a person
-- was submitted with: a new identity is compared with every variant of a
-- candidate. variant is the SHA-256 of the filters, which dedupes
-- identical submissions; a filter is NULL when the field was missing.
-- No unique constraint on (person_id, variant): a merge may bring two
-- persons' identical variants together, and a duplicate only costs one
-- comparison.
CREATE TABLE linkage.encodings (
    id          bigserial PRIMARY KEY,
    person_id   uuid  NOT NULL REFERENCES linkage.persons (id),
    variant     bytea NOT NULL CHECK (octet_length(variant) = 32),
    surname     bytea CHECK (octet_length(surname) = 128),
    given_names bytea CHECK (octet_length(given_names) = 128),
    birth_date  bytea CHECK (octet_length(birth_date) = 128),
    birth_place bytea CHECK (octet_length(birth_place) = 128),
    residence   bytea CHECK (octet_length(residence) = 128)
);
CREATE INDEX encodings_person_idx ON linkage.encodings (person_id, variant);

-- Possible matches: person_a the existing candidate, person_b the
-- tentative new person. evidence is pseudonymous only (per-field
-- similarity, which key kinds agree).
CREATE TABLE linkage.reviews (
    id         bigserial   PRIMARY KEY,
    person_a   uuid        NOT NULL REFERENCES linkage.persons (id),
    person_b   uuid        NOT NULL REFERENCES linkage.persons (id),
    score      real        NOT NULL,
    evidence   jsonb       NOT NULL,
    status     text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'same', 'different')),
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    decided_by text,
    UNIQUE (person_a, person_b)
);

---- create above / drop below ----

DROP TABLE linkage.reviews;
DROP TABLE linkage.encodings;
