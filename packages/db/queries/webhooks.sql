-- name: CreateWebhook :one
INSERT INTO webhooks (id, room_id, url, secret, delivered_seq) VALUES ($1, $2, $3, $4, $5)
RETURNING id, room_id, url, secret, created_at;

-- name: RoomWebhooks :many
SELECT id, room_id, url, secret, created_at FROM webhooks WHERE room_id = $1 ORDER BY created_at;

-- name: DeleteWebhook :one
DELETE FROM webhooks WHERE id = $1 RETURNING room_id;

-- name: AllWebhooks :many
-- The dispatcher's view: every webhook with its cursor.
SELECT id, room_id, url, secret, delivered_seq, created_at FROM webhooks;

-- name: SetWebhookCursor :exec
UPDATE webhooks SET delivered_seq = GREATEST(delivered_seq, sqlc.arg(seq)::bigint) WHERE id = sqlc.arg(id);
