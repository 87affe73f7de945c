-- name: InsertMentions :exec
INSERT INTO mentions (user_id, room_id, seq, message_id)
SELECT unnest(sqlc.arg(user_ids)::uuid[]), unnest(sqlc.arg(room_ids)::uuid[]), unnest(sqlc.arg(seqs)::bigint[]),
       unnest(sqlc.arg(message_ids)::uuid[])
ON CONFLICT DO NOTHING;
