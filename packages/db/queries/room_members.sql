-- name: AddMember :exec
INSERT INTO room_members (room_id, user_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING;

-- name: RemoveMember :execrows
DELETE FROM room_members WHERE room_id = $1 AND user_id = $2;

-- name: GetMembership :one
SELECT last_read_seq FROM room_members WHERE room_id = $1 AND user_id = $2;

-- name: ListRoomMembers :many
SELECT m.room_id, u.id, u.username, u.bot
FROM room_members m JOIN users u ON u.id = m.user_id
WHERE m.room_id = ANY(sqlc.arg(room_ids)::uuid[])
ORDER BY m.room_id, u.username;

-- name: ListUserRooms :many
-- The user's rooms, most recent activity first, with the unread count capped
-- so that a huge backlog costs a bounded scan.
SELECT r.*, m.last_read_seq,
       (SELECT count(*) FROM (
            SELECT 1 FROM messages msg
            WHERE msg.room_id = r.id AND msg.seq > m.last_read_seq AND msg.sender_id <> m.user_id AND NOT msg.fence
              AND msg.kind = 'message'
            LIMIT 1000) unread)::bigint AS unread,
       (SELECT count(*) FROM (
            SELECT 1 FROM mentions mn JOIN messages msg ON msg.id = mn.message_id
            WHERE mn.user_id = m.user_id AND mn.room_id = r.id AND mn.seq > m.last_read_seq AND NOT msg.deleted
            LIMIT 1000) mentioned)::bigint AS mentions
FROM room_members m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = $1
ORDER BY r.last_activity_at DESC, r.id;

-- name: SetLastRead :exec
UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, sqlc.arg(seq)::bigint)
WHERE room_id = sqlc.arg(room_id) AND user_id = sqlc.arg(user_id);

-- name: RoomIDsOfUser :many
SELECT room_id FROM room_members WHERE user_id = $1;

-- name: ListMembersOfRoom :many
SELECT u.id, u.username, u.bot
FROM room_members m JOIN users u ON u.id = m.user_id
WHERE m.room_id = $1
ORDER BY u.username
LIMIT sqlc.arg(max_rows);

-- name: MembersByUsername :many
-- Which of these usernames are members of the room: the mentions of a
-- message being sent.
SELECT u.id, u.username, u.bot
FROM users u JOIN room_members m ON m.user_id = u.id AND m.room_id = sqlc.arg(room_id)
WHERE u.username = ANY(sqlc.arg(usernames)::text[])
ORDER BY u.username;

-- name: GetRoomAccess :one
-- A room's visibility and whether the user is a member, in one round trip:
-- the check of every subscribe and send whose cache misses (a reconnect
-- storm makes one per member).
SELECT r.visibility,
       EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = sqlc.arg(user_id)) AS member
FROM rooms r
WHERE r.id = sqlc.arg(room_id);
