-- name: CreateAPIKey :one
INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4)
RETURNING id, name, scopes, created_at;

-- name: APIKeyByHash :one
SELECT id, name, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL;

-- name: ListAPIKeys :many
SELECT id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at;

-- name: RevokeAPIKey :execrows
UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL;
