package bus

import (
	"context"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Broker is the cluster's shared real-time state: everything the chat
// servers coordinate through besides the durable log (Kafka) and the
// database. Redis implements it for production (Redis); Memory implements
// it in-process for fast tests of the real-time core. Both pass the same
// conformance suite (package bustest), which is the executable form of
// the contract below.
//
// The contract, per room:
//   - Sends.Begin allocates seqs strictly increasing within an epoch; a
//     seq is never handed out twice, even when the broker loses or rolls
//     back its data (a new epoch starts, from the Seeder).
//   - Sends.Commit makes a Kafka-accepted message visible: it is added to
//     the recent cache and published on the room's channel in one step,
//     so a subscriber that misses it live finds it in Cache. A seq whose
//     epoch ended (Fence) is refused with ErrFenced.
//   - Room channels are at most once and may reorder or lose frames (a
//     broken pub/sub connection); Handler.OnSubscribed after a reconnect
//     tells the subscriber to repair from Cache.
//   - Presence claims expire unless renewed; Sweep reports each user whose
//     every claim expired exactly once, cluster-wide.
type Broker interface {
	Sends
	Cache
	PubSub
	Presence
	Windows
	// Ping checks that the broker answers.
	Ping(ctx context.Context) error
}

// Sends are the steps of the durable send path kept in the broker: the
// deduplication record of each (room, user, ref), the room's seq counter
// and its epochs, the leases of in-flight seqs, and the commit.
type Sends interface {
	// Begin starts a send (see Redis.Begin): RefNew with the message and
	// its new seq when the caller now owns the ref, else the record.
	Begin(ctx context.Context, user string, draft protocol.Event, ttl time.Duration, replace int64, seed Seeder) (RefRecord, error)
	// GetRef reads the record of (room, user, ref); ok is false when none.
	GetRef(ctx context.Context, room, user, ref string) (rec RefRecord, ok bool, err error)
	// SetRef stores the record of (room, user, ref) for ttl.
	SetRef(ctx context.Context, room, user, ref string, rec RefRecord, ttl time.Duration) error
	// Commit caches and publishes a durable message frame and, with done,
	// marks its send record done; ErrFenced when the seq's epoch ended.
	Commit(ctx context.Context, room string, seq int64, at time.Time, frame []byte, done *Done) error
	// Skip tells the room's subscribers that seq will never carry a
	// message (Handler.OnSkip).
	Skip(ctx context.Context, room string, seq int64) error
	// Fence ends epoch e of room and returns the next epoch's first seq
	// (for the fence record); ErrNotFenced when e had ended already.
	Fence(ctx context.Context, room string, e int64, seed Seeder) (int64, error)
	// RenewLease extends the lease of an in-flight seq; false when it has
	// none any more.
	RenewLease(ctx context.Context, room string, seq int64) (bool, error)
	// LeaseAlive reports whether a live send still owns seq.
	LeaseAlive(ctx context.Context, room string, seq int64) (bool, error)
	// Counter is the room's seq counter (0 when missing).
	Counter(ctx context.Context, room string) (int64, error)
}

// Cached is one message frame from the recent cache.
type Cached struct {
	Seq   int64
	Frame []byte
}

// Cache is the recent-message cache of each room, bounded by count and age.
type Cache interface {
	// RecentAfter returns up to limit cached messages with seq > after,
	// oldest first.
	RecentAfter(ctx context.Context, room string, after int64, limit int64) ([]Cached, error)
	// RecentBefore returns up to limit cached messages with seq < before
	// (0: no bound), newest first.
	RecentBefore(ctx context.Context, room string, before int64, limit int64) ([]Cached, error)
	// Tails is RecentAfter for many rooms in one round trip: for rooms[i],
	// up to limit messages after from[i].
	Tails(ctx context.Context, rooms []string, from []int64, limit int64) ([][]Cached, error)
	// Oldest is the lowest cached seq (0 when the cache is empty).
	Oldest(ctx context.Context, room string) (int64, error)
	// Newest is the highest cached seq (0 when the cache is empty).
	Newest(ctx context.Context, room string) (int64, error)
}

// Handler receives what arrives on the channels a Subscription listens to.
// Its methods must not block. They may be called from several goroutines
// (one per Redis Cluster shard), but one room's frames come from one, in
// arrival order.
type Handler interface {
	// OnMessage gets a frame published on the room's channel: a committed
	// message or an ephemeral frame (Publish).
	OnMessage(room string, frame []byte)
	// OnSkip gets a seq of the room that will never carry a message.
	OnSkip(room string, seq int64)
	// OnSubscribed is called when the room's subscription is confirmed:
	// the first time, and again after every reconnect, when anything
	// published meanwhile was lost and must be read back from the cache.
	OnSubscribed(room string)
	// OnControl gets a payload of the cluster-wide control channel.
	OnControl(payload []byte)
}

// Subscription is one server's listening post: the control channel and
// the channels of the rooms its clients watch (never every room).
type Subscription interface {
	// Subscribe starts receiving the room's channel; Handler.OnSubscribed
	// confirms it.
	Subscribe(ctx context.Context, room string) error
	// Unsubscribe stops receiving the room's channel.
	Unsubscribe(ctx context.Context, room string) error
	// Run delivers to the handler until ctx ends or Close.
	Run(ctx context.Context)
	// Close ends Run.
	Close()
}

// PubSub carries frames between the servers.
type PubSub interface {
	// Publish sends an ephemeral frame (typing, read) on the room's channel.
	Publish(ctx context.Context, room string, frame []byte) error
	// PublishControl sends a payload on the cluster-wide control channel.
	PublishControl(ctx context.Context, payload []byte) error
	// Subscribe opens a Subscription delivering to h; start it with Run.
	Subscribe(ctx context.Context, h Handler) Subscription
}

// Presence keeps which users are online: each server claims its users
// for a while and renews the claims; a user is online while any claim is
// unexpired.
type Presence interface {
	// Claim marks user online through server for ttl; true when the user
	// was offline everywhere.
	Claim(ctx context.Context, server, user string, ttl time.Duration) (bool, error)
	// Renew extends server's claims on users, in one round trip.
	Renew(ctx context.Context, server string, users []string, ttl time.Duration) error
	// Release drops server's claim; true when the user is now offline
	// everywhere.
	Release(ctx context.Context, server, user string) (bool, error)
	// Sweep returns up to limit users whose every claim expired, each to
	// one caller only.
	Sweep(ctx context.Context, limit int64) ([]string, error)
	// Online reports which of users are online now.
	Online(ctx context.Context, users []string) (map[string]bool, error)
}

// Windows are fixed-window event counters shared by every server (the
// rate limits of authentication).
type Windows interface {
	// Incr counts one event of key and returns the window's count and the
	// time left in it; the window starts with its first event.
	Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
}

var (
	_ Broker = (*Redis)(nil)
	_ Broker = (*Memory)(nil)
)
