// Package devenv starts the chat cluster's backing services on one machine
// for development and tests: PostgreSQL and Redis from the installed server
// binaries, each in a private data directory on its own port, and an embedded
// Kafka-protocol broker (kfake). It never touches a system instance.
//
// The devstack command (cmd/devstack) builds the local cluster on it, and the
// testenv package hands tests fresh databases, Redis namespaces and topics.
package devenv
