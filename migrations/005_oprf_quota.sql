-- Blind mode (POST /v1/oprf/evaluate): how many blinded elements each
-- organisation had evaluated per UTC day, against its daily limit. A count
-- and nothing else: no element, no person.
CREATE TABLE linkage.oprf_usage (
    org        text        NOT NULL,
    day        date        NOT NULL,
    elements   bigint      NOT NULL CHECK (elements >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org, day)
);

---- create above / drop below ----

DROP TABLE linkage.oprf_usage;
