// Package bus is the chat cluster's messaging layer: Redis (sequence
// numbers, per-room pub/sub fan-out, the recent-message cache, send
// deduplication, presence) and Kafka (the durable message log).
//
// # Broker contract
//
// A message is visible to clients only after Kafka has acknowledged it
// (Producer.Produce returns nil). Only then does the sender call
// Redis.Commit, which atomically adds the message to the room's recent cache
// and publishes it on the room's channel. Subscribers therefore never see a
// message that is not durable, and anything a subscriber misses on the
// at-most-once pub/sub channel can be read back from the cache (Recent) or,
// older, from PostgreSQL.
//
// A seq belongs to an epoch (its high bits). A counter is trusted only in
// the Redis run that seeded it (Redis.Begin checks the run id), each
// in-flight seq has a lease its send renews, and Redis.Fence ends an epoch
// whose seq's owner is gone: Redis.Commit then refuses that epoch's seqs,
// and the persister stores none of them that comes after the epoch's fence
// record (a Fence) in the log. So a seq is acknowledged only if it is
// stored, and stored at most once.
//
// Every Redis key and channel of a room carries the room id in a hash tag
// ({room}), so a Redis Cluster keeps all of a room's keys in one slot and
// sharded pub/sub (SPUBLISH/SSUBSCRIBE) can replace PUBLISH/SUBSCRIBE.
package bus
