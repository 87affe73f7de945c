-- name: InsertMessages :execrows
-- One round trip per batch; a replayed batch inserts nothing twice.
INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at)
SELECT unnest(sqlc.arg(ids)::uuid[]), unnest(sqlc.arg(room_ids)::uuid[]),
       unnest(sqlc.arg(seqs)::bigint[]), unnest(sqlc.arg(sender_ids)::uuid[]),
       unnest(sqlc.arg(bodies)::text[]), unnest(sqlc.arg(refs)::text[]),
       unnest(sqlc.arg(created_ats)::timestamptz[])
ON CONFLICT DO NOTHING;

-- name: ListMessagesBefore :many
-- Newest first; the caller reverses into ascending order.
SELECT msg.id, msg.room_id, msg.seq, msg.sender_id, u.username AS sender_username,
       msg.body, msg.ref, msg.created_at
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq < sqlc.arg(before_seq)::bigint
ORDER BY msg.seq DESC
LIMIT sqlc.arg(max_rows);

-- name: ListMessagesAfter :many
SELECT msg.id, msg.room_id, msg.seq, msg.sender_id, u.username AS sender_username,
       msg.body, msg.ref, msg.created_at
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq > sqlc.arg(after_seq)::bigint
ORDER BY msg.seq
LIMIT sqlc.arg(max_rows);
