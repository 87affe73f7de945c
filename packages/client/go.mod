module github.com/rookery-chat/rookery/packages/client

go 1.26.0

require (
	github.com/gorilla/websocket v1.5.3
	github.com/rookery-chat/rookery/packages/protocol v0.0.0
)

replace github.com/rookery-chat/rookery/packages/protocol => ../../packages/protocol
