module github.com/rookery-chat/rookery/packages/client

go 1.26.0

require (
	github.com/gorilla/websocket v1.5.3
	github.com/rookery-chat/rookery/packages/protocol v0.0.0
	github.com/segmentio/encoding v0.5.4
)

require (
	github.com/segmentio/asm v1.2.1 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/rookery-chat/rookery/packages/protocol => ../../packages/protocol
