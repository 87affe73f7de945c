-- name: CreateRoom :one
INSERT INTO rooms (id, name, visibility, direct_key, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: CreateDirectRoom :one
-- Creates the pair's direct room unless it exists; either way returns it.
-- The no-op update makes RETURNING yield the existing row under a race.
INSERT INTO rooms (id, name, visibility, direct_key, created_by)
VALUES ($1, $2, 'direct', $3, $4)
ON CONFLICT (direct_key) DO UPDATE SET direct_key = EXCLUDED.direct_key
RETURNING *, (xmax = 0)::boolean AS created;

-- name: GetRoom :one
SELECT * FROM rooms WHERE id = $1;

-- name: SearchPublicRooms :many
SELECT * FROM rooms
WHERE visibility = 'public' AND lower(name) LIKE sqlc.arg(pattern)::text
ORDER BY last_activity_at DESC, id
LIMIT sqlc.arg(max_rows);

-- name: BumpSeqEpoch :one
-- Takes the row lock until the transaction ends: callers hold it while they
-- seed the Redis counter, so seeds happen in epoch order.
UPDATE rooms SET seq_epoch = seq_epoch + 1 WHERE id = $1 RETURNING seq_epoch;

-- name: RoomPositions :many
-- Which of these rooms exist, and the newest seq stored in each: the
-- persister's reference check and epoch fence, once per batch.
SELECT id, last_seq FROM rooms WHERE id = ANY(sqlc.arg(ids)::uuid[]);

-- name: RoomLastSeq :one
SELECT last_seq FROM rooms WHERE id = $1;

-- name: AdvanceRooms :exec
-- Moves each room's newest stored seq and activity time forward, never back.
-- Callers pass the rooms sorted, so concurrent batches lock rows in one order.
UPDATE rooms r
SET last_seq = GREATEST(r.last_seq, a.max_seq),
    last_activity_at = GREATEST(r.last_activity_at, a.max_at)
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id, unnest(sqlc.arg(max_seqs)::bigint[]) AS max_seq,
             unnest(sqlc.arg(max_ats)::timestamptz[]) AS max_at) a
WHERE r.id = a.id;
