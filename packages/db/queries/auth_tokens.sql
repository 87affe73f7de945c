-- name: CreateToken :exec
INSERT INTO auth_tokens (token_hash, user_id, expires_at)
VALUES ($1, $2, $3);

-- name: GetTokenUser :one
SELECT u.id, u.username, u.bot
FROM auth_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.expires_at > now();

-- name: DeleteToken :exec
DELETE FROM auth_tokens WHERE token_hash = $1;

-- name: DeleteExpiredTokens :execrows
DELETE FROM auth_tokens WHERE expires_at <= now();
