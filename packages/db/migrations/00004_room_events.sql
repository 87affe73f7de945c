-- +goose Up
-- Version 1.1 of the contract: a room's log numbers every event, not only
-- messages. Edits, deletions and reactions are rows of the log too (kind),
-- with their own seq, so that the epoch and fence rules of messages hold
-- for them unchanged. The persister applies each to its message's row
-- (body, edited_at, deleted) and to reactions, guarded by seq so that a
-- replayed batch, or events stored out of seq order, change nothing twice.
ALTER TABLE messages
    ADD COLUMN kind text NOT NULL DEFAULT 'message'
        CHECK (kind IN ('message', 'edit', 'delete', 'reaction')),
    -- Events: the message they are about; reactions: the emoji and whether
    -- it was added or removed.
    ADD COLUMN target_id uuid,
    ADD COLUMN emoji text,
    ADD COLUMN reaction_on boolean,
    -- Messages: what they answer, and who they mention ([User] as sent).
    ADD COLUMN reply_to uuid,
    ADD COLUMN mentions jsonb,
    -- Messages: their current state. edit_seq is the seq of the edit that
    -- set body, so an older edit never overwrites a newer one.
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN edit_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN deleted boolean NOT NULL DEFAULT false;

-- Full-text search over messages' current bodies: re-computed by every
-- edit, empty once deleted.
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (CASE WHEN kind = 'message' AND NOT fence THEN to_tsvector('english', body) END) STORED;
CREATE INDEX messages_search ON messages USING gin (search) WHERE kind = 'message';

-- One row per (message, user, emoji) ever reacted: whether the reaction
-- stands now (as of its newest event, seq), and the seq of its first
-- addition (the order of a message's reactions is that of first use).
CREATE TABLE reactions (
    message_id uuid   NOT NULL,
    user_id    uuid   NOT NULL,
    emoji      text   NOT NULL,
    active     boolean NOT NULL,
    seq        bigint NOT NULL,
    first_seq  bigint,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Who each message mentions, for the rooms list's unread-mention counts.
CREATE TABLE mentions (
    user_id    uuid   NOT NULL,
    room_id    uuid   NOT NULL,
    seq        bigint NOT NULL,
    message_id uuid   NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);

-- blocker no longer receives direct messages from blocked.
CREATE TABLE blocks (
    blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id)
);

-- +goose Down
DROP TABLE blocks;
DROP TABLE mentions;
DROP TABLE reactions;
DROP INDEX messages_search;
ALTER TABLE messages
    DROP COLUMN search,
    DROP COLUMN kind, DROP COLUMN target_id, DROP COLUMN emoji, DROP COLUMN reaction_on,
    DROP COLUMN reply_to, DROP COLUMN mentions, DROP COLUMN edited_at, DROP COLUMN edit_seq,
    DROP COLUMN deleted;
