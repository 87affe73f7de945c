-- name: UpsertReactions :exec
-- Applies a batch's reactions, one row per (message, user, emoji) (the
-- caller folds the batch: the newest event's state and seq, the lowest seq
-- that added it, 0 for none). An event older than the row's changes only
-- first_seq, so replays and events stored out of seq order are harmless.
INSERT INTO reactions (message_id, user_id, emoji, active, seq, first_seq)
SELECT message_id, user_id, emoji, active, seq, NULLIF(first_seq, 0)
FROM (SELECT unnest(sqlc.arg(message_ids)::uuid[]) AS message_id, unnest(sqlc.arg(user_ids)::uuid[]) AS user_id,
             unnest(sqlc.arg(emojis)::text[]) AS emoji, unnest(sqlc.arg(actives)::boolean[]) AS active,
             unnest(sqlc.arg(seqs)::bigint[]) AS seq, unnest(sqlc.arg(first_seqs)::bigint[]) AS first_seq) r
ON CONFLICT (message_id, user_id, emoji) DO UPDATE
SET active = CASE WHEN EXCLUDED.seq > reactions.seq THEN EXCLUDED.active ELSE reactions.active END,
    seq = GREATEST(reactions.seq, EXCLUDED.seq),
    first_seq = LEAST(reactions.first_seq, EXCLUDED.first_seq);

-- name: ListReactions :many
-- Every reaction row of these messages: history folds them, with the
-- events the persister has not stored yet, into each message's tally.
SELECT message_id, user_id, emoji, active, seq, coalesce(first_seq, 0)::bigint AS first_seq
FROM reactions
WHERE message_id = ANY(sqlc.arg(message_ids)::uuid[]);
