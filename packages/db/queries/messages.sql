-- name: PersistMessages :one
-- Stores a batch in one statement, one round trip: the rows (a replayed
-- batch inserts nothing twice) and each room's newest seq and activity time.
-- Events' columns travel as arrays of text ('' for none) and are turned
-- into NULLs here.
WITH ins AS (
    INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at, fence,
                          kind, target_id, emoji, reaction_on, reply_to, mentions)
    SELECT id, room_id, seq, sender_id, body, ref, created_at, fence,
           kind, NULLIF(target_id, '')::uuid, NULLIF(emoji, ''), CASE WHEN kind = 'reaction' THEN reaction_on END,
           NULLIF(reply_to, '')::uuid, NULLIF(mentions, '')::jsonb
    FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id, unnest(sqlc.arg(room_ids)::uuid[]) AS room_id,
                 unnest(sqlc.arg(seqs)::bigint[]) AS seq, unnest(sqlc.arg(sender_ids)::uuid[]) AS sender_id,
                 unnest(sqlc.arg(bodies)::text[]) AS body, unnest(sqlc.arg(refs)::text[]) AS ref,
                 unnest(sqlc.arg(created_ats)::timestamptz[]) AS created_at,
                 unnest(sqlc.arg(fences)::boolean[]) AS fence, unnest(sqlc.arg(kinds)::text[]) AS kind,
                 unnest(sqlc.arg(target_ids)::text[]) AS target_id, unnest(sqlc.arg(emojis)::text[]) AS emoji,
                 unnest(sqlc.arg(reaction_ons)::boolean[]) AS reaction_on,
                 unnest(sqlc.arg(reply_tos)::text[]) AS reply_to,
                 unnest(sqlc.arg(mentions)::text[]) AS mentions) b
    ON CONFLICT DO NOTHING
    RETURNING room_id, seq, created_at
), activity AS (
    UPDATE rooms r
    SET last_seq = GREATEST(r.last_seq, a.max_seq),
        last_activity_at = GREATEST(r.last_activity_at, a.max_at)
    FROM (SELECT room_id, max(seq) AS max_seq, max(created_at) AS max_at FROM ins GROUP BY room_id) a
    WHERE r.id = a.room_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::bigint AS inserted;

-- name: CopyMessages :copyfrom
-- The persister's fast path: the batch in one COPY. It fails as a whole on a
-- duplicate (a batch replayed after a crash), and the caller falls back to
-- PersistMessages.
INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at, fence,
                      kind, target_id, emoji, reaction_on, reply_to, mentions)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);

-- name: InsertMessageRow :execrows
-- The one-row-per-statement baseline the persister is measured against.
INSERT INTO messages (id, room_id, seq, sender_id, body, ref, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING;

-- name: CountMessages :one
SELECT count(*) FROM messages WHERE room_id = $1 AND NOT fence AND kind = 'message';

-- name: ListMessagesBefore :many
-- Messages in their current state, newest first; the caller reverses into
-- ascending order.
SELECT msg.id, msg.seq, msg.sender_id, u.username AS sender_username, u.bot AS sender_bot, msg.body, msg.ref, msg.created_at,
       msg.reply_to, msg.mentions, msg.edited_at, msg.edit_seq, msg.deleted
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq < sqlc.arg(before_seq)::bigint AND NOT msg.fence
  AND msg.kind = 'message'
ORDER BY msg.seq DESC
LIMIT sqlc.arg(max_rows);

-- name: ListMessagesAfter :many
SELECT msg.id, msg.seq, msg.sender_id, u.username AS sender_username, u.bot AS sender_bot, msg.body, msg.ref, msg.created_at,
       msg.reply_to, msg.mentions, msg.edited_at, msg.edit_seq, msg.deleted
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq > sqlc.arg(after_seq)::bigint AND NOT msg.fence
  AND msg.kind = 'message'
ORDER BY msg.seq
LIMIT sqlc.arg(max_rows);

-- name: GetRoomMessage :one
-- One message of a room in its current state: what an edit, deletion or
-- reaction is checked against.
SELECT msg.id, msg.seq, msg.sender_id, u.username AS sender_username, u.bot AS sender_bot, msg.body, msg.ref, msg.created_at,
       msg.reply_to, msg.mentions, msg.edited_at, msg.edit_seq, msg.deleted
FROM messages msg JOIN users u ON u.id = msg.sender_id
WHERE msg.id = sqlc.arg(id) AND msg.room_id = sqlc.arg(room_id) AND NOT msg.fence AND msg.kind = 'message';

-- name: ListLogAfter :many
-- The room's log after a seq, fence rows included (sender and body are then
-- empty): how a room's sequencer closes an epoch, and how a replay reads
-- what the cache no longer holds.
SELECT msg.id, msg.seq, msg.fence, msg.sender_id, coalesce(u.username, '')::text AS sender_username, coalesce(u.bot, false)::boolean AS sender_bot,
       msg.body, msg.ref, msg.created_at, msg.kind, msg.target_id, msg.emoji, msg.reaction_on,
       msg.reply_to, msg.mentions, msg.edited_at, msg.deleted
FROM messages msg LEFT JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq > sqlc.arg(after_seq)::bigint
ORDER BY msg.seq
LIMIT sqlc.arg(max_rows);

-- name: ListLogBefore :many
-- The room's log before a seq, newest first, without fences.
SELECT msg.id, msg.seq, msg.fence, msg.sender_id, coalesce(u.username, '')::text AS sender_username, coalesce(u.bot, false)::boolean AS sender_bot,
       msg.body, msg.ref, msg.created_at, msg.kind, msg.target_id, msg.emoji, msg.reaction_on,
       msg.reply_to, msg.mentions, msg.edited_at, msg.deleted
FROM messages msg LEFT JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = sqlc.arg(room_id) AND msg.seq < sqlc.arg(before_seq)::bigint AND NOT msg.fence
ORDER BY msg.seq DESC
LIMIT sqlc.arg(max_rows);

-- name: ApplyEdits :exec
-- Sets each message's body to its newest edit (one edit per message: the
-- caller keeps the highest seq), unless a newer one is applied already or
-- the message is deleted.
UPDATE messages m
SET body = e.body, edited_at = e.at, edit_seq = e.seq
FROM (SELECT unnest(sqlc.arg(room_ids)::uuid[]) AS room_id, unnest(sqlc.arg(target_ids)::uuid[]) AS target_id,
             unnest(sqlc.arg(seqs)::bigint[]) AS seq, unnest(sqlc.arg(bodies)::text[]) AS body,
             unnest(sqlc.arg(ats)::timestamptz[]) AS at) e
WHERE m.id = e.target_id AND m.room_id = e.room_id AND m.kind = 'message' AND NOT m.deleted
  AND m.edit_seq < e.seq;

-- name: ApplyDeletes :exec
-- A deletion is final, whatever its seq: it wins over any edit.
UPDATE messages m
SET deleted = true, body = ''
FROM (SELECT unnest(sqlc.arg(room_ids)::uuid[]) AS room_id, unnest(sqlc.arg(target_ids)::uuid[]) AS target_id) d
WHERE m.id = d.target_id AND m.room_id = d.room_id AND m.kind = 'message' AND NOT m.deleted;

-- name: SearchMessages :many
-- Full-text search over the messages of the user's rooms (or of one of
-- them: room_id non-NULL), best match first, then newest. The rooms go in
-- as one array, so the word's GIN scan runs once and meets one bitmap of
-- the rooms' rows (a join would repeat the GIN scan per room).
SELECT msg.id, msg.room_id, msg.seq, msg.sender_id, u.username AS sender_username, u.bot AS sender_bot, msg.body, msg.ref,
       msg.created_at, msg.reply_to, msg.mentions, msg.edited_at, msg.edit_seq, msg.deleted
FROM messages msg
JOIN users u ON u.id = msg.sender_id
WHERE msg.room_id = ANY(ARRAY(SELECT rm.room_id FROM room_members rm WHERE rm.user_id = sqlc.arg(user_id)
                                AND (sqlc.narg(room_id)::uuid IS NULL OR rm.room_id = sqlc.narg(room_id)::uuid)))
  AND msg.kind = 'message' AND NOT msg.deleted AND NOT msg.fence
  AND msg.search @@ websearch_to_tsquery('english', sqlc.arg(query)::text)
ORDER BY ts_rank(msg.search, websearch_to_tsquery('english', sqlc.arg(query)::text)) DESC,
         msg.created_at DESC, msg.id
LIMIT sqlc.arg(max_rows);

-- name: GetMessageByID :one
SELECT msg.seq, msg.fence FROM messages msg WHERE msg.id = $1;

-- name: MergeSearchPending :one
-- Moves the search index's pending list (rows inserted since the last merge)
-- into the index proper and returns the pages it emptied. Waits for a merge
-- already under way elsewhere. Needs the index's owner.
SELECT gin_clean_pending_list('messages_search'::regclass)::bigint AS pages;
