-- +goose Up
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username = lower(username)),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Prefix search (LIKE 'abc%') on usernames.
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);

CREATE TABLE auth_tokens (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE rooms (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    visibility       text NOT NULL CHECK (visibility IN ('public', 'private', 'direct')),
    -- For direct rooms only: the two user ids, sorted and joined, so that a
    -- pair can never have two direct rooms.
    direct_key       text UNIQUE,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- Highest seq the persister has stored, and when.
    last_seq         bigint NOT NULL DEFAULT 0,
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    -- Bumped each time the room's Redis seq counter is (re)initialised; the
    -- high bits of every seq, so seqs are never reused after Redis loses data.
    seq_epoch        bigint NOT NULL DEFAULT 0,
    CHECK ((visibility = 'direct') = (direct_key IS NOT NULL))
);
CREATE INDEX rooms_public ON rooms (lower(name) text_pattern_ops) WHERE visibility = 'public';

CREATE TABLE room_members (
    room_id       uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    last_read_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE messages (
    id         uuid PRIMARY KEY,
    room_id    uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    sender_id  uuid NOT NULL REFERENCES users (id),
    body       text NOT NULL,
    ref        text NOT NULL,
    created_at timestamptz NOT NULL,
    -- Also the keyset-pagination index: WHERE room_id = $1 AND seq < $2 ORDER BY seq.
    CONSTRAINT messages_room_seq UNIQUE (room_id, seq)
);

-- +goose Down
DROP TABLE messages;
DROP TABLE room_members;
DROP TABLE rooms;
DROP TABLE auth_tokens;
DROP TABLE users;
