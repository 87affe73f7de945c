module github.com/rookery-chat/rookery/packages/bus

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/rookery-chat/rookery/packages/protocol v0.0.0
	github.com/segmentio/kafka-go v0.4.51
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace (
	github.com/rookery-chat/rookery/packages/db => ../db
	github.com/rookery-chat/rookery/packages/devenv => ../devenv
	github.com/rookery-chat/rookery/packages/protocol => ../protocol
)
