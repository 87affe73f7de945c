package store

import (
	"context"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// The server API acts on rooms without being a member (README
// "Embedding"): these are its versions of the member operations.

// ServerAddMember adds a user to a public or private room.
func (s *Store) ServerAddMember(ctx context.Context, roomID, username string) (protocol.Room, protocol.User, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return protocol.Room{}, protocol.User{}, err
	}
	if protocol.Visibility(r.Visibility) == protocol.Direct {
		return protocol.Room{}, protocol.User{}, protocol.Errorf(protocol.CodeForbidden, "a direct room has exactly its two members")
	}
	return s.addMember(ctx, r, username)
}

// ServerRemoveMember removes a member of a public or private room; the
// owner stays (not even the server API takes a room from its owner).
func (s *Store) ServerRemoveMember(ctx context.Context, roomID, username string) (protocol.User, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return protocol.User{}, err
	}
	if protocol.Visibility(r.Visibility) == protocol.Direct {
		return protocol.User{}, protocol.Errorf(protocol.CodeForbidden, "a direct room has exactly its two members")
	}
	target, tid, err := s.UserByName(ctx, username)
	if err != nil {
		return protocol.User{}, err
	}
	if r.CreatedBy.Valid && r.CreatedBy.Bytes == tid {
		return protocol.User{}, protocol.Errorf(protocol.CodeForbidden, "the room's owner cannot be removed")
	}
	n, err := s.q.RemoveMember(ctx, db.RemoveMemberParams{RoomID: r.ID, UserID: tid})
	if err != nil {
		return protocol.User{}, translate("remove member", err)
	}
	if n == 0 {
		return protocol.User{}, protocol.Errorf(protocol.CodeNotFound, "%q is not a member", username)
	}
	return target, nil
}

// ServerRoom returns a room with LastSeq as PostgreSQL has it (members
// and owner left out); not_found when there is none.
func (s *Store) ServerRoom(ctx context.Context, roomID string) (protocol.Room, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return protocol.Room{}, err
	}
	return roomOf(r), nil
}
