-- name: ExternalUser :one
SELECT u.id, u.username, u.bot
FROM external_identities e JOIN users u ON u.id = e.user_id
WHERE e.issuer = $1 AND e.subject = $2;

-- name: CreateExternalIdentity :exec
INSERT INTO external_identities (issuer, subject, user_id) VALUES ($1, $2, $3);
