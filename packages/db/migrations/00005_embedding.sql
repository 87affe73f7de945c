-- +goose Up
-- Embedding Rookery in another product (README "Embedding"): bot users,
-- identities from an external identity provider, server API keys and
-- outgoing webhooks.
ALTER TABLE users ADD COLUMN bot boolean NOT NULL DEFAULT false;

-- A user who signs in with a JWT of the embedding product: the token's
-- issuer and subject name the Rookery user made on first sight.
CREATE TABLE external_identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);

-- Keys of the server API (/api/v1/server): only their SHA-256 is kept.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- Outgoing webhooks: every event of the room is POSTed to url, signed with
-- secret (kept in clear: the dispatcher signs with it). delivered_seq is
-- the newest seq delivered, the dispatcher's cursor (0: none yet).
CREATE TABLE webhooks (
    id            uuid PRIMARY KEY,
    room_id       uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    url           text NOT NULL,
    secret        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_seq bigint NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_room ON webhooks (room_id);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE api_keys;
DROP TABLE external_identities;
ALTER TABLE users DROP COLUMN bot;
