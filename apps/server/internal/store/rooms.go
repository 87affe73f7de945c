package store

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// PublicRoomsMax bounds the discover list.
const PublicRoomsMax = 50

var errNoRoom = protocol.Errorf(protocol.CodeNotFound, "no such room")

var errBlocked = protocol.Errorf(protocol.CodeForbidden, "this user does not accept direct messages from you")

func roomOf(r db.Room) protocol.Room {
	return protocol.Room{ID: r.ID.String(), Name: r.Name, Visibility: protocol.Visibility(r.Visibility), LastSeq: r.LastSeq}
}

func mustUser(u protocol.User) uuid.UUID {
	id, err := uuid.Parse(u.ID)
	if err != nil {
		panic("store: authenticated user with malformed id " + u.ID)
	}
	return id
}

// access loads a room for a user. A room the user may not know of (private
// or direct, not a member) is not_found, exactly like a missing one; a
// public room the user has not joined is forbidden.
func access(ctx context.Context, q *db.Queries, roomID string, user uuid.UUID) (db.Room, bool, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return db.Room{}, false, err
	}
	r, err := q.GetRoom(ctx, id)
	if db.IsNotFound(err) {
		return db.Room{}, false, errNoRoom
	}
	if err != nil {
		return db.Room{}, false, translate("get room", err)
	}
	_, err = q.GetMembership(ctx, db.GetMembershipParams{RoomID: id, UserID: user})
	if db.IsNotFound(err) {
		return r, false, nil
	}
	if err != nil {
		return r, false, translate("get membership", err)
	}
	return r, true, nil
}

func deny(r db.Room) error { return denyIn(r.Visibility) }

// denyIn is the refusal for a non-member of a room of this visibility.
func denyIn(visibility string) error {
	if protocol.Visibility(visibility) == protocol.Public {
		return protocol.Errorf(protocol.CodeForbidden, "not a member of this room")
	}
	return errNoRoom
}

// CheckMember returns nil when user is a member of the room, and the
// contract's forbidden / not_found otherwise.
// It is one query: the check every subscribe and send makes when the
// server's cache of memberships misses.
func (s *Store) CheckMember(ctx context.Context, roomID string, user protocol.User) error {
	id, err := ParseID("room", roomID)
	if err != nil {
		return err
	}
	a, err := s.q.GetRoomAccess(ctx, db.GetRoomAccessParams{RoomID: id, UserID: mustUser(user)})
	if db.IsNotFound(err) {
		return errNoRoom
	}
	if err != nil {
		return translate("room access", err)
	}
	if !a.Member {
		return denyIn(a.Visibility)
	}
	return nil
}

// complete fills Members for direct and private rooms and Owner for the
// others (owners[i] is rooms[i]'s creator), in one query each.
func (s *Store) complete(ctx context.Context, q *db.Queries, rooms []protocol.Room, owners []pgtype.UUID) error {
	var ids, creators []uuid.UUID
	idx := map[uuid.UUID][]int{}
	for i, r := range rooms {
		if r.Visibility != protocol.Direct && owners[i].Valid {
			creators = append(creators, owners[i].Bytes)
		}
		if r.Visibility == protocol.Public {
			continue
		}
		id := uuid.MustParse(r.ID)
		if _, ok := idx[id]; !ok {
			ids = append(ids, id)
		}
		idx[id] = append(idx[id], i)
	}
	if len(creators) > 0 {
		users, err := q.UsersByID(ctx, creators)
		if err != nil {
			return translate("room owners", err)
		}
		byID := make(map[uuid.UUID]protocol.User, len(users))
		for _, u := range users {
			byID[u.ID] = protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}
		}
		for i, r := range rooms {
			if u, ok := byID[owners[i].Bytes]; ok && owners[i].Valid && r.Visibility != protocol.Direct {
				rooms[i].Owner = &u
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.ListRoomMembers(ctx, ids)
	if err != nil {
		return translate("list members", err)
	}
	for _, m := range rows {
		for _, i := range idx[m.RoomID] {
			rooms[i].Members = append(rooms[i].Members, protocol.User{ID: m.ID.String(), Username: m.Username, Bot: m.Bot})
		}
	}
	return nil
}

func (s *Store) view(ctx context.Context, q *db.Queries, r db.Room) (protocol.Room, error) {
	rooms := []protocol.Room{roomOf(r)}
	err := s.complete(ctx, q, rooms, []pgtype.UUID{r.CreatedBy})
	return rooms[0], err
}

// CreateRoom creates a public or private room with its creator as member.
func (s *Store) CreateRoom(ctx context.Context, creator protocol.User, name string, vis protocol.Visibility) (protocol.Room, error) {
	var out protocol.Room
	err := s.tx(ctx, func(q *db.Queries) error {
		uid := mustUser(creator)
		r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: newID(), Name: name, Visibility: string(vis),
			CreatedBy: pgtype.UUID{Bytes: uid, Valid: true}})
		if err != nil {
			return err
		}
		if err := q.AddMember(ctx, db.AddMemberParams{RoomID: r.ID, UserID: uid}); err != nil {
			return err
		}
		out, err = s.view(ctx, q, r)
		return err
	})
	return out, translate("create room", err)
}

// Join makes user a member of a public room. Joining a room one is already
// in is a no-op; private and direct rooms cannot be joined (forbidden, as the
// contract says).
func (s *Store) Join(ctx context.Context, roomID string, user protocol.User) (protocol.Room, error) {
	uid := mustUser(user)
	r, member, err := access(ctx, s.q, roomID, uid)
	if err != nil {
		return protocol.Room{}, err
	}
	if !member {
		if protocol.Visibility(r.Visibility) != protocol.Public {
			return protocol.Room{}, protocol.Errorf(protocol.CodeForbidden, "only public rooms can be joined")
		}
		if err := s.q.AddMember(ctx, db.AddMemberParams{RoomID: r.ID, UserID: uid}); err != nil {
			return protocol.Room{}, translate("join", err)
		}
	}
	return s.view(ctx, s.q, r)
}

// Leave removes user from a room they are a member of. Direct rooms cannot
// be left: the pair's one conversation would otherwise be lost for good.
func (s *Store) Leave(ctx context.Context, roomID string, user protocol.User) error {
	uid := mustUser(user)
	r, member, err := access(ctx, s.q, roomID, uid)
	if err != nil {
		return err
	}
	if !member {
		return deny(r)
	}
	if protocol.Visibility(r.Visibility) == protocol.Direct {
		return protocol.Errorf(protocol.CodeForbidden, "direct rooms cannot be left")
	}
	_, err = s.q.RemoveMember(ctx, db.RemoveMemberParams{RoomID: r.ID, UserID: uid})
	return translate("leave", err)
}

// AddMember lets a member of a private room add another user to it.
func (s *Store) AddMember(ctx context.Context, roomID string, actor protocol.User, username string) (protocol.Room, protocol.User, error) {
	r, member, err := access(ctx, s.q, roomID, mustUser(actor))
	if err != nil {
		return protocol.Room{}, protocol.User{}, err
	}
	if !member {
		return protocol.Room{}, protocol.User{}, deny(r)
	}
	if protocol.Visibility(r.Visibility) != protocol.Private {
		return protocol.Room{}, protocol.User{}, protocol.Errorf(protocol.CodeForbidden, "members can be added to private rooms only")
	}
	return s.addMember(ctx, r, username)
}

// addMember adds the named user to r (already checked) and returns the
// room and the user.
func (s *Store) addMember(ctx context.Context, r db.Room, username string) (protocol.Room, protocol.User, error) {
	target, tid, err := s.UserByName(ctx, username)
	if err != nil {
		return protocol.Room{}, protocol.User{}, err
	}
	if err := s.q.AddMember(ctx, db.AddMemberParams{RoomID: r.ID, UserID: tid}); err != nil {
		return protocol.Room{}, protocol.User{}, translate("add member", err)
	}
	room, err := s.view(ctx, s.q, r)
	return room, target, err
}

// DirectRoom returns the one direct room of me and the named user, creating
// it on first use. Concurrent calls from both sides converge on one row via
// the unique direct_key.
func (s *Store) DirectRoom(ctx context.Context, me protocol.User, username string) (protocol.Room, error) {
	other, oid, err := s.UserByName(ctx, username)
	if err != nil {
		return protocol.Room{}, err
	}
	mid := mustUser(me)
	if oid == mid {
		return protocol.Room{}, protocol.Errorf(protocol.CodeBadRequest, "cannot start a direct conversation with yourself")
	}
	blocked, err := s.q.IsBlocked(ctx, db.IsBlockedParams{BlockerID: oid, BlockedID: mid})
	if err != nil {
		return protocol.Room{}, translate("direct room", err)
	}
	if blocked {
		return protocol.Room{}, errBlocked
	}
	a, b := me, other
	if a.ID > b.ID {
		a, b = b, a
	}
	key := a.ID + ":" + b.ID
	var out protocol.Room
	err = s.tx(ctx, func(q *db.Queries) error {
		r, err := q.CreateDirectRoom(ctx, db.CreateDirectRoomParams{ID: newID(), Name: a.Username + ", " + b.Username,
			DirectKey: pgtype.Text{String: key, Valid: true}, CreatedBy: pgtype.UUID{Bytes: mid, Valid: true}})
		if err != nil {
			return err
		}
		if r.Created {
			for _, id := range []uuid.UUID{mid, oid} {
				if err := q.AddMember(ctx, db.AddMemberParams{RoomID: r.ID, UserID: id}); err != nil {
					return err
				}
			}
		}
		out, err = s.view(ctx, q, db.Room{ID: r.ID, Name: r.Name, Visibility: r.Visibility, LastSeq: r.LastSeq})

		return err
	})
	return out, translate("direct room", err)
}

// ListRooms lists user's rooms, most recent activity first, with the user's
// read marker of each.
func (s *Store) ListRooms(ctx context.Context, user protocol.User) ([]protocol.Room, []int64, error) {
	rows, err := s.q.ListUserRooms(ctx, mustUser(user))
	if err != nil {
		return nil, nil, translate("list rooms", err)
	}
	out := make([]protocol.Room, 0, len(rows))
	lastRead := make([]int64, 0, len(rows))
	owners := make([]pgtype.UUID, 0, len(rows))
	for _, r := range rows {
		out = append(out, protocol.Room{ID: r.ID.String(), Name: r.Name, Visibility: protocol.Visibility(r.Visibility),
			LastSeq: r.LastSeq, Unread: r.Unread, Mentions: r.Mentions})
		lastRead = append(lastRead, r.LastReadSeq)
		owners = append(owners, r.CreatedBy)
	}
	return out, lastRead, s.complete(ctx, s.q, out, owners)
}

// PublicRooms lists public rooms whose name contains q, most active first.
func (s *Store) PublicRooms(ctx context.Context, q string) ([]protocol.Room, error) {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(strings.TrimSpace(q))) + "%"
	rows, err := s.q.SearchPublicRooms(ctx, db.SearchPublicRoomsParams{Pattern: pattern, MaxRows: PublicRoomsMax})
	if err != nil {
		return nil, translate("public rooms", err)
	}
	out := make([]protocol.Room, 0, len(rows))
	owners := make([]pgtype.UUID, 0, len(rows))
	for _, r := range rows {
		out = append(out, roomOf(r))
		owners = append(owners, r.CreatedBy)
	}
	return out, s.complete(ctx, s.q, out, owners)
}

// RoomMembers lists up to max members of a room.
func (s *Store) RoomMembers(ctx context.Context, roomID string, max int32) ([]protocol.User, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListMembersOfRoom(ctx, db.ListMembersOfRoomParams{RoomID: id, MaxRows: max})
	if err != nil {
		return nil, translate("room members", err)
	}
	out := make([]protocol.User, 0, len(rows))
	for _, r := range rows {
		out = append(out, protocol.User{ID: r.ID.String(), Username: r.Username, Bot: r.Bot})
	}
	return out, nil
}

// UserRooms lists the ids of the rooms user is a member of.
func (s *Store) UserRooms(ctx context.Context, userID string) ([]string, error) {
	id, err := ParseID("user", userID)
	if err != nil {
		return nil, err
	}
	ids, err := s.q.RoomIDsOfUser(ctx, id)
	if err != nil {
		return nil, translate("user rooms", err)
	}
	out := make([]string, len(ids))
	for i, r := range ids {
		out[i] = r.String()
	}
	return out, nil
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, userID string) (protocol.User, error) {
	id, err := ParseID("user", userID)
	if err != nil {
		return protocol.User{}, err
	}
	u, err := s.q.GetUserByID(ctx, id)
	if db.IsNotFound(err) {
		return protocol.User{}, protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	if err != nil {
		return protocol.User{}, translate("user by id", err)
	}
	return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, nil
}

// RemoveMember lets a room's owner remove another member. The owner cannot
// be removed, direct rooms have no owner, and a user who is not a member
// is not_found. It returns the removed user.
func (s *Store) RemoveMember(ctx context.Context, roomID string, actor protocol.User, userID string) error {
	aid := mustUser(actor)
	r, member, err := access(ctx, s.q, roomID, aid)
	if err != nil {
		return err
	}
	if !member {
		return deny(r)
	}
	if protocol.Visibility(r.Visibility) == protocol.Direct || !r.CreatedBy.Valid || uuid.UUID(r.CreatedBy.Bytes) != aid {
		return protocol.Errorf(protocol.CodeForbidden, "only the room's owner can remove members")
	}
	tid, err := ParseID("user", userID)
	if err != nil {
		return protocol.Errorf(protocol.CodeNotFound, "no such member")
	}
	if tid == aid {
		return protocol.Errorf(protocol.CodeForbidden, "the room's owner cannot be removed")
	}
	n, err := s.q.RemoveMember(ctx, db.RemoveMemberParams{RoomID: r.ID, UserID: tid})
	if err != nil {
		return translate("remove member", err)
	}
	if n == 0 {
		return protocol.Errorf(protocol.CodeNotFound, "no such member")
	}
	return nil
}

// room loads a room by id.
func (s *Store) room(ctx context.Context, roomID string) (db.Room, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return db.Room{}, err
	}
	r, err := s.q.GetRoom(ctx, id)
	if db.IsNotFound(err) {
		return db.Room{}, errNoRoom
	}
	return r, translate("get room", err)
}

// RoomOwner returns the id of the room's owner ("" for direct rooms).
func (s *Store) RoomOwner(ctx context.Context, roomID string) (string, error) {
	r, err := s.room(ctx, roomID)
	if err != nil || protocol.Visibility(r.Visibility) == protocol.Direct || !r.CreatedBy.Valid {
		return "", err
	}
	return uuid.UUID(r.CreatedBy.Bytes).String(), nil
}

// DirectPeer returns the other member of a direct room ("" when the room
// is not direct).
func (s *Store) DirectPeer(ctx context.Context, roomID string, me protocol.User) (string, error) {
	r, err := s.room(ctx, roomID)
	if err != nil || protocol.Visibility(r.Visibility) != protocol.Direct {
		return "", err
	}
	a, b, _ := strings.Cut(r.DirectKey.String, ":")
	if a == me.ID {
		return b, nil
	}
	return a, nil
}
