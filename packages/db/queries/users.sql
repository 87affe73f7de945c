-- name: CreateUser :one
INSERT INTO users (id, username, password_hash, bot)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: GetUserByUsername :one
SELECT * FROM users WHERE username = $1;

-- name: GetUserByID :one
SELECT * FROM users WHERE id = $1;

-- name: SearchUsers :many
-- pattern is a LIKE pattern whose user part is already escaped with '\'.
SELECT id, username, bot FROM users
WHERE username LIKE sqlc.arg(pattern)::text
ORDER BY username
LIMIT sqlc.arg(max_rows);

-- name: ExistingUsers :many
-- Which of these users exist: the persister's reference check, once per batch.
SELECT id FROM users WHERE id = ANY(sqlc.arg(ids)::uuid[]);

-- name: UsersByID :many
SELECT id, username, bot FROM users WHERE id = ANY(sqlc.arg(ids)::uuid[]);
