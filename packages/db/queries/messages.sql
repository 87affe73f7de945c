-- name: PersistMessages :one
-- Stores a batch in one statement, one round trip: the rows (a replayed
-- batch inserts nothing twice) and each room's newest seq and activity time.
WITH ins AS (
    INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at, fence)
    SELECT unnest(sqlc.arg(ids)::uuid[]), unnest(sqlc.arg(room_ids)::uuid[]),
           unnest(sqlc.arg(seqs)::bigint[]), unnest(sqlc.arg(sender_ids)::uuid[]),
           unnest(sqlc.arg(bodies)::text[]), unnest(sqlc.arg(refs)::text[]),
           unnest(sqlc.arg(created_ats)::timestamptz[]), unnest(sqlc.arg(fences)::boolean[])
    ON CONFLICT DO NOTHING
    RETURNING room_id, seq, created_at
), activity AS (
    UPDATE rooms r
    SET last_seq = GREATEST(r.last_seq, a.max_seq),
        last_activity_at = GREATEST(r.last_activity_at, a.max_at)
    FROM (SELECT room_id, max(seq) AS max_seq, max(created_at) AS max_at FROM ins GROUP BY room_id) a
    WHERE r.id = a.room_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::bigint AS inserted;

-- name: CopyMessages :copyfrom
-- The persister's fast path: the batch in one COPY. It fails as a whole on a
-- duplicate (a batch replayed after a crash), and the caller falls back to
-- PersistMessages.
INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at, fence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: InsertMessageRow :execrows
-- The one-row-per-statement baseline the persister is measured against.
INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING;

-- name: CountMessages :one
SELECT count(*) FROM messages WHERE room_id = $1 AND NOT fence;

-- name: ListMessagesBefore :many
-- Newest first; the caller reverses into ascending order.
SELECT msg.id, msg.room_id, msg.seq, msg.sender_id, u.username AS sender_username,
       msg.body, msg.ref, msg.created_at
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq < sqlc.arg(before_seq)::bigint AND NOT msg.fence
ORDER BY msg.seq DESC
LIMIT sqlc.arg(max_rows);

-- name: ListMessagesAfter :many
SELECT msg.id, msg.room_id, msg.seq, msg.sender_id, u.username AS sender_username,
       msg.body, msg.ref, msg.created_at
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq > sqlc.arg(after_seq)::bigint AND NOT msg.fence
ORDER BY msg.seq
LIMIT sqlc.arg(max_rows);

-- name: ListLogAfter :many
-- The room's log after a seq, fence rows included (sender and body are then
-- empty): how a room's sequencer closes an epoch.
SELECT msg.id, msg.seq, msg.fence, msg.sender_id, coalesce(u.username, '')::text AS sender_username,
       msg.body, msg.ref, msg.created_at
FROM messages msg LEFT JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq > sqlc.arg(after_seq)::bigint
ORDER BY msg.seq
LIMIT sqlc.arg(max_rows);

-- name: GetMessageByID :one
SELECT msg.seq, msg.fence FROM messages msg WHERE msg.id = $1;
