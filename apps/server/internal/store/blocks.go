package store

import (
	"context"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Block stops the named user from starting a direct message with me or
// sending in our direct room. Blocking twice is one block.
func (s *Store) Block(ctx context.Context, me protocol.User, username string) (protocol.User, error) {
	other, oid, err := s.UserByName(ctx, username)
	if err != nil {
		return protocol.User{}, err
	}
	mid := mustUser(me)
	if oid == mid {
		return protocol.User{}, protocol.Errorf(protocol.CodeBadRequest, "you cannot block yourself")
	}
	if err := s.q.AddBlock(ctx, db.AddBlockParams{BlockerID: mid, BlockedID: oid}); err != nil {
		return protocol.User{}, translate("block", err)
	}
	return other, nil
}

// Unblock lifts my block of a user; lifting none is no error.
func (s *Store) Unblock(ctx context.Context, me protocol.User, userID string) error {
	oid, err := ParseID("user", userID)
	if err != nil {
		return err
	}
	return translate("unblock", s.q.RemoveBlock(ctx, db.RemoveBlockParams{BlockerID: mustUser(me), BlockedID: oid}))
}

// Blocks reports whether blocker blocks blocked.
func (s *Store) Blocks(ctx context.Context, blockerID, blockedID string) (bool, error) {
	a, err := ParseID("user", blockerID)
	if err != nil {
		return false, err
	}
	b, err := ParseID("user", blockedID)
	if err != nil {
		return false, err
	}
	ok, err := s.q.IsBlocked(ctx, db.IsBlockedParams{BlockerID: a, BlockedID: b})
	return ok, translate("is blocked", err)
}

// Blocked lists the users I block.
func (s *Store) Blocked(ctx context.Context, me protocol.User) ([]protocol.User, error) {
	rows, err := s.q.ListBlocked(ctx, mustUser(me))
	if err != nil {
		return nil, translate("blocked", err)
	}
	out := make([]protocol.User, len(rows))
	for i, r := range rows {
		out[i] = protocol.User{ID: r.ID.String(), Username: r.Username}
	}
	return out, nil
}
