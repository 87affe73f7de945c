package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Search finds up to limit messages of user's rooms (or of roomID, when
// not "") whose current body matches the words of query, best match
// first, then newest. A room the user is not a member of yields nothing,
// like one that does not exist.
func (s *Store) Search(ctx context.Context, user protocol.User, roomID, query string, limit int) ([]history.Stored, error) {
	p := db.SearchMessagesParams{UserID: mustUser(user), Query: query, MaxRows: int32(limit)}
	if roomID != "" {
		id, err := ParseID("room", roomID)
		if err != nil {
			return nil, err
		}
		p.RoomID = pgtype.UUID{Bytes: id, Valid: true}
	}
	rows, err := s.q.SearchMessages(ctx, p)
	if err != nil {
		return nil, translate("search", err)
	}
	out := make([]history.Stored, 0, len(rows))
	for _, r := range rows {
		out = append(out, stateOf(r.RoomID.String(), db.ListMessagesBeforeRow{ID: r.ID, Seq: r.Seq,
			SenderID: r.SenderID, SenderUsername: r.SenderUsername, SenderBot: r.SenderBot, Body: r.Body, Ref: r.Ref, CreatedAt: r.CreatedAt,
			ReplyTo: r.ReplyTo, Mentions: r.Mentions, EditedAt: r.EditedAt, EditSeq: r.EditSeq, Deleted: r.Deleted}))
	}
	return out, nil
}

// MembersNamed returns which of these (lower-case) usernames are members
// of the room: the users a message mentions.
func (s *Store) MembersNamed(ctx context.Context, roomID string, usernames []string) ([]protocol.User, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.MembersByUsername(ctx, db.MembersByUsernameParams{RoomID: id, Usernames: usernames})
	if err != nil {
		return nil, translate("members by name", err)
	}
	out := make([]protocol.User, len(rows))
	for i, r := range rows {
		out[i] = protocol.User{ID: r.ID.String(), Username: r.Username, Bot: r.Bot}
	}
	return out, nil
}
