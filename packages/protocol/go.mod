module github.com/rookery-chat/rookery/packages/protocol

go 1.26.0
