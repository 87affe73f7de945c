-- +goose Up
-- A fence row closes a seq epoch of a room: it records, in the room's log,
-- that every seq of older epochs not stored before it will never be stored
-- (see the README's send path). It is not a message: history and unread
-- counts leave it out, and it has no sender.
ALTER TABLE messages ADD COLUMN fence boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE messages DROP COLUMN fence;
